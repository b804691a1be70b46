import Testing
import Tensor
import TestSupport

@Suite("Fused batch normalisation")
struct BatchNormTests {
    /// Reference form: the composite of primitive ops the fused op replaces.
    static func composite(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, eps: Double) -> Tensor {
        let c = x.shape[1]
        let axes = x.rank == 4 ? [0, 2, 3] : [0]
        let bshape = x.rank == 4 ? [1, c, 1, 1] : [1, c]
        let mean = x.mean(axes: axes, keepDims: true)
        let variance = (x - mean).square().mean(axes: axes, keepDims: true)
        return (x - mean) * (variance + eps).pow(-0.5) * gamma.reshaped(bshape) + beta.reshaped(bshape)
    }

    /// Pre-activations away from relu's kink, so finite differences never straddle it.
    static func expectAwayFromKink(_ y: Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(y.doubles.allSatisfy { Swift.abs($0) > 1e-3 }, "pre-activation too close to relu's kink",
                sourceLocation: sourceLocation)
    }

    @Test(arguments: [[6, 3], [3, 4, 3, 5], [2, 2, 1, 7]])
    func trainingMatchesCompositeAndFiniteDifferences(shape: [Int]) {
        let c = shape[1]
        let x = normal(shape, scale: 2, seed: 1001) + 1.5
        let gamma = uniform([c], 0.5, 1.5, seed: 1002), beta = normal([c], seed: 1003)
        let fused = withoutGrad { x.batchNormalized(gamma: gamma, beta: beta, eps: 1e-5) }
        expectClose(fused.output.doubles, withoutGrad { Self.composite(x, gamma, beta, eps: 1e-5) }.doubles,
                    tolerance: 1e-13, relativeTolerance: 1e-13, "output")
        // Batch statistics: mean and population variance per channel.
        let axes = shape.count == 4 ? [0, 2, 3] : [0]
        expectClose(fused.mean.doubles, x.mean(axes: axes).doubles, tolerance: 1e-14, "mean")
        expectClose(fused.variance.doubles, x.variance(axes: axes).doubles, tolerance: 1e-13, "variance")
        expectGradientsMatchFiniteDifferences([x, gamma, beta]) { t in
            t[0].batchNormalized(gamma: t[1], beta: t[2], eps: 1e-5).output
        }
    }

    @Test(arguments: [[6, 3], [3, 4, 3, 5]])
    func trainingWithReLU(shape: [Int]) {
        let c = shape[1]
        let x = normal(shape, scale: 2, seed: 1011) - 0.5
        let gamma = uniform([c], 0.5, 1.5, seed: 1012), beta = normal([c], scale: 0.3, seed: 1013)
        let pre = withoutGrad { x.batchNormalized(gamma: gamma, beta: beta, eps: 1e-5).output }
        Self.expectAwayFromKink(pre)
        let fused = withoutGrad { x.batchNormalized(gamma: gamma, beta: beta, eps: 1e-5, relu: true).output }
        #expect(fused.doubles == pre.relu().doubles)
        expectGradientsMatchFiniteDifferences([x, gamma, beta]) { t in
            t[0].batchNormalized(gamma: t[1], beta: t[2], eps: 1e-5, relu: true).output
        }
    }

    @Test(arguments: [false, true])
    func evaluationFormMatchesFormulaAndFiniteDifferences(relu: Bool) {
        let shape = [3, 4, 2, 3], c = 4
        let x = normal(shape, seed: 1021)
        let gamma = uniform([c], 0.5, 1.5, seed: 1022), beta = normal([c], scale: 0.3, seed: 1023)
        let mean = normal([c], scale: 0.5, seed: 1024), variance = uniform([c], 0.5, 2, seed: 1025)
        let bshape = [1, c, 1, 1]
        let expected = withoutGrad {
            (x - mean.reshaped(bshape)) * (variance.reshaped(bshape) + 1e-5).pow(-0.5) * gamma.reshaped(bshape)
                + beta.reshaped(bshape)
        }
        if relu { Self.expectAwayFromKink(expected) }
        let y = withoutGrad {
            x.batchNormalized(gamma: gamma, beta: beta, mean: mean, variance: variance, eps: 1e-5, relu: relu)
        }
        expectClose(y.doubles, (relu ? expected.relu() : expected).doubles, tolerance: 1e-14, relativeTolerance: 1e-14)
        expectGradientsMatchFiniteDifferences([x, gamma, beta]) { t in
            t[0].batchNormalized(gamma: t[1], beta: t[2], mean: mean, variance: variance, eps: 1e-5, relu: relu)
        }
    }

    @Test func float32AgreesWithFloat64() {
        let shape = [4, 3, 5, 5]
        let x64 = normal(shape, scale: 3, seed: 1031) + 10, g64 = uniform([3], 0.5, 1.5, seed: 1032)
        let b64 = normal([3], seed: 1033)
        let y64 = x64.batchNormalized(gamma: g64, beta: b64, eps: 1e-5, relu: true).output
        let x32 = x64.cast(to: .float32), g32 = g64.cast(to: .float32), b32 = b64.cast(to: .float32)
        let y32 = x32.batchNormalized(gamma: g32, beta: b32, eps: 1e-5, relu: true).output
        expectClose(y32.doubles, y64.doubles, tolerance: 1e-5, relativeTolerance: 1e-5)
    }

    @Test func isDeterministic() {
        let x = normal([8, 16, 7, 7], seed: 1041).cast(to: .float32).requiringGrad()
        let gamma = Tensor.ones([16]).requiringGrad(), beta = Tensor.zeros([16]).requiringGrad()
        func run() -> [UInt64] {
            let y = x.batchNormalized(gamma: gamma, beta: beta, eps: 1e-5, relu: true).output
            y.backward(seed: Tensor.full(0.5, shape: y.shape) + y.detached)
            defer { x.node?.zeroGrad(); gamma.node?.zeroGrad(); beta.node?.zeroGrad() }
            return bits(y) + bits(x.grad!) + bits(gamma.grad!) + bits(beta.grad!)
        }
        #expect(run() == run())
    }
}
