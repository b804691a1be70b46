import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct SamplingTests {
    /// realnvp-vector on 6 features, Double, couplings randomised so the flow is far from the
    /// identity.
    func vectorFlow() -> SequentialFlow {
        var rng = SeededGenerator(seed: 1)
        let flow = VectorFlows.realNVPVector(features: 6, couplings: 4, hidden: 8, dtype: .float64, using: &rng)
        for (k, layer) in flow.layers.enumerated() {
            let coupling = layer as! VectorAffineCoupling
            coupling.outputLayer.weight.assign(normal(coupling.outputLayer.weight.shape, scale: 0.5, seed: 10 + UInt64(k)))
            coupling.outputLayer.bias!.assign(normal(coupling.outputLayer.bias!.shape, scale: 0.5, seed: 20 + UInt64(k)))
        }
        return flow
    }

    /// Per-feature mean and population standard deviation of (N, D) values.
    func moments(_ t: Tensor) -> (mean: [Double], std: [Double]) {
        let (n, d) = (t.shape[0], t.shape[1])
        let v = t.doubles
        let mean = (0..<d).map { j in (0..<n).reduce(0.0) { $0 + v[$1 * d + j] } / Double(n) }
        let std = (0..<d).map { j in ((0..<n).reduce(0.0) { $0 + pow(v[$1 * d + j] - mean[j], 2) } / Double(n)).squareRoot() }
        return (mean, std)
    }

    @Test func modelsKnowTheirLatentSizeAndLayersDoNot() {
        var rng = SeededGenerator(seed: 2)
        #expect(vectorFlow().latentDimensions == 6)
        #expect(VectorFlows.glowLatent(features: 5, blocks: 1, hidden: 4, using: &rng).latentDimensions == 5)
        #expect(RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 2, blocks: 1)).latentDimensions == 64)
        #expect(Glow(config: GlowConfig(channels: 2, height: 4, width: 4, levels: 1, depth: 1, hidden: 2)).latentDimensions == 32)
        #expect(ResidualFlow(config: ResidualFlowConfig(features: 7, blocks: 1, hidden: 3)).latentDimensions == 7)
        #expect(ActNorm(4).latentDimensions == nil && Squeeze().latentDimensions == nil)
        #expect(SequentialFlow([ActNorm(3)]).latentDimensions == nil)
    }

    @Test(arguments: [1.0, 0.7])
    func samplesInvertToTemperedStandardNormalLatents(temperature: Double) {
        let flow = vectorFlow()
        let n = 4000
        var rng = SeededGenerator(seed: 3)
        let x = flow.sample(count: n, temperature: temperature, using: &rng)
        #expect(x.shape == [n, 6] && x.dtype == .float64)
        // forward(sample) gives back exactly the drawn latents T·ε (same seed, same draws) ...
        var again = SeededGenerator(seed: 3)
        let latents = StandardNormal.sample([n, 6], dtype: .float64, using: &again) * temperature
        let z = flow.forward(x).z
        expectClose(z, latents.doubles, tolerance: 1e-9, "forward(sample)")
        // ... whose statistics are those of N(0, T²I): |mean| < 4T/√n, |std − T| < 4T/√(2n).
        let (mean, std) = moments(z)
        for j in 0..<6 {
            #expect(abs(mean[j]) < 4 * temperature / Double(n).squareRoot(), "feature \(j): mean \(mean[j])")
            #expect(abs(std[j] - temperature) < 4 * temperature / Double(2 * n).squareRoot(), "feature \(j): std \(std[j])")
        }
        // The samples are not the latents: the flow moved them by O(1).
        let (sampleMean, _) = moments(x)
        #expect(sampleMean.contains { abs($0) > 0.1 }, "sample means \(sampleMean)")
    }

    @Test func samplingIsDeterministicForASeed() {
        let flow = vectorFlow()
        var a = SeededGenerator(seed: 4), b = SeededGenerator(seed: 4), c = SeededGenerator(seed: 5)
        let first = flow.sample(count: 5, using: &a)
        #expect(bits(first) == bits(flow.sample(count: 5, using: &b)))
        #expect(first.doubles != flow.sample(count: 5, using: &c).doubles)
        // The generator advances: the next draw differs.
        #expect(first.doubles != flow.sample(count: 5, using: &a).doubles)
        // Temperature 0 gives f⁻¹(0) for every sample. Rows agree to rounding, not bit for bit:
        // OpenBLAS picks its GEMM micro-kernel by CPU, and some sum the
        // remainder rows in another order.
        let zero = flow.sample(count: 3, temperature: 0, using: &a).doubles
        let origin = flow.inverse(Tensor.zeros([1, 6], dtype: .float64))
        for row in 0..<3 {
            expectClose(origin, Array(zero[(6 * row)..<(6 * row + 6)]), tolerance: 1e-12, "sample \(row)")
        }
    }

    @Test func imageFlowsSampleInEvaluationModeAndRestoreTheirMode() {
        // RealNVP with BatchNorm: sampling must use the running statistics, leave them alone, and
        // return the model in the mode it was in.
        let config = RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, seed: 6)
        let model = RealNVP(config: config, dequantization: .none, dtype: .float64)
        randomiseCouplings(model.couplings, std: 0.3, seed: 60)
        _ = model.forward(uniform([4, 1, 8, 8], 0, 1, seed: 61))  // training: running statistics move
        let before = model.namedParameters().map { $0.1.value.doubles }
        var rng = SeededGenerator(seed: 7)
        let v = model.sample(count: 3, temperature: 0.8, using: &rng)
        #expect(model.isTraining && model.couplings.allSatisfy { $0.isTraining })
        #expect(model.namedParameters().map { $0.1.value.doubles } == before, "sampling changed a parameter or buffer")
        // The inverse logit with α = 0.05 maps into (−1/18, 19/18).
        #expect(v.shape == [3, 1, 8, 8] && v.doubles.allSatisfy { $0 > -1.0 / 18 && $0 < 19.0 / 18 })
        // v is on the dequantised scale; with `.none` dequantisation forward sees v = 255x/256,
        // so x = 256v/255 maps back to the drawn latents in evaluation mode.
        var again = SeededGenerator(seed: 7)
        let latents = StandardNormal.sample([3, 64], dtype: .float64, using: &again) * 0.8
        model.setTraining(false)
        expectClose(model.forward(v * (256.0 / 255.0)).z, latents.doubles, tolerance: 1e-8, "RealNVP forward(sample)")
    }

    @Test func glowAndResidualFlowSamplesInvertToTheirLatents() {
        let glow = Glow(config: GlowConfig(height: 4, width: 4, levels: 2, depth: 2, hidden: 4, seed: 8),
                        dequantization: .none, dtype: .float64)
        _ = glow.forward(uniform([4, 1, 4, 4], 0, 1, seed: 81))  // ActNorms initialise
        var rng = SeededGenerator(seed: 9)
        let v = glow.sample(count: 2, using: &rng)
        var again = SeededGenerator(seed: 9)
        glow.setTraining(false)
        expectClose(glow.forward(v * (256.0 / 255.0)).z,
                    StandardNormal.sample([2, 16], dtype: .float64, using: &again).doubles, tolerance: 1e-8, "Glow")

        let residual = ResidualFlow(config: ResidualFlowConfig(features: 4, blocks: 2, hidden: 8, seed: 10), dtype: .float64)
        _ = residual.forward(normal([8, 4], scale: 2, seed: 11))  // ActNorms initialise
        var r1 = SeededGenerator(seed: 12), r2 = SeededGenerator(seed: 12)
        let x = residual.sample(count: 5, temperature: 1.5, using: &r1)
        #expect(residual.isTraining)
        residual.setTraining(false)
        // Fixed-point inversion to 1e-6 relative change.
        expectClose(residual.forward(x).z, (StandardNormal.sample([5, 4], dtype: .float64, using: &r2) * 1.5).doubles,
                    tolerance: 1e-5, "ResidualFlow")
    }
}
