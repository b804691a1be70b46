import Foundation
import Testing
import Tensor
import NN
@testable import Flows
import TestSupport

// MARK: - Tiny problems (debug-friendly sizes)

/// n vectors of 4 features: a fixed linear map of N(0, I) plus an offset, far from N(0, I), so
/// an identity flow scores them badly and training has something to learn.
private func correlatedVectors(_ n: Int, seed: UInt64) -> FlowData {
    var rng = SeededGenerator(seed: seed)
    var v: [Float] = []
    for _ in 0..<n {
        let a = rng.nextNormal(), b = rng.nextNormal(), c = rng.nextNormal(), d = rng.nextNormal()
        v += [Float(3 * a + 2), Float(a + 0.5 * b - 1), Float(0.3 * c + 4), Float(2 * c - d)]
    }
    return FlowData(Tensor(v, shape: [n, 4]))
}

/// n quantised 1×4×4 images (k/255) with a smooth structure plus noise.
private func tinyImages(_ n: Int, seed: UInt64) -> FlowData {
    var rng = SeededGenerator(seed: seed)
    var v: [Float] = []
    for _ in 0..<n {
        let level = rng.nextUnit()
        for y in 0..<4 {
            for x in 0..<4 {
                let p = min(255, max(0, (255 * (0.5 * level + 0.1 * Double(x + y) / 6) + 20 * rng.nextNormal()).rounded()))
                v.append(Float(p / 255))
            }
        }
    }
    return FlowData(Tensor(v, shape: [n, 1, 4, 4]))
}

private let vectorSpec = FlowSpec.realNVPVector(features: 4, couplings: 4, hidden: 16, seed: 3)
private let imageSpec = FlowSpec.realNVP(RealNVPConfig(channels: 1, height: 4, width: 4, mid: 4, blocks: 1, batchNorm: true, seed: 1))

private func quietTrainer(_ spec: FlowSpec, _ options: FlowTrainingOptions, _ dir: URL, log: LogLines? = nil) -> FlowTrainer {
    var trainer = FlowTrainer(spec: spec, options: options, directory: dir)
    trainer.showProgress = false
    trainer.log = { line in log?.lines.append(line) }
    return trainer
}

/// Collects log lines from the trainer's closure.
private final class LogLines { var lines: [String] = [] }

/// Every parameter and buffer of a module by name.
private func values(_ module: any Module) -> [String: [Double]] {
    Dictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.0, $0.1.value.doubles) })
}

/// Expects two modules to hold bit-identical parameters and buffers; a failure names the first
/// differing tensor and element instead of printing every value.
private func expectIdentical(_ a: any Module, _ b: any Module, _ what: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
    let va = values(a), vb = values(b)
    #expect(va.keys.sorted() == vb.keys.sorted(), "\(what): parameter names differ", sourceLocation: sourceLocation)
    for name in va.keys.sorted() {
        guard let x = va[name], let y = vb[name], x.count == y.count else { continue }
        if let i = x.indices.first(where: { x[$0].bitPattern != y[$0].bitPattern }) {
            Issue.record("\(what): \(name)[\(i)] = \(x[i]) vs \(y[i])", sourceLocation: sourceLocation)
            return
        }
    }
}

// MARK: - FlowSpec

@Suite struct FlowSpecTests {
    @Test func jsonFormNamesTheCaseAndFields() throws {
        let spec = FlowSpec.glowLatent(features: 8, blocks: 2, hidden: 16, seed: 5)
        let json = String(decoding: try JSONFile.encode(spec), as: UTF8.self)
        #expect(json.contains("\"glowLatent\"") && json.contains("\"hidden\" : 16"), "\(json)")
        for s in [spec, imageSpec, vectorSpec] {
            #expect(try JSONDecoder().decode(FlowSpec.self, from: JSONEncoder().encode(s)) == s)
        }
        let realNVPJSON = String(decoding: try JSONFile.encode(imageSpec), as: UTF8.self)
        #expect(realNVPJSON.contains("\"realNVP\"") && realNVPJSON.contains("\"config\""), "\(realNVPJSON)")
    }

    @Test func dataKindAndBitsPerDimension() throws {
        #expect(imageSpec.dataKind == .image(channels: 1, height: 4, width: 4))
        #expect(imageSpec.dimensions == 16 && imageSpec.bitsPerDimension == .images && imageSpec.trainingNoiseWidth == nil)
        #expect(vectorSpec.dataKind == .vector(features: 4))
        #expect(vectorSpec.bitsPerDimension == .latent(epsilon: 1.0 / 1024) && vectorSpec.trainingNoiseWidth == 1.0 / 1024)
        // Images: −ll/(D ln 2) + 8; vectors: −ll/(D ln 2) + 10 for ε = 2^−10.
        let ll = -16 * log(2.0)
        #expect(try imageSpec.bitsPerDimension.bitsPerDimension(logLikelihood: [ll], dimensions: 16) == [9])
        #expect(try vectorSpec.bitsPerDimension.bitsPerDimension(logLikelihood: [ll], dimensions: 16) == [11])
    }

    @Test func makeFlowIsDeterministicAndMatchesTheModels() {
        #expect(FlowSpec.realNVP(RealNVPConfig()).makeFlow().parameterCount == 1_513_587)
        #expect(values(vectorSpec.makeFlow()) == values(vectorSpec.makeFlow()))
        let other = FlowSpec.realNVPVector(features: 4, couplings: 4, hidden: 16, seed: 4)
        #expect(values(vectorSpec.makeFlow()) != values(other.makeFlow()))
        #expect(imageSpec.makeFlow().stochasticLayers().count == 1)
    }
}

// MARK: - Training

@Suite struct FlowTrainerTests {
    @Test func trainingLowersValidationNLL() throws {
        try withTemporaryDirectory { dir in
            let data = correlatedVectors(320, seed: 7)
            var options = FlowTrainingOptions()
            options.epochs = 4
            options.batchSize = 32
            options.learningRate = 1e-2
            options.validationFraction = 0.25
            let untrained = try FlowScorer(flow: vectorSpec.makeFlow(), spec: vectorSpec).score(data)
            var reports: [FlowEpochRecord] = []
            var trainer = quietTrainer(vectorSpec, options, dir)
            trainer.onEpoch = { reports.append($0.record) }
            let (state, flow) = try trainer.run(train: data)
            #expect(state.epochsDone == 4 && state.step == 4 * 8)  // 240 training samples, batches of 32
            #expect(reports == state.history)
            let first = try #require(state.history.first?.validationNLL), last = try #require(state.history.last?.validationNLL)
            #expect(last < first, "validation NLL \(first) → \(last)")
            #expect(last < -untrained.meanLogLikelihood - 2, "untrained NLL \(-untrained.meanLogLikelihood), trained \(last)")
            #expect(state.history.allSatisfy { $0.validationBitsPerDim != nil && $0.trainNLL.isFinite })
            #expect(!flow.isTraining)
        }
    }

    @Test(arguments: [FlowTrainingOptions.OptimizerKind.adam, .rmsprop])
    func resumingAfterACrashGivesTheUninterruptedParameters(_ optimizer: FlowTrainingOptions.OptimizerKind) throws {
        try withTemporaryDirectory { root in
            let data = tinyImages(40, seed: 2)
            var options = FlowTrainingOptions()
            options.epochs = 2
            options.batchSize = 16
            options.learningRate = 1e-2
            options.optimizer = optimizer
            options.weightDecay = 1e-3
            options.clipNorm = 50
            options.validationFraction = 0.2
            let straight = try quietTrainer(imageSpec, options, root.appendingPathComponent("a")).run(train: data)

            let dirB = root.appendingPathComponent("b")
            var first = options
            first.epochs = 1
            _ = try quietTrainer(imageSpec, first, dirB).run(train: data)
            // A kill in the middle of writing epoch 2's checkpoint leaves a partial folder behind.
            let partial = dirB.appendingPathComponent(".epoch-0002.partial")
            try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
            let log = LogLines()
            let resumed = try quietTrainer(imageSpec, options, dirB, log: log).run(train: data)

            #expect(log.lines.first?.hasPrefix("resuming ") == true, "\(log.lines)")
            expectIdentical(resumed.flow, straight.flow, "resumed vs uninterrupted")
            #expect(resumed.state.step == straight.state.step && resumed.state.epochsDone == 2)
            #expect(resumed.state.history.map(\.trainNLL) == straight.state.history.map(\.trainNLL))
            #expect(resumed.state.history.map(\.validationNLL) == straight.state.history.map(\.validationNLL))
            #expect(!FileManager.default.fileExists(atPath: partial.path))
            #expect(try FlowRun(directory: dirB).checkpointEpochs == [2])
            // The saved optimiser state matches too.
            let a = try Safetensors.read(from: root.appendingPathComponent("a/epoch-0002/optimizer.safetensors")).0
            let b = try Safetensors.read(from: dirB.appendingPathComponent("epoch-0002/optimizer.safetensors")).0
            #expect(a.keys.sorted() == b.keys.sorted())
            #expect(a.keys.filter { a[$0]!.doubles != b[$0]!.doubles }.sorted() == [], "optimizer state differs")
        }
    }

    @Test func changedConfigurationIsRefusedOnResume() throws {
        try withTemporaryDirectory { dir in
            let data = correlatedVectors(32, seed: 1)
            var options = FlowTrainingOptions()
            options.epochs = 1
            options.batchSize = 16
            _ = try quietTrainer(vectorSpec, options, dir).run(train: data)

            var changed = options
            changed.learningRate = 5e-4
            #expect(throws: FlowTrainingError.configurationChanged(path: dir.appendingPathComponent("config.json").path,
                                                                   field: "options.learningRate", stored: "0.001", requested: "0.0005")) {
                try quietTrainer(vectorSpec, changed, dir).run(train: data)
            }
            let otherSpec = FlowSpec.realNVPVector(features: 4, couplings: 2, hidden: 16, seed: 3)
            do {
                _ = try quietTrainer(otherSpec, options, dir).run(train: data)
                Issue.record("a different model was accepted")
            } catch let FlowTrainingError.configurationChanged(_, field, stored, requested) {
                #expect(field == "spec.realNVPVector.couplings" && stored == "4" && requested == "2")
            }
            // More epochs may be asked for; --restart ignores the old run.
            var longer = options
            longer.epochs = 2
            #expect(try quietTrainer(vectorSpec, longer, dir).run(train: data).state.epochsDone == 2)
            #expect(try quietTrainer(vectorSpec, changed, dir).run(train: data, restart: true).state.epochsDone == 1)
        }
    }

    @Test func divergenceRollsBackAndHalvesTheLearningRate() throws {
        try withTemporaryDirectory { root in
            let data = correlatedVectors(64, seed: 4)
            var options = FlowTrainingOptions()
            options.epochs = 3
            options.batchSize = 16
            options.learningRate = 1e-2
            let log = LogLines()
            var trainer = quietTrainer(vectorSpec, options, root.appendingPathComponent("a"), log: log)
            var fired = false
            trainer.nonFiniteLossInjection = { step in
                // Once, in the middle of epoch 2 (steps 5–8).
                if step == 7 && !fired { fired = true; return true }
                return false
            }
            let (state, flow) = try trainer.run(train: data)
            #expect(log.lines.contains("step 7: non-finite loss; restored epoch-1 state, lr 0.01 → 0.005"), "\(log.lines)")
            #expect(state.divergences == 1 && state.learningRate == 5e-3 && state.epochsDone == 3 && state.step == 12)
            #expect(state.history.map(\.learningRate) == [1e-2, 5e-3, 5e-3])

            // Rolling back must restore epoch 1 exactly: the same as a run whose lr drops to
            // 0.005 after epoch 1 without a failure (resume with a changed lr is refused, so
            // replay epoch 1 in memory and continue with the halved rate by hand).
            var reference = FlowTrainingOptions()
            reference.epochs = 1
            reference.batchSize = 16
            reference.learningRate = 1e-2
            let dirB = root.appendingPathComponent("b")
            _ = try quietTrainer(vectorSpec, reference, dirB).run(train: data)
            // Edit the saved learning rate as the guard would have.
            let stateURL = dirB.appendingPathComponent("state.json")
            var saved = try JSONFile.read(FlowTrainingState.self, from: stateURL)
            saved.learningRate = 5e-3
            try JSONFile.write(saved, to: stateURL)
            reference.epochs = 3
            let replay = try quietTrainer(vectorSpec, reference, dirB).run(train: data)
            expectIdentical(replay.flow, flow, "rolled back vs replayed")
        }
    }

    @Test func divergenceGivesUpAfterTheRetries() throws {
        try withTemporaryDirectory { dir in
            var v = correlatedVectors(32, seed: 5).batch(Array(0..<32)).doubles
            v[4 * 9 + 2] = .nan  // sample 9 poisons every epoch
            let data = FlowData(Tensor(v.map(Float.init), shape: [32, 4]))
            var options = FlowTrainingOptions()
            options.epochs = 2
            options.batchSize = 8
            options.learningRate = 4e-3
            options.maxDivergenceRetries = 2
            let log = LogLines()
            do {
                _ = try quietTrainer(vectorSpec, options, dir, log: log).run(train: data)
                Issue.record("training on NaN data succeeded")
            } catch let FlowTrainingError.diverged(epoch, _, divergences, lr, reason) {
                #expect(epoch == 1 && divergences == 3 && lr == 1e-3 && reason == "non-finite loss")
            }
            #expect(log.lines.filter { $0.contains("restored epoch-0 state") }.count == 2, "\(log.lines)")
            #expect(log.lines.contains { $0.hasSuffix("lr 0.004 → 0.002") } && log.lines.contains { $0.hasSuffix("lr 0.002 → 0.001") })
        }
    }

    @Test func nonFiniteValidationRollsBackAndHalvesTheLearningRate() throws {
        // Decision: a model whose validation log-likelihood is NaN or ±∞ has diverged, like one
        // with a NaN loss; the epoch is rolled back and repeated at half the learning rate.
        try withTemporaryDirectory { dir in
            let data = correlatedVectors(64, seed: 4)
            var options = FlowTrainingOptions()
            options.epochs = 3
            options.batchSize = 16
            options.learningRate = 1e-2
            options.validationFraction = 0.25
            let log = LogLines()
            var trainer = quietTrainer(vectorSpec, options, dir, log: log)
            var validations: [Int] = []
            trainer.nonFiniteValidationInjection = { epoch in
                validations.append(epoch)
                return validations == [1, 2]  // only the first validation of epoch 2
            }
            let (state, _) = try trainer.run(train: data)
            // 48 training samples: 3 steps per epoch; epoch 2's steps 4–6 are rolled back and redone.
            #expect(validations == [1, 2, 2, 3])
            #expect(log.lines.contains("step 6: non-finite validation log-likelihood after epoch 2 (sample 0 of the validation data: nan); "
                                       + "restored epoch-1 state, lr 0.01 → 0.005"), "\(log.lines)")
            #expect(state.divergences == 1 && state.learningRate == 5e-3 && state.epochsDone == 3 && state.step == 9)
            #expect(state.history.map(\.epoch) == [1, 2, 3] && state.history.map(\.learningRate) == [1e-2, 5e-3, 5e-3])
            #expect(state.history.allSatisfy { $0.validationNLL?.isFinite == true })
        }
    }

    @Test func nonFiniteValidationDataGivesUpNamingTheEpochAndSample() throws {
        try withTemporaryDirectory { dir in
            let train = correlatedVectors(32, seed: 5)
            var v = correlatedVectors(8, seed: 6).batch(Array(0..<8)).doubles
            v[4 * 3 + 1] = .nan  // validation sample 3 can never score
            let validation = FlowData(Tensor(v.map(Float.init), shape: [8, 4]))
            var options = FlowTrainingOptions()
            options.epochs = 2
            options.batchSize = 16
            options.maxDivergenceRetries = 1
            let log = LogLines()
            do {
                _ = try quietTrainer(vectorSpec, options, dir, log: log).run(train: train, validation: validation)
                Issue.record("training with unscorable validation data succeeded")
            } catch let error as FlowTrainingError {
                #expect(error == .diverged(epoch: 1, step: 2, divergences: 2, learningRate: 5e-4,
                                           reason: "non-finite validation log-likelihood after epoch 1 (sample 3 of the validation data: nan)"))
                #expect(error.description.hasPrefix("training diverged at epoch 1, step 2: non-finite validation log-likelihood"))
            }
            #expect(log.lines.count == 1 && log.lines[0].hasSuffix("restored epoch-0 state, lr 0.001 → 0.0005"), "\(log.lines)")
            // Nothing was checkpointed: no epoch finished.
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("state.json").path))
        }
    }

    @Test func snapshotsCallbacksAndCheckpointInterval() throws {
        try withTemporaryDirectory { root in
            let data = correlatedVectors(48, seed: 6)
            var options = FlowTrainingOptions()
            options.epochs = 3
            options.batchSize = 16
            options.keepSnapshots = true
            var checkpoints: [URL?] = []
            let leftover = root.appendingPathComponent("snap/.epoch-0002.partial")
            try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)
            var trainer = quietTrainer(vectorSpec, options, root.appendingPathComponent("snap"))
            var perEpoch: [[String: [Double]]] = []
            trainer.onEpoch = { report in
                checkpoints.append(report.checkpoint)
                perEpoch.append(values(report.flow))
            }
            _ = try trainer.run(train: data)
            let run = try FlowRun(directory: root.appendingPathComponent("snap"))
            #expect(run.checkpointEpochs == [1, 2, 3] && run.state.checkpoint == "epoch-0003")
            #expect(!FileManager.default.fileExists(atPath: leftover.path))
            #expect(checkpoints.map { $0?.lastPathComponent } == ["epoch-0001", "epoch-0002", "epoch-0003"])
            for e in 1...3 { #expect(values(try run.loadFlow(epoch: e)) == perEpoch[e - 1], "epoch \(e) snapshot differs from the callback's model") }
            #expect(throws: FlowTrainingError.self) { try run.loadFlow(epoch: 4) }

            options.keepSnapshots = false
            options.checkpointEvery = 2
            _ = try quietTrainer(vectorSpec, options, root.appendingPathComponent("every2")).run(train: data)
            let sparse = try FlowRun(directory: root.appendingPathComponent("every2"))
            #expect(sparse.checkpointEpochs == [3] && sparse.state.epochsDone == 3)
        }
    }

    @Test func negativeTrainingLowersTheLikelihoodOfTheNegativeData() throws {
        try withTemporaryDirectory { root in
            let id = correlatedVectors(128, seed: 8)
            // OOD: the ID data shrunk towards its mean, which a plain flow finds *more* likely.
            var rng = SeededGenerator(seed: 9)
            let ood = FlowData(Tensor((0..<(64 * 4)).map { i in Float([2, -1, 4, 0][i % 4] + 0.2 * rng.nextNormal()) }, shape: [64, 4]))
            var options = FlowTrainingOptions()
            options.epochs = 3
            options.batchSize = 32
            options.learningRate = 1e-2
            let plain = try quietTrainer(vectorSpec, options, root.appendingPathComponent("plain")).run(train: id)
            options.negative = .init(weight: 1, threshold: -1e9)
            let negative = try quietTrainer(vectorSpec, options, root.appendingPathComponent("neg")).run(train: id, negative: ood)
            let llPlain = try FlowScorer(flow: plain.flow, spec: vectorSpec).score(ood).meanLogLikelihood
            let llNegative = try FlowScorer(flow: negative.flow, spec: vectorSpec).score(ood).meanLogLikelihood
            #expect(llNegative < llPlain - 1, "OOD log-likelihood plain \(llPlain), negative training \(llNegative)")
            #expect(negative.state.history.allSatisfy { $0.negativeLogLikelihood != nil && $0.trainLoss != $0.trainNLL })
            #expect(throws: FlowTrainingError.self) {
                try quietTrainer(vectorSpec, options, root.appendingPathComponent("x")).run(train: id)
            }
        }
    }

    @Test func wrongShapesAndOptionsAreTypedErrors() throws {
        try withTemporaryDirectory { dir in
            #expect(throws: FlowDataError.self) {
                try quietTrainer(imageSpec, FlowTrainingOptions(), dir).run(train: correlatedVectors(8, seed: 1))
            }
            var options = FlowTrainingOptions()
            options.batchSize = 0
            #expect(throws: FlowTrainingError.invalidOption(field: "batchSize", problem: "must be at least 1, got 0")) {
                try quietTrainer(vectorSpec, options, dir).run(train: correlatedVectors(8, seed: 1))
            }
        }
    }
}

// MARK: - Scoring

@Suite struct FlowScorerTests {
    @Test func nonFiniteScoreNamesTheSample() throws {
        var v = correlatedVectors(10, seed: 2).batch(Array(0..<10)).doubles
        v[4 * 6 + 1] = .infinity
        let data = FlowData(Tensor(v.map(Float.init), shape: [10, 4]))
        let scorer = FlowScorer(flow: vectorSpec.makeFlow(), spec: vectorSpec, batchSize: 4)
        do {
            _ = try scorer.score(data, name: "poisoned")
            Issue.record("a non-finite score was accepted")
        } catch let e as NonFiniteScoreError {
            #expect(e.index == 6 && e.what == "log-likelihood of poisoned" && !e.value.isFinite)
        }
    }

    @Test func scoringIsSeededInEvaluationModeAndLeavesTheModelAsItWas() throws {
        let flow = imageSpec.makeFlow()
        let data = tinyImages(12, seed: 3)
        let before = (flow.stochasticLayers()[0].rng, values(flow))
        let a = try FlowScorer(flow: flow, spec: imageSpec, batchSize: 5, seed: 1).score(data)
        let b = try FlowScorer(flow: flow, spec: imageSpec, batchSize: 12, seed: 1).score(data)
        let c = try FlowScorer(flow: flow, spec: imageSpec, batchSize: 5, seed: 2).score(data)
        #expect(a.logLikelihood.count == 12 && a.logLikelihood != c.logLikelihood)
        // Sample i gets the i-th noise draw whatever the batching; GEMM blocking may differ in the last bits.
        expectClose(b.logLikelihood, a.logLikelihood, tolerance: 1e-3, relativeTolerance: 1e-6, "batch 12 vs 5")
        #expect(flow.isTraining && values(flow) == before.1)
        var g1 = flow.stochasticLayers()[0].rng, g0 = before.0
        #expect(g1.next() == g0.next())
        // bpd by the image convention, from the same log-likelihoods.
        expectClose(a.bitsPerDimension, a.logLikelihood.map { -$0 / (16 * log(2.0)) + 8 }, tolerance: 1e-12)
        // Evaluation mode: BatchNorm uses running statistics (all zeros/ones at first), so a
        // sample's score does not depend on the rest of its batch.
        let single = try FlowScorer(flow: flow, spec: imageSpec, batchSize: 1, seed: 1).score(data)
        expectClose(single.logLikelihood, a.logLikelihood, tolerance: 1e-3, relativeTolerance: 1e-6)
    }
}
