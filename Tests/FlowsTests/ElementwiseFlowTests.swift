import Testing
import Foundation
import Tensor
import NN
import Flows
import TestSupport

@Suite struct LogitPreprocessingTests {
    @Test func valueAtZeroByHand() {
        var rng = SeededGenerator(seed: 1)
        let layer = LogitPreprocessing(dequantization: .none, using: &rng)
        let (h, logDet) = layer.forward(Tensor.zeros([1, 2], dtype: .float64))
        // By hand: v = 0, y = α = 0.05, h = log(0.05/0.95) = −2.9444389791664403;
        // log|det| per feature = −log 0.05 − log 0.95 + log 0.9 = 2.9416648...
        expectClose(h, [-2.9444389791664403, -2.9444389791664403], tolerance: 1e-15)
        expectClose(logDet, [2 * (-Foundation.log(0.05) - Foundation.log(0.95) + Foundation.log(0.9))], tolerance: 1e-14)
    }

    @Test func noiseFreeIsExact() {
        var rng = SeededGenerator(seed: 2)
        let layer = LogitPreprocessing(dequantization: .none, using: &rng)
        let x = uniform([2, 1, 4, 4], 0, 1, seed: 3)
        let (h, logDet) = layer.forward(x)
        expectClose(layer.inverse(h), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-12, "inverse returns v")
        // forward(x) = g(255x/256), so log|det ∂h/∂x| = log|det ∂h/∂v| + D·log(255/256).
        let brute = bruteForceLogAbsDet(x.slice(axis: 0, 0..<1).contiguous()) { layer.forward($0).z }
        expectClose([logDet.doubles[0] + 16 * Foundation.log(255.0 / 256.0)], [brute], tolerance: 1e-9)
    }

    @Test func uniformNoiseStaysInTheBinAndIsReproducible() {
        var rngA = SeededGenerator(seed: 4), rngB = SeededGenerator(seed: 4)
        let a = LogitPreprocessing(using: &rngA), b = LogitPreprocessing(using: &rngB)
        let x = Tensor((0..<16).map { Double($0 * 17) / 255 }, shape: [1, 16])
        let first = a.forward(x).z
        #expect(first.doubles == b.forward(x).z.doubles, "same seed, same noise")
        #expect(first.doubles != a.forward(x).z.doubles, "the generator advances")
        let v = a.inverse(first).doubles
        for (vi, xi) in zip(v, x.doubles) {
            #expect(vi >= xi * 255 / 256 - 1e-12 && vi < (xi * 255 + 1) / 256 + 1e-12)
        }
    }
}

@Suite struct ActNormTests {
    @Test func initialisationGivesZeroMeanUnitStdPerChannel() {
        let x = normal([8, 3, 4, 4], scale: 3, seed: 5) + Tensor([1, -2, 5] as [Double], shape: [1, 3, 1, 1])
        let layer = ActNorm(3, dtype: .float64)
        #expect(!layer.isInitialized)
        let z = layer.forward(x).z
        #expect(layer.isInitialized)
        let mean = z.mean(axes: [0, 2, 3]).doubles
        let std = (z - z.mean(axes: [0, 2, 3], keepDims: true)).square().mean(axes: [0, 2, 3]).sqrt().doubles
        expectClose(mean, [0, 0, 0], tolerance: 1e-12, "mean")
        expectClose(std, [1, 1, 1], tolerance: 1e-6, "std")  // + 1e-6 in the denominator
        // A second batch does not re-initialise.
        let logs = layer.logScale.value.doubles
        _ = layer.forward(normal([8, 3, 4, 4], seed: 6))
        #expect(layer.logScale.value.doubles == logs)
    }

    @Test func vectorInitialisationAndEvalModeSkipsInit() {
        let x = normal([32, 5], scale: 0.5, seed: 7) + 2
        let layer = ActNorm(5, dtype: .float64)
        layer.setTraining(false)
        _ = layer.forward(x)
        #expect(!layer.isInitialized, "evaluation mode never initialises")
        layer.setTraining(true)
        let z = layer.forward(x).z
        expectClose(z.mean(axes: [0]).doubles, [Double](repeating: 0, count: 5), tolerance: 1e-12)
        expectClose(z.square().mean(axes: [0]).doubles, [Double](repeating: 1, count: 5), tolerance: 1e-5)
    }

    @Test func flagIsACheckpointedBuffer() {
        let layer = ActNorm(4)
        #expect(layer.namedParameters().map(\.0) == ["bias", "logs", "initialized"])
        #expect(layer.parameterCount == 8)
        layer.initialized.assign(.ones([1]))  // as a checkpoint load would
        _ = layer.forward(Tensor.ones([2, 4]))
        #expect(layer.logScale.value.doubles == [0, 0, 0, 0], "loaded layers are not re-initialised")
    }

    @Test(arguments: [[1, 2, 4, 4], [1, 6]])
    func isInvertibleWithExactLogDet(shape: [Int]) {
        let c = shape[1]
        let layer = ActNorm(c, dtype: .float64)
        var initShape = shape
        initShape[0] = 8
        layer.initialize(from: normal(initShape, scale: 2, seed: 8))
        expectFlowIsExact(layer, normal(shape, seed: 9), "ActNorm \(shape)")
    }
}
