import Foundation
import Testing
import Tensor
import NN
import TestSupport
@testable import OOD

@Suite struct ClassifierShape {
    @Test func cnnFMNISTHasTheReferenceParameterCount() {
        // Conv(1→32, 3): 288 + 32, Conv(32→64, 3): 18,432 + 64, Conv(64→128, 3): 73,728 + 128,
        // Linear(128→10): 1,280 + 10; total 93,962 (shared/bench/reference/RESULTS.md).
        let model = Classifier(ClassifierConfig())
        #expect(model.parameterCount == 93_962)
        #expect(model.namedParameters().map(\.0) == [
            "backbone.0.weight", "backbone.0.bias", "backbone.2.weight", "backbone.2.bias",
            "backbone.5.weight", "backbone.5.bias", "head.weight", "head.bias",
        ])
    }

    @Test func featuresAre128DimensionalAndLogitsPerClass() {
        let model = Classifier(ClassifierConfig(classes: 3))
        #expect(model.featureDimension == 128)
        var rng = SeededGenerator(seed: 1)
        let x = Tensor.uniform([2, 1, 12, 12], using: &rng)
        let features = withoutGrad { model.features(x) }
        #expect(features.shape == [2, 128])
        // After ReLU and average pooling every feature is non-negative.
        #expect(features.doubles.allSatisfy { $0 >= 0 })
        #expect(withoutGrad { model.logits(x) }.shape == [2, 3])
    }

    @Test func sameSeedSameWeights() {
        let a = Classifier(ClassifierConfig(seed: 7)), b = Classifier(ClassifierConfig(seed: 7))
        let c = Classifier(ClassifierConfig(seed: 8))
        #expect(a.namedParameters().map { bits($0.1.value) } == b.namedParameters().map { bits($0.1.value) })
        #expect(a.namedParameters().map { bits($0.1.value) } != c.namedParameters().map { bits($0.1.value) })
    }
}

@Suite struct CrossEntropy {
    private let logits: [Float] = [1, 2, 3, 0.5, -1, 2, 0, 0, 0]
    private let labels = [2, 0, 1]

    @Test func equalsHandComputationAndTorch() {
        let loss = Tensor(logits, shape: [3, 3]).crossEntropy(labels: labels).item
        // By hand: mean over rows of log Σ exp(z) − z_label.
        var hand = 0.0
        for (i, l) in labels.enumerated() {
            let row = logits[(3 * i)..<(3 * i + 3)].map(Double.init)
            hand += Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +)) - row[l]
        }
        hand /= 3
        #expect(abs(loss - hand) < 1e-6, "\(loss) vs \(hand)")
        // reference: torch 2.15 F.cross_entropy(tensor([[1,2,3],[0.5,-1,2],[0,0,0]]), tensor([2,0,1])) = 1.08250988
        #expect(abs(loss - 1.08250988) < 1e-6)
    }

    @Test func gradientIsSoftmaxMinusOneHotOverBatch() throws {
        let z = Tensor(logits.map(Double.init), shape: [3, 3], dtype: .float64).requiringGrad()
        z.crossEntropy(labels: labels).backward()
        let g = try #require(z.grad).doubles
        for i in 0..<3 {
            let row = logits[(3 * i)..<(3 * i + 3)].map { Foundation.exp(Double($0)) }
            let total = row.reduce(0, +)
            for k in 0..<3 {
                let expected = (row[k] / total - (k == labels[i] ? 1 : 0)) / 3
                #expect(abs(g[3 * i + k] - expected) < 1e-12, "dL/dz[\(i),\(k)]")
            }
        }
    }

    @Test func argmaxRowsPicksTheLargestLogit() {
        #expect(Tensor(logits, shape: [3, 3]).argmaxRows()[0...1] == [2, 2])
    }
}

// MARK: - Training

/// Two classes: dark images (pixels 0…80) are class 0, bright ones (170…255) class 1.
private func brightDark(count: Int, side: Int = 28, seed: UInt64) -> LabeledImages {
    var rng = SeededGenerator(seed: seed)
    var images: [UInt8] = [], labels: [UInt8] = []
    for i in 0..<count {
        let bright = i % 2 == 1
        labels.append(bright ? 1 : 0)
        for _ in 0..<(side * side) {
            images.append(UInt8(bright ? 170 + rng.next() % 86 : rng.next() % 81))
        }
    }
    return LabeledImages(images: images, labels: labels, height: side, width: side)
}

@Suite struct ClassifierTraining {
    @Test func adamStepsReduceTheLossOnATinyBatch() {
        let data = brightDark(count: 8, side: 10, seed: 1)
        let model = Classifier(ClassifierConfig(classes: 2))
        let opt = Adam(model.trainableParameters, learningRate: 3e-3)
        let x = data.tensor(indices: 0..<8), labels = data.labels.map(Int.init)
        var losses: [Double] = []
        for _ in 0..<6 {
            let loss = model.logits(x).crossEntropy(labels: labels)
            losses.append(loss.item)
            model.zeroGrad()
            loss.backward()
            opt.step()
        }
        losses.append(withoutGrad { model.logits(x).crossEntropy(labels: labels).item })
        #expect(losses.last! < 0.8 * losses.first!, "losses \(losses)")
    }

    /// A log sink that keeps the lines (the trainer calls it from the training thread only).
    final class Lines: @unchecked Sendable { var all: [String] = [] }

    private func trainer(_ dir: URL, epochs: Int, lines: Lines) -> ClassifierTrainer {
        var options = ClassifierTrainingOptions()
        options.epochs = epochs
        options.batchSize = 8
        options.learningRate = 3e-3
        options.trainLimit = 32
        options.seed = 3
        var t = ClassifierTrainer(config: ClassifierConfig(classes: 2, seed: 3), options: options, directory: dir)
        t.showProgress = false
        t.log = { lines.all.append($0) }
        return t
    }

    @Test func trainsSavesAndResumes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowood-trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = brightDark(count: 64, seed: 10), test = brightDark(count: 32, seed: 11)

        let lines = Lines()
        let (state, model) = try trainer(dir, epochs: 2, lines: lines).run(train: train, test: test)
        #expect(state.epochsDone == 2)
        #expect(state.history.map(\.epoch) == [1, 2])
        #expect(state.history.last!.testAccuracy >= 0.9, "\(state.history)")
        #expect(!model.isTraining, "run returns the model in evaluation mode")
        #expect(ClassifierTrainer.accuracy(model, test) == state.history.last!.testAccuracy)
        #expect(!model.isTraining, "accuracy restores the mode it found")
        for file in [Checkpoint.modelFile, Checkpoint.configFile, Checkpoint.optimizerFile, "state.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
        }
        #expect(try Checkpoint.readConfig(ClassifierConfig.self, from: dir) == ClassifierConfig(classes: 2, seed: 3))
        let saved = try JSONDecoder().decode(ClassifierRunState.self,
                                             from: Data(contentsOf: dir.appendingPathComponent("state.json")))
        #expect(saved.epochsDone == 2 && saved.history.count == 2)
        #expect(lines.all.count == 2 && lines.all[1].hasPrefix("epoch 2: train loss"), "\(lines.all)")

        // The saved weights are the returned model's.
        let reloaded = Classifier(ClassifierConfig(classes: 2, seed: 99))
        try Checkpoint.load(into: reloaded, from: dir)
        #expect(reloaded.namedParameters().map { bits($0.1.value) } == model.namedParameters().map { bits($0.1.value) })

        // Asking for one more epoch resumes after epoch 2 and keeps the earlier history.
        let more = Lines()
        let (resumed, _) = try trainer(dir, epochs: 3, lines: more).run(train: train, test: test)
        #expect(resumed.epochsDone == 3)
        #expect(resumed.history.map(\.epoch) == [1, 2, 3])
        #expect(resumed.history.prefix(2).map(\.trainLoss) == state.history.map(\.trainLoss))
        #expect(resumed.history.prefix(2).map(\.testAccuracy) == state.history.map(\.testAccuracy))
        #expect(resumed.options.epochs == 3)
        #expect(more.all.first?.hasPrefix("resuming") == true, "\(more.all)")
        #expect(more.all.filter { $0.hasPrefix("epoch ") }.count == 1, "only epoch 3 runs: \(more.all)")

        // A finished run with the same options does no work.
        let again = Lines()
        let (same, _) = try trainer(dir, epochs: 3, lines: again).run(train: train, test: test)
        #expect(same.history.map(\.epoch) == [1, 2, 3])
        #expect(again.all.filter { $0.hasPrefix("epoch ") }.isEmpty)

        // Different options in the same directory are refused, naming the field.
        var changed = trainer(dir, epochs: 3, lines: Lines())
        var options = changed.options
        options.batchSize = 16
        changed = ClassifierTrainer(config: changed.config, options: options, directory: dir)
        do {
            _ = try changed.run(train: train, test: test)
            Issue.record("changed options were accepted")
        } catch let e as ClassifierTrainingError {
            #expect("\(e)".contains("'options'") && "\(e)".contains("state.json"), "\(e)")
        }
    }
}
