import Testing
import Tensor
import NN
import Flows
import TestSupport

/// Training is bit-for-bit reproducible for a seed and a thread count: every parallel kernel
/// splits work by fixed ranges and adds partial results in a fixed order.
@Suite struct DeterminismTests {
    /// Loss bits of each step and parameter bits after `steps` Adam steps from scratch.
    static func train(_ makeFlow: () -> any FlowLayer, _ x: Tensor, steps: Int) -> [UInt64] {
        let flow = makeFlow()
        let opt = Adam(flow.trainableParameters, learningRate: 1e-3)
        var out: [UInt64] = []
        flow.setTraining(true)
        for _ in 0..<steps {
            flow.zeroGrad()
            let loss = -flow.logLikelihood(of: x).mean()
            loss.backward()
            opt.step()
            out += bits(loss)
        }
        flow.setTraining(false)
        out += bits(withoutGrad { flow.logLikelihood(of: x) })
        for p in flow.trainableParameters { out += bits(p.value) }
        return out
    }

    @Test func realNVPTrainingIsReproducible() {
        // 16 hidden channels: the Winograd convolutions, fused BatchNorm and couplings.
        let config = RealNVPConfig(channels: 1, height: 8, width: 8, mid: 16, blocks: 1, seed: 5)
        var rng = SeededGenerator(seed: 6)
        let x = Tensor.uniform([4, 1, 8, 8], using: &rng)
        let first = Self.train({ RealNVP(config: config) }, x, steps: 2)
        #expect(first == Self.train({ RealNVP(config: config) }, x, steps: 2))
    }

    @Test func glowLatentTrainingIsReproducible() {
        // D = 128: the blocked LU and inverse (shared among threads when there are several).
        var rng = SeededGenerator(seed: 7)
        let x = Tensor.randn([16, 128], mean: 0.5, std: 2, using: &rng)
        func make() -> any FlowLayer {
            var rng = SeededGenerator(seed: 8)
            return VectorFlows.glowLatent(features: 128, blocks: 2, hidden: 32, using: &rng)
        }
        let first = Self.train(make, x, steps: 2)
        #expect(first == Self.train(make, x, steps: 2))
    }
}
