import Testing
import Tensor
import TestSupport
@testable import NN

// MARK: - Linear and Conv2d

@Suite struct LinearAndConvForward {
    @Test func linearComputesXWTransposePlusBias() {
        var rng = SeededGenerator(seed: 1)
        let layer = Linear(3, 2, using: &rng)
        layer.weight.assign(Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3]))
        layer.bias!.assign(Tensor([0.5, -0.5] as [Float], shape: [2]))
        let x = Tensor([1, 0, -1, 2, 1, 0] as [Float], shape: [2, 3])
        let y = layer(x)
        // By hand: row 1 = (1 − 3, 4 − 6) + b = (−1.5, −2.5); row 2 = (2 + 2, 8 + 5) + b = (4.5, 12.5).
        #expect(y.shape == [2, 2])
        #expect(y.scalars == [-1.5, -2.5, 4.5, 12.5])
    }

    @Test func linearWithoutBiasHasOnlyAWeight() {
        var rng = SeededGenerator(seed: 1)
        let layer = Linear(4, 3, bias: false, using: &rng)
        #expect(layer.bias == nil)
        #expect(layer.namedParameters().map(\.0) == ["weight"])
        layer.weight.assign(Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1] as [Float], shape: [3, 4]))
        // By hand: picks x₀, x₁ and x₂ + x₃.
        #expect(layer(Tensor([2, 3, 5, 7] as [Float], shape: [1, 4])).scalars == [2, 3, 12])
    }

    @Test func conv2dSamePaddingByHand() {
        var rng = SeededGenerator(seed: 2)
        let conv = Conv2d(1, 1, kernel: 3, using: &rng)
        #expect(conv.padding == 1)
        // The discrete Laplacian on 1…9 with zero padding, worked out cell by cell:
        // (0,0) = 2 + 4 − 4·1 = 2, (0,1) = 1 + 3 + 5 − 8 = 1, (0,2) = 2 + 6 − 12 = −4,
        // (1,0) = 1 + 5 + 7 − 16 = −3, (1,1) = 2 + 4 + 6 + 8 − 20 = 0, (1,2) = 3 + 5 + 9 − 24 = −7,
        // (2,0) = 4 + 8 − 28 = −16, (2,1) = 5 + 7 + 9 − 32 = −11, (2,2) = 6 + 8 − 36 = −22.
        conv.weight.assign(Tensor([0, 1, 0, 1, -4, 1, 0, 1, 0] as [Float], shape: [1, 1, 3, 3]))
        conv.bias!.assign(Tensor([0.5] as [Float], shape: [1]))
        let x = Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let y = conv(x)
        #expect(y.shape == [1, 1, 3, 3])
        #expect(y.scalars == [2, 1, -4, -3, 0, -7, -16, -11, -22].map { $0 + 0.5 })
    }

    @Test func conv2dStrideAndChannelsMatchDirectSum() {
        var rng = SeededGenerator(seed: 3)
        let (b, cin, cout, h, w, k, s, pad) = (2, 3, 4, 5, 6, 3, 2, 1)
        let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: pad, dtype: .float64, using: &rng)
        let x = Tensor.randn([b, cin, h, w], dtype: .float64, using: &rng)
        let y = conv(x)
        let ho = (h + 2 * pad - k) / s + 1, wo = (w + 2 * pad - k) / s + 1
        #expect(y.shape == [b, cout, ho, wo])
        // y[n, o, i, j] = bias[o] + Σ_{c, u, v} W[o, c, u, v] · x[n, c, s·i + u − pad, s·j + v − pad]
        var expected: [Double] = []
        for n in 0..<b { for o in 0..<cout { for i in 0..<ho { for j in 0..<wo {
            var acc = conv.bias!.value[o]
            for c in 0..<cin { for u in 0..<k { for v in 0..<k {
                let r = s * i + u - pad, q = s * j + v - pad
                if r >= 0 && r < h && q >= 0 && q < w { acc += conv.weight.value[o, c, u, v] * x[n, c, r, q] }
            } } }
            expected.append(acc)
        } } } }
        expectClose(y.doubles, expected, tolerance: 1e-12, relativeTolerance: 1e-12, "conv2d")
    }
}

// MARK: - BatchNorm

@Suite struct BatchNormTraining {
    // reference: torch 2.15 nn.BatchNorm2d(2) (training), x1 then x2 as below, shape (2, 2, 2, 2):
    //   bn = torch.nn.BatchNorm2d(2); y1 = bn(x1)  -> y1, running_mean, running_var
    //   bn(x2)                                    -> running_mean, running_var
    private static let x1: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, -1, 0, 2, 5, 3, -2, 4, 1]
    private static let x2: [Float] = [0.5, 1.5, -2, 3, 2, 2, 1, -4, 6, 0, 1, 2, -3, 5, 0.25, 1]
    private static let torchY1: [Double] = [
        -0.534521699, 0.0, 0.534521699, 1.0690434, 0.324442685, 0.648885369, 0.973328054, 1.29777074,
        -1.6035651, -1.0690434, 0.0, 1.6035651, -0.324442685, -1.94665611, 0.0, -0.973328054,
    ]

    @Test func matchesTorchOutputAndRunningStatistics() {
        let bn = BatchNorm(2)
        let y1 = bn(Tensor(Self.x1, shape: [2, 2, 2, 2]))
        expectClose(y1.doubles, Self.torchY1, tolerance: 2e-6, relativeTolerance: 2e-6, "y1")
        expectClose(bn.runningMean.value.doubles, [0.200000003, 0.400000006], tolerance: 1e-6, relativeTolerance: 1e-6, "running_mean 1")
        expectClose(bn.runningVar.value.doubles, [1.29999995, 1.9857142], tolerance: 1e-6, relativeTolerance: 1e-6, "running_var 1")
        _ = bn(Tensor(Self.x2, shape: [2, 2, 2, 2]))
        expectClose(bn.runningMean.value.doubles, [0.329999983, 0.413124979], tolerance: 1e-6, relativeTolerance: 1e-6, "running_mean 2")
        expectClose(bn.runningVar.value.doubles, [1.71999991, 2.6129241], tolerance: 1e-6, relativeTolerance: 1e-6, "running_var 2")
    }

    @Test func matchesTorchOnBatchByChannelInput() {
        // reference: torch 2.15 nn.BatchNorm1d(3) (training) on
        //   [[1, -2, 0.5], [3, 0, 1.5], [-1, 4, 2.5], [5, 2, -0.5]]
        let bn = BatchNorm(3)
        let y = bn(Tensor([1, -2, 0.5, 3, 0, 1.5, -1, 4, 2.5, 5, 2, -0.5] as [Float], shape: [4, 3]))
        expectClose(y.doubles, [-0.447213143, -1.3416394, -0.447211802, 0.447213143, -0.447213143, 0.447211802,
                                -1.3416394, 1.3416394, 1.34163547, 1.3416394, 0.447213143, -1.34163547],
                    tolerance: 2e-6, relativeTolerance: 2e-6, "y")
        expectClose(bn.runningMean.value.doubles, [0.2, 0.1, 0.1], tolerance: 1e-6, relativeTolerance: 1e-6, "running_mean")
        expectClose(bn.runningVar.value.doubles, [1.5666666, 1.5666666, 1.0666666], tolerance: 1e-6, relativeTolerance: 1e-6, "running_var")
    }

    @Test func runningStatisticsFollowMomentumAndUnbiasedVariance() {
        var rng = SeededGenerator(seed: 11)
        let (b, c, h, w) = (3, 2, 2, 3)
        let bn = BatchNorm(c, dtype: .float64)
        let x = Tensor.randn([b, c, h, w], mean: 2, std: 3, dtype: .float64, using: &rng)
        _ = bn(x)
        // By hand per channel: mean and unbiased variance over the n = B·H·W values,
        // running = 0.9 · initial + 0.1 · batch statistic (initial mean 0, variance 1).
        let n = Double(b * h * w)
        var mean = [Double](repeating: 0, count: c), unbiased = [Double](repeating: 0, count: c)
        for ch in 0..<c {
            var values: [Double] = []
            for i in 0..<b { for r in 0..<h { for q in 0..<w { values.append(x[i, ch, r, q]) } } }
            mean[ch] = values.reduce(0, +) / n
            unbiased[ch] = values.map { ($0 - mean[ch]) * ($0 - mean[ch]) }.reduce(0, +) / (n - 1)
        }
        expectClose(bn.runningMean.value.doubles, mean.map { 0.1 * $0 }, tolerance: 1e-14, relativeTolerance: 1e-14, "running_mean")
        expectClose(bn.runningVar.value.doubles, unbiased.map { 0.9 + 0.1 * $0 }, tolerance: 1e-14, relativeTolerance: 1e-14, "running_var")
    }

    @Test func normalisesEachChannelToZeroMeanUnitVariance() {
        var rng = SeededGenerator(seed: 12)
        let (b, c, h, w) = (8, 3, 4, 4)
        let bn = BatchNorm(c)
        let x = Tensor.randn([b, c, h, w], mean: 5, std: 4, using: &rng)
        let y = bn(x)
        for ch in 0..<c {
            var values: [Double] = []
            for i in 0..<b { for r in 0..<h { for q in 0..<w { values.append(y[i, ch, r, q]) } } }
            let m = values.reduce(0, +) / Double(values.count)
            let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)
            #expect(abs(m) < 1e-5, "channel \(ch) mean \(m)")
            // Population variance is σ²/(σ² + eps) ≈ 1 − eps/16 here.
            #expect(abs(v - 1) < 1e-4, "channel \(ch) variance \(v)")
        }
    }
}

@Suite struct BatchNormEvaluation {
    @Test func usesRunningStatisticsAndLeavesThemAlone() {
        let bn = BatchNorm(2)
        bn.runningMean.assign(Tensor([1, -1] as [Float], shape: [2]))
        bn.runningVar.assign(Tensor([4, 0.25] as [Float], shape: [2]))
        bn.gamma.assign(Tensor([2, 0.5] as [Float], shape: [2]))
        bn.beta.assign(Tensor([0.1, -0.2] as [Float], shape: [2]))
        bn.setTraining(false)
        #expect(!bn.isTraining)
        let x = Tensor([3, 0, -1, 1, 5, -2] as [Float], shape: [3, 2])
        let y = bn(x)
        // y = γ (x − μ_run) / √(σ²_run + eps) + β, eps = 1e-5.
        let eps = 1e-5
        var expected: [Double] = []
        for (i, xv) in [3.0, 0, -1, 1, 5, -2].enumerated() {
            let ch = i % 2
            let (mu, v, g, be) = ch == 0 ? (1.0, 4.0, 2.0, 0.1) : (-1.0, 0.25, 0.5, -0.2)
            expected.append(g * (xv - mu) / (v + eps).squareRoot() + be)
        }
        expectClose(y.doubles, expected, tolerance: 1e-6, relativeTolerance: 1e-6, "eval output")
        #expect(bn.runningMean.value.scalars == [1, -1])
        #expect(bn.runningVar.value.scalars == [4, 0.25])
        // Each row is normalised on its own: the batch around it does not matter.
        let single = bn(Tensor([5, -2] as [Float], shape: [1, 2]))
        #expect(single.scalars == Array(y.scalars[4...]))
    }
}

@Suite struct BatchNormGradient {
    /// Full Jacobian-vector check of L = Σ BN(x) ⊙ R against central differences, in Float64,
    /// for the input, γ and β (training mode, so the batch statistics are differentiated too).
    @Test(arguments: [[5, 3], [2, 3, 2, 3]])
    func matchesCentralDifferences(shape: [Int]) throws {
        var rng = SeededGenerator(seed: 21)
        let c = shape[1]
        let bn = BatchNorm(c, dtype: .float64)
        bn.gamma.assign(.uniform([c], lo: 0.5, hi: 1.5, dtype: .float64, using: &rng))
        bn.beta.assign(.randn([c], dtype: .float64, using: &rng))
        let x0 = Tensor.randn(shape, mean: 1, std: 2, dtype: .float64, using: &rng)
        let r = Tensor.randn(shape, dtype: .float64, using: &rng)

        let leaf = x0.requiringGrad()
        bn.zeroGrad()
        (bn(leaf) * r).sum().backward()
        let gx = try #require(leaf.grad).doubles
        let gGamma = try #require(bn.gamma.grad).doubles
        let gBeta = try #require(bn.beta.grad).doubles

        func loss(x: [Double], gamma: [Double], beta: [Double]) -> Double {
            withoutGrad {
                bn.gamma.assign(Tensor(gamma, shape: [c]))
                bn.beta.assign(Tensor(beta, shape: [c]))
                return (bn(Tensor(x, shape: shape)) * r).sum().item
            }
        }
        let x = x0.doubles, gamma = bn.gamma.value.doubles, beta = bn.beta.value.doubles
        let h = 1e-5
        func central(_ values: [Double], _ f: ([Double]) -> Double) -> [Double] {
            values.indices.map { i in
                var plus = values, minus = values
                plus[i] += h; minus[i] -= h
                return (f(plus) - f(minus)) / (2 * h)
            }
        }
        expectClose(gx, central(x) { loss(x: $0, gamma: gamma, beta: beta) }, tolerance: 1e-7, relativeTolerance: 1e-7, "dL/dx")
        expectClose(gGamma, central(gamma) { loss(x: x, gamma: $0, beta: beta) }, tolerance: 1e-7, relativeTolerance: 1e-7, "dL/dγ")
        expectClose(gBeta, central(beta) { loss(x: x, gamma: gamma, beta: $0) }, tolerance: 1e-7, relativeTolerance: 1e-7, "dL/dβ")
        // Mean-centring: the input gradient sums to zero over each channel.
        #expect(abs(gx.reduce(0, +)) < 1e-10)
    }
}

// MARK: - Parameters and modules

@Suite struct ModuleParameters {
    private func model() -> Sequential {
        var rng = SeededGenerator(seed: 5)
        return Sequential([Linear(3, 4, using: &rng), BatchNorm(4), Function.relu, Linear(4, 2, bias: false, using: &rng)])
    }

    @Test func namesAreDottedPathsInStableOrder() {
        #expect(model().namedParameters().map(\.0) == [
            "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "3.weight",
        ])
    }

    @Test func countsOnlyTrainableScalars() {
        let m = model()
        // 3·4 + 4 (Linear) + 4 + 4 (γ, β) + 4·2 (Linear, no bias); running statistics are buffers.
        #expect(m.parameterCount == 32)
        #expect(m.trainableParameters.count == 5)
        let buffers = m.namedParameters().filter { !$0.1.isTrainable }
        #expect(buffers.map(\.0) == ["1.running_mean", "1.running_var"])
        #expect(buffers.allSatisfy { !$0.1.value.requiresGrad })
    }

    @Test func setTrainingReachesEveryLayer() {
        let m = model()
        m.setTraining(false)
        #expect(!m.isTraining && m.layers.allSatisfy { !$0.isTraining })
        m.setTraining(true)
        #expect(m.isTraining && m.layers.allSatisfy { $0.isTraining })
    }

    @Test func zeroGradClearsEveryGradient() throws {
        let m = model()
        var rng = SeededGenerator(seed: 6)
        m(Tensor.randn([5, 3], using: &rng)).sum().backward()
        #expect(m.trainableParameters.allSatisfy { $0.grad != nil })
        m.zeroGrad()
        #expect(m.trainableParameters.allSatisfy { $0.grad == nil })
    }

    @Test func parameterCopiesItsInitialValue() {
        let source = Tensor([1, 2] as [Float], shape: [2])
        let p = Parameter(source)
        p.assign(Tensor([3, 4] as [Float], shape: [2]))
        #expect(source.scalars == [1, 2])
        #expect(p.value.scalars == [3, 4])
        #expect(p.value.requiresGrad && p.isTrainable)
    }
}

// MARK: - Initializers

@Suite struct Initializers {
    @Test func fansOfLinearAndConvShapes() {
        #expect(Initializer.fans([40, 50]) == (50, 40))
        #expect(Initializer.fans([8, 4, 3, 3]) == (36, 72))
    }

    /// All samples within ±bound and the extremes near it (2,000 draws: P(max < 0.95·bound) ≈ 1e-22).
    private func expectUniform(_ t: Tensor, bound: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let v = t.doubles
        let lo = v.min()!, hi = v.max()!
        #expect(lo >= -bound && hi <= bound, "range [\(lo), \(hi)] outside ±\(bound)", sourceLocation: sourceLocation)
        #expect(lo < -0.95 * bound && hi > 0.95 * bound, "range [\(lo), \(hi)] does not fill ±\(bound)",
                sourceLocation: sourceLocation)
    }

    @Test func torchDefaultLinearBoundIsOneOverRootFanIn() {
        var rng = SeededGenerator(seed: 31)
        let layer = Linear(50, 40, using: &rng)
        // kaiming_uniform(a = √5): √(6 / ((1 + 5) · 50)) = 1/√50; bias U(±1/√fanIn) as in torch.
        expectUniform(layer.weight.value, bound: 1 / 50.0.squareRoot())
        let bias = Linear(50, 2000, using: &rng).bias!.value
        expectUniform(bias, bound: 1 / 50.0.squareRoot())
    }

    @Test func kaimingUniformBoundOnConvShape() {
        var rng = SeededGenerator(seed: 32)
        // a = 0 (ReLU gain): bound = √(6 / fanIn), fanIn = 4 · 3 · 3.
        let w = Initializer.kaimingUniform(a: 0).make([64, 4, 3, 3], using: &rng)
        expectUniform(w, bound: (6.0 / 36).squareRoot())
        let conv = Conv2d(8, 256, kernel: 3, using: &rng)
        expectUniform(conv.weight.value, bound: 1 / 72.0.squareRoot())
    }

    @Test func xavierUniformBound() {
        var rng = SeededGenerator(seed: 33)
        expectUniform(Initializer.xavierUniform.make([40, 60], using: &rng), bound: (6.0 / 100).squareRoot())
    }

    @Test func orthogonalHasOrthonormalColumnsAndRows() {
        var rng = SeededGenerator(seed: 34)
        let n = 12
        let q = Initializer.orthogonal.make([n, n], dtype: .float64, using: &rng).doubles
        for i in 0..<n {
            for j in 0..<n {
                var qtq = 0.0, qqt = 0.0
                for k in 0..<n {
                    qtq += q[k * n + i] * q[k * n + j]
                    qqt += q[i * n + k] * q[j * n + k]
                }
                let id = i == j ? 1.0 : 0.0
                #expect(abs(qtq - id) < 1e-12, "QᵀQ[\(i),\(j)] = \(qtq)")
                #expect(abs(qqt - id) < 1e-12, "QQᵀ[\(i),\(j)] = \(qqt)")
            }
        }
    }

    @Test func sameSeedSameWeightsDifferentSeedDifferentWeights() {
        func build(_ seed: UInt64) -> [UInt64] {
            var rng = SeededGenerator(seed: seed)
            let m = Sequential([Linear(6, 5, using: &rng), Conv2d(2, 3, kernel: 3, using: &rng)])
            let o = Initializer.orthogonal.make([4, 4], using: &rng)
            return m.namedParameters().flatMap { bits($0.1.value) } + bits(o)
        }
        #expect(build(7) == build(7))
        #expect(build(7) != build(8))
    }

    @Test func constantsAndNormal() {
        var rng = SeededGenerator(seed: 35)
        #expect(Initializer.zeros.make([3], using: &rng).scalars == [0, 0, 0])
        #expect(Initializer.constant(0.25).make([2], dtype: .float64, using: &rng).doubles == [0.25, 0.25])
        let v = Initializer.normal(std: 0.5).make([20_000], dtype: .float64, using: &rng).doubles
        let m = v.reduce(0, +) / Double(v.count)
        let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
        // Standard errors: 0.5/√20000 ≈ 0.0035 for the mean, ≈ 0.0025 for the std.
        #expect(abs(m) < 0.015 && abs(sd - 0.5) < 0.012, "mean \(m), std \(sd)")
    }
}
