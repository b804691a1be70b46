import Foundation
import Testing
import Tensor
import TestSupport
@testable import NN

/// The configuration a checkpoint carries to rebuild its model.
private struct TinyConfig: Codable, Equatable {
    var inputs = 3
    var hidden = 4
    var note = "tiny"
}

/// Linear → BatchNorm → ReLU → Linear, initialised from `seed`.
private func makeModel(_ c: TinyConfig, seed: UInt64, dtype: DType = .float32) -> Sequential {
    var rng = SeededGenerator(seed: seed)
    return Sequential([
        Linear(c.inputs, c.hidden, dtype: dtype, using: &rng), BatchNorm(c.hidden, dtype: dtype),
        Function.relu, Linear(c.hidden, 2, dtype: dtype, using: &rng),
    ])
}

/// A few Adam steps in training mode, so weights, running statistics and moments are all non-trivial.
private func trained(_ c: TinyConfig = TinyConfig(), seed: UInt64 = 1) -> (Sequential, Adam) {
    let model = makeModel(c, seed: seed)
    let opt = Adam(model.trainableParameters, learningRate: 0.05)
    var rng = SeededGenerator(seed: 99)
    for _ in 0..<3 {
        let x = Tensor.randn([8, c.inputs], using: &rng), r = Tensor.randn([8, 2], using: &rng)
        opt.zeroGrad()
        (model(x) * r).sum().backward()
        opt.step()
    }
    return (model, opt)
}

private func snapshot(_ m: any Module) -> [String: [UInt64]] {
    Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, bits($0.1.value)) })
}

/// Runs `body`, which must throw a CheckpointError about `file` in `dir` and `field`.
private func expectCheckpointError(file: String, in dir: URL, field: String,
                                   problemContains: [String] = [],
                                   sourceLocation: SourceLocation = #_sourceLocation,
                                   _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected one about \(file): \(field)", sourceLocation: sourceLocation)
    } catch let e as CheckpointError {
        #expect(e.path == dir.appendingPathComponent(file).path, sourceLocation: sourceLocation)
        #expect(e.field == field, "\(e)", sourceLocation: sourceLocation)
        let text = "\(e)"
        #expect(text.contains(file) && text.contains(field), "\(text)", sourceLocation: sourceLocation)
        for part in problemContains {
            #expect(e.problem.contains(part), "problem '\(e.problem)' lacks '\(part)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct CheckpointRoundTrip {
    @Test func restoresEveryParameterBufferAndOptimizerMomentBitExactly() throws {
        try withTemporaryDirectory { dir in
            let (model, opt) = trained()
            try Checkpoint.save(model, config: TinyConfig(), to: dir, optimizer: opt, metadata: ["epoch": "3"])

            let fresh = makeModel(TinyConfig(), seed: 2)
            #expect(snapshot(fresh) != snapshot(model), "the fresh model must start out different")
            try Checkpoint.load(into: fresh, from: dir)
            #expect(snapshot(fresh) == snapshot(model))
            // Buffers are included: BatchNorm's running statistics moved away from 0 and 1.
            #expect(snapshot(fresh)["1.running_mean"]!.contains { $0 != 0 })

            let freshOpt = Adam(fresh.trainableParameters, learningRate: 0.05)
            #expect(try Checkpoint.loadOptimizer(freshOpt, from: dir))
            #expect(freshOpt.stepCount == 3)
            let saved = opt.stateTensors(), loaded = freshOpt.stateTensors()
            #expect(Set(saved.keys) == Set(loaded.keys))
            for (k, t) in saved { #expect(bits(loaded[k]!) == bits(t), "\(k)") }

            let (_, metadata) = try Safetensors.read(from: dir.appendingPathComponent(Checkpoint.modelFile))
            #expect(metadata["epoch"] == "3")
        }
    }

    @Test func loadedModelComputesTheSameOutputs() throws {
        try withTemporaryDirectory { dir in
            let (model, _) = trained()
            try Checkpoint.save(model, config: TinyConfig(), to: dir)
            let fresh = makeModel(TinyConfig(), seed: 3)
            try Checkpoint.load(into: fresh, from: dir)
            model.setTraining(false); fresh.setTraining(false)
            var rng = SeededGenerator(seed: 4)
            let x = Tensor.randn([5, 3], using: &rng)
            #expect(bits(fresh(x)) == bits(model(x)))
        }
    }

    @Test func float64ParametersRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let model = makeModel(TinyConfig(), seed: 5, dtype: .float64)
            try Checkpoint.save(model, config: TinyConfig(), to: dir)
            let fresh = makeModel(TinyConfig(), seed: 6, dtype: .float64)
            try Checkpoint.load(into: fresh, from: dir)
            #expect(snapshot(fresh) == snapshot(model))
        }
    }

    @Test func configRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let config = TinyConfig(inputs: 3, hidden: 4, note: "a/b \"quoted\" ünïcode")
            try Checkpoint.save(makeModel(config, seed: 1), config: config, to: dir)
            #expect(try Checkpoint.readConfig(TinyConfig.self, from: dir) == config)
        }
    }

    @Test func leavesExactlyTheCheckpointFilesBehind() throws {
        try withTemporaryDirectory { dir in
            let (model, opt) = trained()
            try Checkpoint.save(model, config: TinyConfig(), to: dir, optimizer: opt)
            try Checkpoint.save(model, config: TinyConfig(), to: dir, optimizer: opt)  // overwrite in place
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            #expect(files == [Checkpoint.configFile, Checkpoint.modelFile, Checkpoint.optimizerFile].sorted())

            let plain = dir.appendingPathComponent("plain")
            try Checkpoint.save(model, config: TinyConfig(), to: plain)
            #expect(try FileManager.default.contentsOfDirectory(atPath: plain.path).sorted()
                    == [Checkpoint.configFile, Checkpoint.modelFile].sorted())
            #expect(try !Checkpoint.loadOptimizer(Adam(model.trainableParameters), from: plain))
        }
    }

    @Test func failedSaveLeavesNoTemporaryFile() throws {
        try withTemporaryDirectory { dir in
            // A directory where model.safetensors should go makes the final rename fail.
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(Checkpoint.modelFile),
                                                    withIntermediateDirectories: false)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(Checkpoint.modelFile + "/x"),
                                                    withIntermediateDirectories: false)
            let (model, _) = trained()
            #expect(throws: (any Error).self) { try Checkpoint.save(model, config: TinyConfig(), to: dir) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") || $0.contains("tmp") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }
}

@Suite struct CheckpointErrors {
    @Test func differentShapeNamesFileAndParameterAndChangesNothing() throws {
        try withTemporaryDirectory { dir in
            let (model, _) = trained()
            try Checkpoint.save(model, config: TinyConfig(), to: dir)
            let wider = makeModel(TinyConfig(hidden: 5), seed: 2)
            let before = snapshot(wider)
            expectCheckpointError(file: Checkpoint.modelFile, in: dir, field: "0.weight", problemContains: ["[4, 3]", "[5, 3]"]) {
                try Checkpoint.load(into: wider, from: dir)
            }
            #expect(snapshot(wider) == before, "a failed load must not change the model")
        }
    }

    @Test func missingParameterIsNamed() throws {
        try withTemporaryDirectory { dir in
            var rng = SeededGenerator(seed: 1)
            try Checkpoint.save(Sequential([Linear(3, 4, using: &rng)]), config: TinyConfig(), to: dir)
            let model = makeModel(TinyConfig(), seed: 2)
            let before = snapshot(model)
            expectCheckpointError(file: Checkpoint.modelFile, in: dir, field: "1.weight", problemContains: ["missing"]) {
                try Checkpoint.load(into: model, from: dir)
            }
            #expect(snapshot(model) == before)
        }
    }

    @Test func extraTensorIsNamed() throws {
        try withTemporaryDirectory { dir in
            try Checkpoint.save(makeModel(TinyConfig(), seed: 1), config: TinyConfig(), to: dir)
            var rng = SeededGenerator(seed: 2)
            let smaller = Sequential([Linear(3, 4, using: &rng)])
            let before = snapshot(smaller)
            // The first unknown name in sorted order.
            expectCheckpointError(file: Checkpoint.modelFile, in: dir, field: "1.bias", problemContains: ["not a parameter"]) {
                try Checkpoint.load(into: smaller, from: dir)
            }
            #expect(snapshot(smaller) == before)
        }
    }

    @Test func differentDTypeIsNamed() throws {
        try withTemporaryDirectory { dir in
            try Checkpoint.save(makeModel(TinyConfig(), seed: 1), config: TinyConfig(), to: dir)
            let model = makeModel(TinyConfig(), seed: 1, dtype: .float64)
            expectCheckpointError(file: Checkpoint.modelFile, in: dir, field: "0.weight", problemContains: ["float32", "float64"]) {
                try Checkpoint.load(into: model, from: dir)
            }
        }
    }

    @Test func missingFileIsNamed() throws {
        try withTemporaryDirectory { dir in
            expectCheckpointError(file: Checkpoint.modelFile, in: dir, field: "file") {
                try Checkpoint.load(into: makeModel(TinyConfig(), seed: 1), from: dir)
            }
            expectCheckpointError(file: Checkpoint.configFile, in: dir, field: "file") {
                _ = try Checkpoint.readConfig(TinyConfig.self, from: dir)
            }
        }
    }

    @Test func configErrorsNameTheKey() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent(Checkpoint.configFile)
            try Data(#"{"inputs": 3, "note": "x"}"#.utf8).write(to: url)
            expectCheckpointError(file: Checkpoint.configFile, in: dir, field: "hidden", problemContains: ["missing"]) {
                _ = try Checkpoint.readConfig(TinyConfig.self, from: dir)
            }
            try Data(#"{"inputs": 3, "hidden": "four", "note": "x"}"#.utf8).write(to: url)
            expectCheckpointError(file: Checkpoint.configFile, in: dir, field: "hidden") {
                _ = try Checkpoint.readConfig(TinyConfig.self, from: dir)
            }
        }
    }

    @Test func optimizerStateMismatchNamesFileAndField() throws {
        try withTemporaryDirectory { dir in
            let (model, _) = trained()
            try Checkpoint.save(model, config: TinyConfig(), to: dir, optimizer: RMSprop(model.trainableParameters))
            expectCheckpointError(file: Checkpoint.optimizerFile, in: dir, field: "step", problemContains: ["missing"]) {
                try Checkpoint.loadOptimizer(Adam(model.trainableParameters), from: dir)
            }
        }
    }
}
