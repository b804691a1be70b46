import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

/// ActNorm's data-dependent initialisation survives a checkpoint: a model loaded from one
/// computes what the saved model computes and never re-initialises on its first training batch.
@Suite struct ActNormCheckpointTests {
    /// Every ActNorm in a module tree.
    func actNorms(_ module: any Module) -> [ActNorm] {
        ((module as? ActNorm).map { [$0] } ?? []) + module.children.flatMap { actNorms($0.1) }
    }

    func roundTrip(_ spec: FlowSpec, initBatch: Tensor, probe: Tensor, secondBatch: Tensor) throws {
        try withTemporaryDirectory { dir in
            let trained = spec.makeFlow()
            _ = trained.forward(initBatch)  // training mode: every ActNorm initialises on this batch
            let norms = actNorms(trained)
            #expect(!norms.isEmpty && norms.allSatisfy { $0.isInitialized })
            #expect(norms.contains { $0.bias.value.doubles.contains { abs($0) > 0.1 } }, "initialisation left b at 0")
            try Checkpoint.save(trained, config: spec, to: dir)

            let loaded = spec.makeFlow()
            #expect(actNorms(loaded).allSatisfy { !$0.isInitialized })
            try Checkpoint.load(into: loaded, from: dir)
            #expect(actNorms(loaded).allSatisfy { $0.isInitialized }, "the flag was not restored")

            // Evaluation: the same z and log|det| bit for bit.
            trained.setTraining(false)
            loaded.setTraining(false)
            trained.reseedStochasticLayers(seed: 9)  // the same dequantisation noise in both
            loaded.reseedStochasticLayers(seed: 9)
            let a = trained.forward(probe), b = loaded.forward(probe)
            #expect(bits(a.z) == bits(b.z) && bits(a.logDet) == bits(b.logDet))

            // Training mode on a batch with other statistics: no re-initialisation.
            loaded.setTraining(true)
            trained.reseedStochasticLayers(seed: 10)
            loaded.reseedStochasticLayers(seed: 10)
            let before = actNorms(loaded).map { $0.bias.value.doubles + $0.logScale.value.doubles }
            let c = loaded.forward(secondBatch)
            #expect(actNorms(loaded).map { $0.bias.value.doubles + $0.logScale.value.doubles } == before,
                    "ActNorm re-initialised after loading")
            trained.setTraining(true)
            #expect(bits(c.z) == bits(trained.forward(secondBatch).z))
        }
    }

    @Test func glowLatentKeepsItsInitialisation() throws {
        let spec = FlowSpec.glowLatent(features: 6, blocks: 2, hidden: 8, seed: 1)
        try roundTrip(spec, initBatch: (normal([16, 6], scale: 3, seed: 2) + 1.5).cast(to: .float32),
                      probe: normal([4, 6], seed: 3).cast(to: .float32),
                      secondBatch: (normal([8, 6], scale: 0.2, seed: 4) - 4).cast(to: .float32))
    }

    @Test func glowImagesKeepTheirInitialisation() throws {
        let spec = FlowSpec.glow(GlowConfig(height: 4, width: 4, levels: 1, depth: 2, hidden: 4, seed: 5))
        try roundTrip(spec, initBatch: uniform([8, 1, 4, 4], 0, 0.3, seed: 6).cast(to: .float32),
                      probe: uniform([3, 1, 4, 4], 0, 1, seed: 7).cast(to: .float32),
                      secondBatch: uniform([4, 1, 4, 4], 0.7, 1, seed: 8).cast(to: .float32))
    }
}
