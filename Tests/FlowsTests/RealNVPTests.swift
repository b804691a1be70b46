import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct RealNVPTests {
    /// Replaces every coupling's zero-initialised output conv with small normal values so s and
    /// t are non-zero, and each `scale` with values in [0.5, 1.5].
    func randomise(_ model: RealNVP, std: Double, seed: UInt64) {
        for (k, coupling) in model.couplings.enumerated() {
            let net = coupling.network as! STResNet
            let s = seed &+ UInt64(10 * k)
            net.outputConv.weight.assign(normal(net.outputConv.weight.shape, scale: std, seed: s))
            net.outputConv.bias!.assign(normal(net.outputConv.bias!.shape, scale: std, seed: s &+ 1))
            coupling.scale.assign(uniform(coupling.scale.shape, 0.5, 1.5, seed: s &+ 2))
        }
    }

    @Test func referenceParameterCounts() {
        // reference: RESULTS.md (a), 1,513,587 parameters with BatchNorm, 1,507,187 without.
        #expect(RealNVP().parameterCount == 1_513_587)
        #expect(RealNVP(config: RealNVPConfig(batchNorm: false)).parameterCount == 1_507_187)
    }

    @Test func configRoundTripsThroughJSON() throws {
        let config = RealNVPConfig(channels: 3, height: 8, width: 6, mid: 4, blocks: 1, batchNorm: false, seed: 9)
        let decoded = try JSONDecoder().decode(RealNVPConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
        #expect(RealNVPConfig() == RealNVPConfig(channels: 1, height: 28, width: 28, mid: 64, blocks: 2,
                                                 batchNorm: true, seed: 0))
    }

    @Test func squeezeIsInvertibleWithZeroLogDet() {
        let x = normal([2, 3, 4, 6], seed: 1)
        let (z, logDet) = Squeeze().forward(x)
        #expect(z.shape == [2, 12, 2, 3])
        #expect(logDet.doubles == [0, 0])
        #expect(Squeeze().inverse(z).doubles == x.doubles)
        // Output channel 4c + 2·dy + dx holds pixel (2i + dy, 2j + dx) of channel c.
        #expect(z[1, 4 * 2 + 2 * 1 + 0, 1, 2] == x[1, 2, 3, 4])
        // log|det| 0 is exact: a permutation. Brute force on one sample, flattened.
        let first = x.slice(axis: 0, 0..<1).contiguous()
        #expect(abs(bruteForceLogAbsDet(first) { Squeeze().forward($0).z }) < 1e-12)
    }

    @Test func freshModelIsPreprocessingThenIdentity() {
        let model = RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1), dequantization: .none,
                            dtype: .float64)
        let h = normal([2, 1, 8, 8], seed: 2)
        let (z, logDet) = model.forwardBody(h)
        #expect(logDet.doubles == [0, 0])
        // With identity couplings z is h rearranged: the squeezed channels 2..<4 first, then 0..<2.
        let squeezed = h.squeezed2x2()
        let expected = Tensor.concat([squeezed.slice(axis: 1, 2..<4).flattenedBatch(),
                                      squeezed.slice(axis: 1, 0..<2).flattenedBatch()], axis: 1)
        #expect(z.doubles == expected.doubles)
    }

    @Test func fullModelInvertsInEvaluationMode() {
        let model = RealNVP(dequantization: .none, dtype: .float64)
        randomise(model, std: 0.01, seed: 100)
        model.setTraining(false)
        let x = uniform([2, 1, 28, 28], 0, 1, seed: 3)
        let (z, logDet) = model.forward(x)
        #expect(z.shape == [2, 784] && logDet.shape == [2])
        // The couplings contribute: the body's Σ s is non-zero.
        let body = model.forwardBody(model.preprocessing.forward(x).z)
        #expect(body.logDet.doubles.allSatisfy { $0 != 0 && $0.isFinite })
        // inverse returns v = 255x/256 for `.none` dequantisation.
        expectClose(model.inverse(z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-10, "inverse(forward(x))")
        expectClose(model.inverseBody(body.z), model.preprocessing.forward(x).z.doubles, tolerance: 1e-9,
                    "inverseBody(forwardBody(h))")
    }

    @Test(arguments: [false, true])
    func logDetMatchesBruteForceJacobian(training: Bool) {
        // Reduced config: D = 64, so the brute-force Jacobian is 64 × 64.
        let model = RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, seed: 4),
                            dequantization: .none, dtype: .float64)
        randomise(model, std: 0.3, seed: 200)
        model.setTraining(training)
        let h = normal([1, 1, 8, 8], seed: 5)
        let body = model.forwardBody(h)
        #expect(body.logDet.item != 0)
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "body log|det|")
        expectClose(model.inverseBody(body.z), h.doubles, tolerance: 1e-10, "inverseBody(forwardBody(h))")
        // The whole model: forward's log|det| is of v ↦ z with v = 255x/256, so the Jacobian in
        // x adds D·log(255/256).
        let x = uniform([1, 1, 8, 8], 0, 1, seed: 6)
        let full = model.forward(x).logDet.item
        let bruteX = bruteForceLogAbsDet(x) { model.forward($0).z }
        expectClose([full + 64 * Foundation.log(255.0 / 256.0)], [bruteX], tolerance: 1e-8, relativeTolerance: 1e-9,
                    "full log|det|")
    }

    @Test func untrainedBitsPerDimensionOnUniformNoise() throws {
        let model = RealNVP(config: RealNVPConfig(seed: 7))
        model.setTraining(false)
        var rng = SeededGenerator(seed: 8)
        let x = Tensor.uniform([2, 1, 28, 28], lo: 0, hi: 1, using: &rng)
        let ll = model.logLikelihood(of: x).doubles
        let bpd = try BitsPerDimension.images(logLikelihood: ll, dimensions: 784)
        // At init the couplings are the identity, so bpd is that of logit-transformed uniform
        // noise under N(0, I): observed 8.20 and 8.23 (seed 7/8, Float32).
        print("RealNVP untrained bpd on uniform noise: \(bpd)")
        #expect(bpd.allSatisfy { $0.isFinite && $0 > 5 && $0 < 10 }, "bpd \(bpd)")
    }
}
