import Foundation
import Tensor
import NN

/// Options of `flowood train-classifier`, saved with the checkpoint.
public struct ClassifierTrainingOptions: Codable, Sendable, Equatable {
    public var epochs = 15
    public var batchSize = 128
    public var learningRate = 3e-3
    /// Cosine decay of the learning rate to zero over the run.
    public var cosineSchedule = true
    public var weightDecay = 0.0
    public var seed: UInt64 = 0
    /// Use only the first N training images (0 = all), for quick runs.
    public var trainLimit = 0
    /// Train on a seeded random subset of this many images (`DataSpec.load(count:seed:)` with
    /// `seed`), nil for all; applied before `trainLimit`.
    public var subset: Int? = nil
    /// Training-time augmentation: each image is shifted by a random (dx, dy) ∈ {−2, …, 2}²
    /// (zero fill) and flipped horizontally with probability ½ (`LabeledImages.augmentedTensor`),
    /// drawn from the epoch's seeded generator.
    public var augment = false
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case epochs, batchSize, learningRate, cosineSchedule, weightDecay, seed, trainLimit, augment, subset
    }

    /// Decodes options saved by any version: fields added later (`augment`, `subset`) take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        cosineSchedule = try c.decode(Bool.self, forKey: .cosineSchedule)
        weightDecay = try c.decode(Double.self, forKey: .weightDecay)
        seed = try c.decode(UInt64.self, forKey: .seed)
        trainLimit = try c.decode(Int.self, forKey: .trainLimit)
        augment = try c.decodeIfPresent(Bool.self, forKey: .augment) ?? false
        subset = try c.decodeIfPresent(Int.self, forKey: .subset)
    }
}

/// What a classifier run saves in `state.json` beside its checkpoint (for resuming).
public struct ClassifierRunState: Codable, Sendable {
    public var model: ClassifierConfig
    public var options: ClassifierTrainingOptions
    public var epochsDone: Int
    public var history: [EpochRecord]

    public struct EpochRecord: Codable, Sendable {
        public var epoch: Int
        public var trainLoss: Double
        public var testAccuracy: Double
        public var seconds: Double
    }
}

public enum ClassifierTrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(epoch: Int, step: Int, value: Double)
    case optionsChanged(path: String, field: String)
    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, step, value):
            return "training diverged: loss \(value) at epoch \(epoch), step \(step)"
        case let .optionsChanged(path, field):
            return "\(path): existing run was made with a different '\(field)'; use a new --out directory or --restart"
        }
    }
}

/// Trains a classifier with Adam on labelled images, evaluating test accuracy after every
/// epoch and checkpointing (model, optimiser, state) so an interrupted run resumes at the last
/// finished epoch. Each epoch's shuffle and augmentation draws come from a generator seeded by
/// (seed, epoch), so a resumed run sees the same batches.
public struct ClassifierTrainer {
    public let config: ClassifierConfig
    public let options: ClassifierTrainingOptions
    public let directory: URL
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    public var showProgress = true

    public init(config: ClassifierConfig, options: ClassifierTrainingOptions, directory: URL) {
        self.config = config
        self.options = options
        self.directory = directory
    }

    static let stateFile = "state.json"

    /// Runs (or resumes) training; returns the final state and the trained model.
    public func run(train: LabeledImages, test: LabeledImages, restart: Bool = false) throws -> (ClassifierRunState, Classifier) {
        let model = Classifier(config)
        let opt = Adam(model.trainableParameters, learningRate: options.learningRate,
                       weightDecay: options.weightDecay > 0 ? .decoupled(options.weightDecay) : .none)
        var state = ClassifierRunState(model: config, options: options, epochsDone: 0, history: [])
        let stateURL = directory.appendingPathComponent(Self.stateFile)
        if !restart, let data = FileManager.default.contents(atPath: stateURL.path) {
            let saved = try JSONDecoder().decode(ClassifierRunState.self, from: data)
            if saved.model != config { throw ClassifierTrainingError.optionsChanged(path: stateURL.path, field: "model") }
            var a = saved.options, b = options
            a.epochs = 0; b.epochs = 0
            if a != b { throw ClassifierTrainingError.optionsChanged(path: stateURL.path, field: "options") }
            try Checkpoint.load(into: model, from: directory)
            try Checkpoint.loadOptimizer(opt, from: directory)
            state = saved
            state.options.epochs = options.epochs
            if state.epochsDone > 0 { log("resuming \(directory.path) after epoch \(state.epochsDone)") }
        }
        let n = options.trainLimit > 0 ? Swift.min(options.trainLimit, train.count) : train.count
        let stepsPerEpoch = (n + options.batchSize - 1) / options.batchSize
        let totalSteps = stepsPerEpoch * options.epochs
        while state.epochsDone < options.epochs {
            let epoch = state.epochsDone + 1
            // Each epoch's shuffle depends only on (seed, epoch): resuming gives the same order.
            var rng = SeededGenerator(seed: options.seed &* 1_000_003 &+ UInt64(epoch))
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            model.setTraining(true)
            let bar = ProgressBar("epoch \(epoch)/\(options.epochs)", total: n)
            bar.quiet = !showProgress
            var lossSum = 0.0, seen = 0
            for s in 0..<stepsPerEpoch {
                let idx = Array(order[(s * options.batchSize)..<Swift.min(n, (s + 1) * options.batchSize)])
                if options.cosineSchedule {
                    let t = Double((epoch - 1) * stepsPerEpoch + s) / Double(Swift.max(totalSteps, 1))
                    opt.learningRate = options.learningRate * 0.5 * (1 + cos(Double.pi * t))
                }
                let x = options.augment ? train.augmentedTensor(indices: idx, using: &rng) : train.tensor(indices: idx)
                let labels = idx.map { Int(train.labels[$0]) }
                let loss = model.logits(x).crossEntropy(labels: labels)
                let lv = loss.item
                guard lv.isFinite else { throw ClassifierTrainingError.nonFiniteLoss(epoch: epoch, step: s, value: lv) }
                model.zeroGrad()
                loss.backward()
                opt.step()
                lossSum += lv * Double(idx.count); seen += idx.count
                bar.advance(by: idx.count, fields: ["loss": String(format: "%.4f", lossSum / Double(seen))])
            }
            let acc = Self.accuracy(model, test)
            state.history.append(.init(epoch: epoch, trainLoss: lossSum / Double(Swift.max(seen, 1)),
                                       testAccuracy: acc, seconds: bar.elapsed))
            state.epochsDone = epoch
            try Checkpoint.save(model, config: config, to: directory, optimizer: opt,
                                metadata: ["format": "flowood-classifier", "epoch": "\(epoch)"])
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(try enc.encode(state), to: stateURL)
            log(String(format: "epoch %d: train loss %.4f, test accuracy %.2f%%", epoch, state.history.last!.trainLoss, acc * 100))
        }
        model.setTraining(false)
        return (state, model)
    }

    /// Fraction of correctly classified images (evaluation mode, no autodiff); the model's
    /// mode is restored afterwards.
    public static func accuracy(_ model: Classifier, _ data: LabeledImages, batchSize: Int = 500) -> Double {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        var correct = 0
        withoutGrad {
            var start = 0
            while start < data.count {
                let idx = Array(start..<Swift.min(data.count, start + batchSize))
                let pred = model.logits(data.tensor(indices: idx)).argmaxRows()
                for (p, i) in zip(pred, idx) where p == Int(data.labels[i]) { correct += 1 }
                start += batchSize
            }
        }
        return Double(correct) / Double(Swift.max(data.count, 1))
    }
}
