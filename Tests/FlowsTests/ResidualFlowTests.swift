import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

/// The largest singular value of a row-major m×n matrix: the square root of the largest
/// eigenvalue of AᵀA by cyclic Jacobi rotations (independent of the power iteration under test).
func largestSingularValue(_ a: [Double], rows m: Int, columns n: Int) -> Double {
    var s = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { for k in 0..<m { s[i * n + j] += a[k * n + i] * a[k * n + j] } } }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in 0..<n where q != p { off += s[p * n + q] * s[p * n + q] } }
        if off < 1e-30 { break }
        for p in 0..<(n - 1) {
            for q in (p + 1)..<n where s[p * n + q] != 0 {
                let theta = (s[q * n + q] - s[p * n + p]) / (2 * s[p * n + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                for k in 0..<n {  // columns p, q
                    let kp = s[k * n + p], kq = s[k * n + q]
                    s[k * n + p] = c * kp - sn * kq
                    s[k * n + q] = sn * kp + c * kq
                }
                for k in 0..<n {  // rows p, q
                    let pk = s[p * n + k], qk = s[q * n + k]
                    s[p * n + k] = c * pk - sn * qk
                    s[q * n + k] = sn * pk + c * qk
                }
            }
        }
    }
    return (0..<n).map { s[$0 * n + $0] }.max()!.squareRoot()
}

@Suite struct ResidualFlowTests {
    /// Random weights that make J_g large and roughly positive semi-definite, so log det(I + J_g)
    /// and the higher series terms are far from zero: W₁ ~ N(0, 1), middle layers 2·I + N(0, 0.3²),
    /// W_L = W₁ᵀ + N(0, 0.3²) (all well above c before normalisation), biases N(0, 0.3²), with a
    /// converged power iteration. Every ActNorm gets random b and logs and is marked initialised.
    func randomise(_ flow: ResidualFlow, seed: UInt64) {
        var k: UInt64 = 0
        func noise(_ shape: [Int], _ scale: Double) -> [Double] {
            k += 1
            return normal(shape, scale: scale, seed: seed &+ 10 * k).doubles
        }
        for block in flow.blocks {
            let first = block.layers[0].weight.value
            let (h, d) = (first.shape[0], first.shape[1])
            let w1 = noise([h, d], 1)
            for (i, layer) in block.layers.enumerated() {
                let shape = layer.weight.shape
                var w: [Double]
                if i == 0 {
                    w = w1
                } else if i == block.layers.count - 1 {
                    w = noise(shape, 0.3)
                    for r in 0..<d { for c in 0..<h { w[r * h + c] += w1[c * d + r] } }
                } else {
                    w = noise(shape, 0.3)
                    for r in 0..<h { w[r * h + r] += 2 }
                }
                layer.weight.assign(Tensor(w, shape: shape))
                layer.bias.assign(Tensor(noise(layer.bias.shape, 0.3), shape: layer.bias.shape))
                layer.convergePowerIteration()
            }
        }
        for (i, a) in flow.actNorms.enumerated() {
            let s = seed &+ 1000 &+ 10 * UInt64(i)
            a.bias.assign(normal(a.bias.shape, scale: 0.3, seed: s))
            a.logScale.assign(normal(a.logScale.shape, scale: 0.2, seed: s &+ 1))
            a.initialized.assign(.ones([1], dtype: a.initialized.value.dtype))
        }
    }

    func flow(features: Int = 8, blocks: Int = 3, layers: Int = 2, lipschitz: Double = 0.9,
              activation: LipschitzActivation = .lipSwish, actNorm: Bool = true, dtype: DType = .float64,
              seed: UInt64) -> ResidualFlow {
        let f = ResidualFlow(config: ResidualFlowConfig(features: features, blocks: blocks, hidden: 16,
                                                        layersPerBlock: layers, lipschitz: lipschitz,
                                                        activation: activation, actNorm: actNorm, seed: seed),
                             dtype: dtype)
        randomise(f, seed: seed &+ 1)
        f.setTraining(false)
        return f
    }

    @Test func configRoundTripsThroughJSON() throws {
        let config = ResidualFlowConfig(features: 6, blocks: 2, hidden: 9, layersPerBlock: 3, lipschitz: 0.8,
                                        powerIterations: 2, activation: .elu, actNorm: false,
                                        trainingEstimator: .russianRoulette(distribution: .poisson(lambda: 2),
                                                                            exactTerms: 1, probes: 3),
                                        evaluationEstimator: .hutchinsonSeries(terms: 12, probes: 4), seed: 4)
        let decoded = try JSONDecoder().decode(ResidualFlowConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
        // Evaluation is exact and deterministic for every D; older configurations keep theirs.
        #expect(ResidualFlowConfig(features: 8).evaluationEstimator == .bruteForce)
        #expect(ResidualFlowConfig(features: 512).evaluationEstimator == .bruteForce)
        let old = try JSONEncoder().encode(ResidualFlowConfig(features: 128, evaluationEstimator: .hutchinsonSeries(terms: 20, probes: 4)))
        #expect(try JSONDecoder().decode(ResidualFlowConfig.self, from: old).evaluationEstimator == .hutchinsonSeries(terms: 20, probes: 4))
    }

    @Test func evaluationLogDetIsExactAndDeterministicAboveSixtyFourDimensions() {
        // D = 80 > 64, where the default used to be a stochastic Hutchinson series.
        let f = flow(features: 80, blocks: 2, seed: 40)
        #expect(f.config.evaluationEstimator == .bruteForce)
        let x = normal([3, 80], scale: 1.5, seed: 41)
        let first = f.forward(x).logDet.doubles
        let second = f.forward(x).logDet.doubles
        #expect(first == second, "evaluation log|det| changes between calls")
        // Without autodiff the LUs run on plain buffers (split over threads): the same values.
        let untracked = withoutGrad { f.forward(x).logDet.doubles }
        expectClose(untracked, first, tolerance: 1e-10, relativeTolerance: 1e-12, "untracked vs tracked")
        #expect(withoutGrad { f.forward(x).logDet.doubles } == untracked)
        // A Float32 copy (the training precision) reads its Float32 Jacobians directly: the same
        // log-determinants to Float32 accuracy.
        let single = ResidualFlow(config: f.config, dtype: .float32)
        for ((_, p), (_, q)) in zip(single.namedParameters(), f.namedParameters()) { p.assign(q.value.cast(to: .float32)) }
        single.setTraining(false)
        expectClose(withoutGrad { single.forward(x.cast(to: .float32)).logDet.doubles }, first, tolerance: 1e-3,
                    relativeTolerance: 1e-4, "Float32 copy")
        // Against the brute-force Jacobian of the whole flow (80 reverse sweeps), sample by sample.
        var rng = SeededGenerator(seed: 42)
        for b in 0..<2 {
            let xb = x.slice(axis: 0, b..<(b + 1)).contiguous()
            let brute = bruteForceLogAbsDet(xb) { f.forward($0, estimator: .exactSeries(terms: 1), using: &rng).z }
            expectClose([first[b]], [brute], tolerance: 1e-9, relativeTolerance: 1e-10, "sample \(b)")
            let actNormPart = f.actNorms.reduce(0) { $0 + $1.logScale.value.doubles.reduce(0, +) }
            #expect(abs(brute - actNormPart) > 0.05, "residual part \(brute - actNormPart)")
        }
    }

    @Test(arguments: [(2, true), (3, false)])
    func parameterCountFormulaMatchesTheModel(layers: Int, actNorm: Bool) {
        let config = ResidualFlowConfig(features: 10, blocks: 3, hidden: 7, layersPerBlock: layers, actNorm: actNorm)
        #expect(ResidualFlow(config: config).parameterCount == config.parameterCount)
        let names = ResidualFlow(config: config).namedParameters().map(\.0)
        #expect(names.contains("block2.residual.linear1.u") && names.contains("block0.residual.linear0.weight"))
        #expect(names.contains("block1.actnorm.logs") == actNorm)
    }

    @Test(arguments: [2, 3])
    func spectralNormOfEveryNormalisedWeightIsAtMostC(layers: Int) {
        let f = flow(layers: layers, seed: 1)
        for block in f.blocks {
            for layer in block.layers {
                let w = layer.weight.value
                let sigmaRaw = largestSingularValue(w.doubles, rows: w.shape[0], columns: w.shape[1])
                #expect(sigmaRaw > 1.5, "the normalisation is active: σ(W) = \(sigmaRaw)")
                let wsn = layer.normalizedWeight(updating: false)
                let sigma = largestSingularValue(wsn.doubles, rows: w.shape[0], columns: w.shape[1])
                #expect(sigma <= 0.9 + 1e-6 && sigma >= 0.9 - 1e-4, "σ(W_sn) = \(sigma), c = 0.9")
                // The power-iteration estimate itself is σ(W) to high accuracy.
                #expect(abs(layer.spectralNormEstimate().item - sigmaRaw) <= 1e-6 * sigmaRaw)
            }
        }
    }

    @Test func trainingForwardPassesTrackAChangedWeight() {
        // A new weight makes the stored u, v stale; one power-iteration step per training forward
        // pass brings σ(W_sn) back to c.
        let f = flow(blocks: 1, actNorm: false, seed: 2)
        let layer = f.blocks[0].layers[0]
        layer.powerIterations = 1
        layer.weight.assign(normal(layer.weight.shape, scale: 3, seed: 99))
        let w = layer.weight.value
        func sigmaOfNormalised() -> Double {
            largestSingularValue(layer.normalizedWeight(updating: false).doubles, rows: w.shape[0], columns: w.shape[1])
        }
        let stale = sigmaOfNormalised()
        f.setTraining(true)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<60 { _ = f.forward(normal([2, 8], seed: 4), estimator: .exactSeries(terms: 2), using: &rng) }
        let tracked = sigmaOfNormalised()
        #expect(abs(tracked - 0.9) < 1e-3, "after 60 training steps σ(W_sn) = \(tracked) (stale: \(stale))")
        #expect(abs(stale - 0.9) > 1e-3, "the stale vectors were off: σ(W_sn) = \(stale)")
    }

    @Test(arguments: [(2, LipschitzActivation.lipSwish), (3, .elu)])
    func invertibleInDouble(layers: Int, activation: LipschitzActivation) throws {
        let f = flow(layers: layers, activation: activation, seed: 5)
        let x = normal([4, 8], scale: 2, seed: 6)
        let z = f.forward(x).z
        #expect(zip(z.doubles, x.doubles).contains { abs($0 - $1) > 0.1 }, "the flow is not the identity")
        expectClose(f.inverse(z), x.doubles, tolerance: 1e-4, "inverse(forward(x)), default tolerance")
        expectClose(try f.inverse(z, maxIterations: 2000, tolerance: 1e-13), x.doubles, tolerance: 1e-10,
                    "inverse(forward(x)), tight tolerance")
    }

    @Test func invertibleInFloat() {
        let f = flow(dtype: .float32, seed: 7)
        let x = normal([4, 8], scale: 2, seed: 8).cast(to: .float32)
        expectClose(f.inverse(f.forward(x).z), x.doubles, tolerance: 1e-4, "inverse(forward(x))")
    }

    @Test func inverseThrowsWhenItCannotConverge() {
        let f = flow(blocks: 2, seed: 9)
        let z = f.forward(normal([2, 8], seed: 10)).z
        #expect(throws: ResidualInversionError.self) { try f.inverse(z, maxIterations: 3) }
    }

    @Test(arguments: [(2, LipschitzActivation.lipSwish), (3, .lipSwish), (2, .elu)])
    func logDetMatchesBruteForceJacobian(layers: Int, activation: LipschitzActivation) {
        let f = flow(blocks: 2, layers: layers, activation: activation, seed: 11)
        let x = normal([1, 8], scale: 1.5, seed: 12)
        var rng = SeededGenerator(seed: 0)
        let brute = bruteForceLogAbsDet(x) { f.forward($0, estimator: .bruteForce, using: &rng).z }
        let lu = f.forward(x, estimator: .bruteForce, using: &rng).logDet.item
        expectClose([lu], [brute], tolerance: 1e-10, relativeTolerance: 1e-10, "bruteForce estimator")
        // The ActNorms' Σ logs alone differs from the total: the residual blocks contribute.
        let actNormPart = f.actNorms.reduce(0) { $0 + $1.logScale.value.doubles.reduce(0, +) }
        #expect(abs(brute - actNormPart) > 0.05, "residual part \(brute - actNormPart)")
        // 40 terms with exact traces: truncation ≤ D·ρ^41/(41(1 − ρ)) with ρ ≤ 0.81 is 1.8e-4; observed far less.
        let series = f.forward(x, estimator: .exactSeries(terms: 40), using: &rng).logDet.item
        expectClose([series], [brute], tolerance: 1e-6, "40-term exact series")
        // Without autodiff the powers run on plain buffers: the same value.
        let untracked = withoutGrad { f.forward(x, estimator: .exactSeries(terms: 40), using: &rng).logDet.item }
        expectClose([untracked], [series], tolerance: 1e-12, "exact series without autodiff")
        // The same series through the probe path (w_k = e_iᵀJ^k with D basis probes) agrees with
        // the explicit-Jacobian powers.
        let block = f.blocks[0]
        let h = f.actNorms[0].forward(x).z
        let g = block.branch(updatingSpectralNorms: false)
        let (_, derivatives) = g.evaluate(h)
        let viaPowers = ResidualLogDet.exactPowerSeries(ResidualLogDet.jacobian(g, derivatives: derivatives, batch: 1,
                                                                                dtype: .float64),
                                                        coefficients: ResidualLogDet.seriesCoefficients(12))
        let viaProbes = ResidualLogDet.powerSeries(g, derivatives: derivatives,
                                                   probes: ResidualLogDet.basisProbes(batch: 1, features: 8, dtype: .float64),
                                                   probeScale: 1, coefficients: ResidualLogDet.seriesCoefficients(12))
        expectClose(viaPowers.doubles, viaProbes.doubles, tolerance: 1e-12, "explicit powers vs basis probes")
        // Two terms are visibly not enough, so the comparison above can fail.
        let short = f.forward(x, estimator: .exactSeries(terms: 2), using: &rng).logDet.item
        #expect(abs(short - brute) > 1e-4, "2-term series \(short) vs \(brute)")
        // The evaluation-mode default is the exact log-determinant by LU.
        #expect(f.forward(x).logDet.item == lu)
    }

    /// Mean of `draws` estimates of one block's log-det at x (a batch of `copies` copies of one
    /// sample, so each call's batch mean is one independent draw), and its standard error.
    func rouletteMean(_ block: ResidualBlock, _ x: Tensor, estimator: ResidualLogDetEstimator, draws: Int,
                      copies: Int, seed: UInt64) -> (mean: Double, standardError: Double) {
        var rng = SeededGenerator(seed: seed)
        let batch = Tensor.concat(Array(repeating: x, count: copies), axis: 0)
        var values: [Double] = []
        withoutGrad {
            for _ in 0..<draws {
                let ld = block.forward(batch, estimator: estimator, using: &rng).logDet.doubles
                values.append(ld.reduce(0, +) / Double(copies))
            }
        }
        let mean = values.reduce(0, +) / Double(draws)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws - 1)
        return (mean, (variance / Double(draws)).squareRoot())
    }

    @Test(arguments: [RouletteDistribution.geometric(p: 0.5), .poisson(lambda: 1)])
    func russianRouletteIsUnbiased(distribution: RouletteDistribution) {
        let exactTerms = 1
        let f = flow(blocks: 1, actNorm: false, seed: 13)
        let block = f.blocks[0]
        let x = normal([1, 8], scale: 1.5, seed: 14)
        var rng = SeededGenerator(seed: 0)
        let exact = block.forward(x, estimator: .bruteForce, using: &rng).logDet.item
        // The series terms a_k = (−1)^{k+1} tr(J^k)/k, from partial sums with exact traces.
        let partial = (0...40).map { n in
            n == 0 ? 0 : block.forward(x, estimator: .exactSeries(terms: n), using: &rng).logDet.item
        }
        let terms = (1...40).map { partial[$0] - partial[$0 - 1] }
        let (mean, se) = rouletteMean(block, x, estimator: .russianRoulette(distribution: distribution,
                                                                              exactTerms: exactTerms, probes: 16),
                                      draws: 600, copies: 8, seed: 15)
        // What two plausible bugs would give in expectation: stopping after the exact terms, and
        // summing the first N terms without the 1/P(N ≥ k) reweighting (Σ_k a_k·P(N ≥ k)).
        let truncated = partial[exactTerms]
        let unweighted = terms.enumerated().reduce(0.0) { sum, term in
            sum + term.element * distribution.survival(term.offset + 1 - exactTerms)
        }
        print("Russian roulette \(distribution): mean \(mean) ± \(se) (SE), exact \(exact), "
              + "truncated \(truncated), unweighted \(unweighted)")
        #expect(abs(mean - exact) < 4 * se, "mean \(mean) ± \(se) vs exact \(exact)")
        #expect(se < 0.02, "standard error \(se)")
        // The test has power against both bugs.
        #expect(abs(truncated - exact) > 6 * se, "truncated \(truncated) vs exact \(exact), SE \(se)")
        #expect(abs(unweighted - exact) > 6 * se, "unweighted \(unweighted) vs exact \(exact), SE \(se)")
    }

    @Test func hutchinsonSeriesWithManyProbesMatchesTheExactSeries() {
        let f = flow(blocks: 1, actNorm: false, seed: 16)
        let block = f.blocks[0]
        let x = normal([1, 8], scale: 1.5, seed: 17)
        var rng = SeededGenerator(seed: 18)
        let exact = block.forward(x, estimator: .exactSeries(terms: 20), using: &rng).logDet.item
        let hutch = block.forward(x, estimator: .hutchinsonSeries(terms: 20, probes: 4000), using: &rng).logDet.item
        #expect(abs(hutch - exact) < 0.05 * max(abs(exact), 0.1) + 0.01, "Hutchinson \(hutch) vs exact \(exact)")
    }

    @Test func seededForwardIsReproducible() {
        let a = flow(seed: 19), b = flow(seed: 19)
        a.setTraining(true)
        b.setTraining(true)
        let x = normal([3, 8], seed: 20)
        #expect(a.forward(x).logDet.doubles == b.forward(x).logDet.doubles)
        // The generator advances: two training passes draw different roulette lengths or probes.
        #expect(a.forward(x).logDet.doubles != a.forward(x).logDet.doubles)
    }

    @Test func trainingEstimatorGradientMatchesFiniteDifferencesInX() {
        let f = flow(blocks: 2, seed: 21)
        let x = normal([2, 8], scale: 1.5, seed: 22)
        let estimator = ResidualLogDetEstimator.russianRoulette(distribution: .geometric(p: 0.5), exactTerms: 2, probes: 2)
        expectGradientsMatchFiniteDifferences(x, tolerance: 1e-5) { x in
            var rng = SeededGenerator(seed: 23)  // the same roulette draw and probes for every evaluation
            let (z, logDet) = f.forward(x, estimator: estimator, using: &rng)
            return Tensor.concat([z, logDet.reshaped([2, 1])], axis: 1)
        }
    }

    @Test(arguments: [2, 3], [ResidualLogDetEstimator.russianRoulette(distribution: .geometric(p: 0.5), exactTerms: 2, probes: 1),
                              .bruteForce, .exactSeries(terms: 6)])
    func estimatorGradientMatchesFiniteDifferencesInTheWeights(layers: Int, estimator: ResidualLogDetEstimator) {
        // g built from raw weights through the spectral normalisation (fixed u, v), so the check
        // covers ∂/∂W of W/max(1, uᵀWv/c), φ'' through φ', and for the training estimator the
        // explicit VJP chain, for the exact ones (the LU, the evaluation default, and the
        // exact-trace series) the explicit Jacobian J_b = W_L·diag(φ')·…·W₁.
        var rng = SeededGenerator(seed: 24)
        let block = ResidualBlock(features: 6, hidden: 5, layers: layers, coefficient: 0.9, dtype: .float64,
                                  using: &rng)
        for (i, layer) in block.layers.enumerated() {
            layer.weight.assign(normal(layer.weight.shape, scale: 1, seed: 25 &+ UInt64(i)))
            layer.convergePowerIteration()
            #expect(layer.spectralNormEstimate().item > 0.9, "normalisation active in layer \(i)")
        }
        let us = block.layers.map(\.leftVector.value), vs = block.layers.map(\.rightVector.value)
        // b_L does not enter J_g, so it is passed as a constant (it would receive no gradient).
        let n = block.layers.count
        let lastBias = block.layers[n - 1].bias.value.detached
        let inputs = [normal([3, 6], scale: 1.5, seed: 26)] + block.layers.map { $0.weight.value.detached }
            + block.layers.dropLast().map { $0.bias.value.detached }
        expectGradientsMatchFiniteDifferences(inputs, tolerance: 1e-5) { t in
            let weights = (0..<n).map { SpectralNormLinear.normalized(t[1 + $0], u: us[$0], v: vs[$0], coefficient: 0.9) }
            let biases = (0..<(n - 1)).map { t[1 + n + $0] } + [lastBias]
            let g = LipschitzMLP(weights: weights, biases: biases, activation: .lipSwish)
            let (_, derivatives) = g.evaluate(t[0])
            var rng = SeededGenerator(seed: 27)
            return ResidualLogDet.estimate(g, derivatives: derivatives, batch: 3, dtype: .float64, estimator: estimator,
                                           using: &rng)
        }
    }

    @Test func jacobianMatchesTheBasisProbeSweep() {
        // J from the left-evaluated product equals the VJP of the D basis probes, row by row.
        let f = flow(features: 6, blocks: 1, layers: 3, actNorm: false, seed: 32)
        let g = f.blocks[0].branch(updatingSpectralNorms: false)
        let (_, derivatives) = g.evaluate(normal([3, 6], seed: 33))
        let j = ResidualLogDet.jacobian(g, derivatives: derivatives, batch: 3, dtype: .float64)
        let probes = g.vectorJacobianProduct(ResidualLogDet.basisProbes(batch: 3, features: 6, dtype: .float64),
                                             derivatives: derivatives)
        #expect(j.shape == [3, 6, 6])
        expectClose(j, probes.doubles, tolerance: 1e-12, "explicit product vs probe sweep")
        let frobenius = j.doubles.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(frobenius > 0.1, "‖J‖_F = \(frobenius)")
    }

    @Test func rouletteDistributionSurvivalMatchesSampling() {
        for distribution in [RouletteDistribution.geometric(p: 0.5), .poisson(lambda: 2)] {
            var rng = SeededGenerator(seed: 28)
            let n = 20_000
            let draws = (0..<n).map { _ in distribution.sample(using: &rng) }
            for j in 0..<6 {
                let empirical = Double(draws.filter { $0 >= j }.count) / Double(n)
                let p = distribution.survival(j)
                // 5 binomial standard errors
                #expect(abs(empirical - p) <= 5 * (p * (1 - p) / Double(n)).squareRoot() + 1e-12,
                        "\(distribution): P(G ≥ \(j)) empirical \(empirical), formula \(p)")
            }
        }
        // reference: Poisson(2): P(G ≥ 2) = 1 − e^{−2}(1 + 2) = 0.59399415
        #expect(abs(RouletteDistribution.poisson(lambda: 2).survival(2) - 0.59399415) < 1e-8)
        #expect(RouletteDistribution.geometric(p: 0.5).survival(3) == 0.125)
    }
}
