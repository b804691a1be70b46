import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct VectorFlowTests {
    /// Replaces a coupling's zero-initialised L₂ by N(0, 0.3²) values so s and t are non-zero.
    func randomise(_ coupling: VectorAffineCoupling, seed: UInt64) {
        coupling.outputLayer.weight.assign(normal(coupling.outputLayer.weight.shape, scale: 0.3, seed: seed))
        coupling.outputLayer.bias!.assign(normal(coupling.outputLayer.bias!.shape, scale: 0.3, seed: seed &+ 1))
    }

    /// Float64 glowLatent(d = 8, blocks = 3, hidden = 16) with randomised couplings and ActNorms
    /// initialised from a N(0.5, 2²) batch, then switched to eval mode.
    func smallGlow() -> SequentialFlow {
        var rng = SeededGenerator(seed: 11)
        let flow = VectorFlows.glowLatent(features: 8, blocks: 3, hidden: 16, dtype: .float64, using: &rng)
        for (k, layer) in flow.layers.enumerated() {
            if let coupling = layer as? VectorAffineCoupling { randomise(coupling, seed: 100 + UInt64(k) * 2) }
        }
        _ = flow.forward(normal([32, 8], scale: 2, seed: 12) + 0.5)  // training mode: ActNorms initialise
        flow.setTraining(false)
        return flow
    }

    // MARK: - Parameter counts

    @Test func glowLatent512HasTheReferenceParameterCount() {
        var rng = SeededGenerator(seed: 1)
        let flow = VectorFlows.glowLatent(features: 512, blocks: 10, hidden: 2048, dtype: .float32, using: &rng)
        // reference: RESULTS.md "(b) glow-latent-512" — 1,024 + 262,144 + 1,575,424 per block, × 10.
        #expect(flow.parameterCount == 18_385_920)
        #expect(flow.layers.count == 30)
        #expect(flow.layers[0].parameterCount == 1_024)
        #expect(flow.layers[1].parameterCount == 262_144)
        #expect(flow.layers[2].parameterCount == 1_575_424)
        // ActNorm's `initialized` flag is a buffer, not counted.
        #expect(flow.namedParameters().count == 10 * (3 + 1 + 4))
    }

    // MARK: - Glow on vectors

    @Test func smallGlowIsInvertibleWithBruteForceLogDet() {
        let flow = smallGlow()
        let actNorms = flow.layers.compactMap { $0 as? ActNorm }
        #expect(actNorms.count == 3 && actNorms.allSatisfy { $0.isInitialized })
        let x = normal([4, 8], scale: 1.5, seed: 13)
        let (_, logDet) = flow.forward(x)
        #expect(logDet.doubles.allSatisfy { $0 != 0 && $0.isFinite })
        expectFlowIsExact(flow, x, "glowLatent(8, 3, 16)")
    }

    @Test func firstTrainingBatchStandardisesTheFirstActNorm() {
        var rng = SeededGenerator(seed: 2)
        let flow = VectorFlows.glowLatent(features: 6, blocks: 2, hidden: 8, dtype: .float64, using: &rng)
        let x = normal([64, 6], scale: 3, seed: 3) + 1
        _ = flow.forward(x)
        let y = flow.layers[0].forward(x).z.doubles
        for j in 0..<6 {
            let column = stride(from: j, to: y.count, by: 6).map { y[$0] }
            let mean = column.reduce(0, +) / 64
            let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 64
            expectClose([mean, variance], [0, 1], tolerance: 1e-5, "feature \(j)")
        }
    }

    @Test func oneBlockLogLikelihoodAtInitMatchesClosedForm() {
        // With identity couplings and an orthogonal W (|det W| = 1, ‖xWᵀ‖ = ‖x‖), one block gives
        // log p(x) = log N((x − μ) / (σ + 1e-6); 0, I) − Σ log(σ + 1e-6), μ, σ from the first batch.
        var rng = SeededGenerator(seed: 4)
        let d = 4, n = 16
        let flow = VectorFlows.glowLatent(features: d, blocks: 1, hidden: 8, dtype: .float64, using: &rng)
        let x = normal([n, d], scale: 2, seed: 5) - 0.7
        let logLikelihood = flow.logLikelihood(of: x)  // training mode: ActNorm initialises on x
        let v = x.doubles
        var mean = [Double](repeating: 0, count: d), std = [Double](repeating: 0, count: d)
        for j in 0..<d {
            let column = stride(from: j, to: v.count, by: d).map { v[$0] }
            mean[j] = column.reduce(0, +) / Double(n)
            std[j] = (column.map { ($0 - mean[j]) * ($0 - mean[j]) }.reduce(0, +) / Double(n)).squareRoot() + 1e-6
        }
        let logScaleSum = std.map { -Foundation.log($0) }.reduce(0, +)
        let expected = (0..<n).map { i in
            let sq = (0..<d).map { j in pow((v[i * d + j] - mean[j]) / std[j], 2) }.reduce(0, +)
            return -0.5 * sq - 0.5 * Double(d) * Foundation.log(2 * Double.pi) + logScaleSum
        }
        expectClose(logLikelihood, expected, tolerance: 1e-10)
    }

    @Test func uninitialisedGlowInEvalModeHasTheStandardNormalLikelihood() {
        var rng = SeededGenerator(seed: 6)
        let flow = VectorFlows.glowLatent(features: 8, blocks: 3, hidden: 16, dtype: .float64, using: &rng)
        flow.setTraining(false)  // ActNorms stay the identity; W orthogonal; couplings the identity
        let x = normal([5, 8], seed: 7)
        expectClose(flow.logLikelihood(of: x), StandardNormal.logProb(x).doubles, tolerance: 1e-10)
    }

    // MARK: - The coupling

    @Test func couplingAtInitIsTheIdentity() {
        var rng = SeededGenerator(seed: 8)
        for half in [VectorAffineCoupling.Half.first, .second] {
            let coupling = VectorAffineCoupling(features: 6, hidden: 5, conditionOn: half, dtype: .float64, using: &rng)
            let x = normal([3, 6], seed: 9)
            let (z, logDet) = coupling.forward(x)
            #expect(z.doubles == x.doubles)
            #expect(logDet.doubles == [0, 0, 0])
            #expect(coupling.parameterCount == 3 * 5 + 5 + 5 * 6 + 6)
        }
    }

    @Test func couplingKeepsTheConditioningHalfAndMatchesItsDefinition() {
        var rng = SeededGenerator(seed: 10)
        let coupling = VectorAffineCoupling(features: 4, hidden: 3, conditionOn: .first, dtype: .float64, using: &rng)
        randomise(coupling, seed: 20)
        let x = normal([2, 4], seed: 21)
        let (z, logDet) = coupling.forward(x)
        // Written out from RESULTS.md "(b)": h = L₂(relu(L₁(a))), s = tanh(h[:, :2]), t = h[:, 2:].
        let w1 = coupling.hiddenLayer.weight.value.doubles, b1 = coupling.hiddenLayer.bias!.value.doubles
        let w2 = coupling.outputLayer.weight.value.doubles, b2 = coupling.outputLayer.bias!.value.doubles
        let v = x.doubles
        var expected: [Double] = [], expectedLogDet: [Double] = []
        for i in 0..<2 {
            let a = [v[i * 4], v[i * 4 + 1]], b = [v[i * 4 + 2], v[i * 4 + 3]]
            var r = [Double](repeating: 0, count: 3), h = b2
            for k in 0..<3 {
                let pre: Double = b1[k] + w1[k * 2] * a[0] + w1[k * 2 + 1] * a[1]
                r[k] = Swift.max(0, pre)
            }
            for o in 0..<4 { for k in 0..<3 { h[o] += w2[o * 3 + k] * r[k] } }
            let s = [Foundation.tanh(h[0]), Foundation.tanh(h[1])]
            let moved0: Double = b[0] * Foundation.exp(s[0]) + h[2]
            let moved1: Double = b[1] * Foundation.exp(s[1]) + h[3]
            expected += a + [moved0, moved1]
            expectedLogDet.append(s[0] + s[1])
        }
        expectClose(z, expected, tolerance: 1e-12)
        expectClose(logDet, expectedLogDet, tolerance: 1e-12)
    }

    @Test(arguments: [VectorAffineCoupling.Half.first, .second])
    func couplingGradientsMatchFiniteDifferences(_ half: VectorAffineCoupling.Half) {
        var rng = SeededGenerator(seed: 30)
        let coupling = VectorAffineCoupling(features: 6, hidden: 7, conditionOn: half, dtype: .float64, using: &rng)
        randomise(coupling, seed: 31)
        expectGradientsMatchFiniteDifferences(normal([3, 6], seed: 32)) { x in
            let (z, logDet) = coupling.forward(x)
            return Tensor.concat([z, logDet.reshaped([3, 1])], axis: 1)
        }
        expectGradientsMatchFiniteDifferences(normal([3, 6], seed: 33)) { z in coupling.inverse(z) }
    }

    @Test(arguments: [VectorAffineCoupling.Half.first, .second])
    func couplingIsExact(_ half: VectorAffineCoupling.Half) {
        var rng = SeededGenerator(seed: 40)
        let coupling = VectorAffineCoupling(features: 8, hidden: 16, conditionOn: half, dtype: .float64, using: &rng)
        randomise(coupling, seed: 41)
        expectFlowIsExact(coupling, normal([4, 8], seed: 42), "coupling conditioned on \(half)")
    }

    // MARK: - RealNVP on vectors

    @Test func realNVPVectorAlternatesHalvesAndIsExact() {
        var rng = SeededGenerator(seed: 50)
        let flow = VectorFlows.realNVPVector(features: 8, couplings: 4, hidden: 16, dtype: .float64, using: &rng)
        let couplings = flow.layers.compactMap { $0 as? VectorAffineCoupling }
        #expect(couplings.count == 4)
        #expect(couplings.map(\.conditionOn) == [.first, .second, .first, .second])

        let x = normal([4, 8], seed: 51)
        // At init every coupling is the identity: log p(x) = log N(x; 0, I).
        expectClose(flow.logLikelihood(of: x), StandardNormal.logProb(x).doubles, tolerance: 1e-12)

        for (k, coupling) in couplings.enumerated() { randomise(coupling, seed: 60 + UInt64(k) * 2) }
        for coupling in couplings {
            let z = coupling.forward(x).z
            let kept = coupling.conditionOn == .first ? 0..<4 : 4..<8
            let moved = coupling.conditionOn == .first ? 4..<8 : 0..<4
            #expect(z.slice(axis: 1, kept).contiguous().doubles == x.slice(axis: 1, kept).contiguous().doubles)
            #expect(z.slice(axis: 1, moved).contiguous().doubles != x.slice(axis: 1, moved).contiguous().doubles)
        }
        expectFlowIsExact(flow, x, "realNVPVector(8, 4, 16)")
    }
}
