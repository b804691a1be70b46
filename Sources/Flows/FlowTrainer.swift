import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Tensor
import NN

/// How a flow is trained; saved in the run's `config.json` and checked when a run resumes.
///
/// Defaults are for quick runs of the reference models; the paper's FashionMNIST RealNVP used
/// Adam, lr 5e-5, batch 32, weight decay 5e-5, gradient clipping at norm 100.
public struct FlowTrainingOptions: Codable, Sendable, Equatable {
    /// The optimiser.
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        /// Adam (β = 0.9, 0.999, ε = 1e-8), PyTorch semantics.
        case adam
        /// RMSprop (α = 0.99, ε = 1e-8, no momentum), PyTorch semantics (the paper's Glow).
        case rmsprop
    }

    /// Negative training (Kirichenko et al. 2020, Appendix B): each step also pushes down the
    /// likelihood of out-of-distribution samples,
    ///
    ///     loss = ½ (mean_ID NLL(x) + weight · mean_{x̃ ∈ OOD batch, log p(x̃) > threshold} log p(x̃))
    ///
    /// (the OOD term is 0 when no sample of the batch is above the threshold).
    /// Deviation: `weight` is ours (the paper's is 1). The threshold is in the units of
    /// `FlowLayer.logLikelihood` (nats of the dequantised v ∈ [0, 1)^D for images); the paper's
    /// −3e4 for (F)MNIST is of the 8-bit image, log p(v) − D·ln 256, i.e. −3e4 + 784·ln 256 ≈
    /// −25,653 here.
    public struct NegativeTraining: Codable, Sendable, Equatable {
        public var weight: Double
        public var threshold: Double
        public init(weight: Double = 1, threshold: Double) {
            self.weight = weight
            self.threshold = threshold
        }
    }

    public var epochs = 10
    public var batchSize = 64
    /// The initial learning rate (constant unless halved by the divergence guard).
    public var learningRate = 1e-3
    public var optimizer: OptimizerKind = .adam
    /// L2 weight decay added to the gradient (PyTorch's `weight_decay`); 0 disables it.
    public var weightDecay = 0.0
    /// Maximum global gradient L2 norm (`clipGradientNorm`); 0 disables clipping.
    public var clipNorm = 0.0
    /// Seed of the shuffling, the noise, the validation split and the scoring noise. The model's
    /// initialisation is seeded by the `FlowSpec`.
    public var seed: UInt64 = 0
    /// Write a checkpoint every N epochs (and after the last).
    public var checkpointEvery = 1
    /// Keep every checkpoint (epoch-0001, epoch-0002, ...) instead of only the latest, for
    /// curves of a metric against the epoch.
    public var keepSnapshots = false
    /// Fraction of the training data held out for per-epoch validation when no validation set
    /// is given (a seeded random subset); 0 disables validation.
    public var validationFraction = 0.0
    /// Divergences (non-finite loss, gradient or validation score) survived by rolling back and
    /// halving the learning rate before training fails.
    public var maxDivergenceRetries = 3
    /// Negative training on a second data set, or nil.
    public var negative: NegativeTraining?
    /// A caller-chosen description of the training data ("fashion-mnist-train, 2000"),
    /// checked on resume like every other option.
    public var dataName = ""

    public init() {}

    /// Options that may change when a run is resumed (the rest must match).
    static let resumable: Set<String> = ["epochs", "checkpointEvery", "keepSnapshots", "maxDivergenceRetries"]

    /// Throws for values training cannot run with.
    public func validate() throws {
        func bad(_ field: String, _ problem: String) -> FlowTrainingError { .invalidOption(field: field, problem: problem) }
        guard epochs >= 1 else { throw bad("epochs", "must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw bad("batchSize", "must be at least 1, got \(batchSize)") }
        guard learningRate > 0 && learningRate.isFinite else { throw bad("learningRate", "must be positive, got \(learningRate)") }
        guard weightDecay >= 0 else { throw bad("weightDecay", "must be ≥ 0, got \(weightDecay)") }
        guard clipNorm >= 0 else { throw bad("clipNorm", "must be ≥ 0 (0 = off), got \(clipNorm)") }
        guard checkpointEvery >= 1 else { throw bad("checkpointEvery", "must be at least 1, got \(checkpointEvery)") }
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw bad("validationFraction", "must be in [0, 1), got \(validationFraction)")
        }
        guard maxDivergenceRetries >= 0 else { throw bad("maxDivergenceRetries", "must be ≥ 0, got \(maxDivergenceRetries)") }
        if let negative, !negative.weight.isFinite || negative.weight < 0 {
            throw bad("negative.weight", "must be ≥ 0, got \(negative.weight)")
        }
    }
}

/// What a run directory's `config.json` (and each checkpoint's) holds: the model and the options.
public struct FlowRunConfig: Codable, Sendable, Equatable {
    /// "flowood-flow-run".
    public var format = FlowRunConfig.formatName
    public var spec: FlowSpec
    public var options: FlowTrainingOptions
    public static let formatName = "flowood-flow-run"

    public init(spec: FlowSpec, options: FlowTrainingOptions) {
        self.spec = spec
        self.options = options
    }
}

/// One epoch of a training run.
public struct FlowEpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Optimiser steps taken by the end of this epoch (over the whole run).
    public var step: Int
    /// Mean training objective (the NLL in nats, or the negative-training loss).
    public var trainLoss: Double
    /// Mean negative log-likelihood of the training batches (nats per sample).
    public var trainNLL: Double
    /// `trainNLL` in bits per dimension.
    public var trainBitsPerDim: Double
    /// Mean validation NLL (nats), evaluation mode, after the epoch; nil without validation.
    public var validationNLL: Double?
    public var validationBitsPerDim: Double?
    /// Mean log-likelihood of the negative batches (nats), with negative training.
    public var negativeLogLikelihood: Double?
    /// The learning rate the epoch ran with.
    public var learningRate: Double
    /// Wall-clock seconds of the epoch's training steps (not validation).
    public var seconds: Double
}

/// What a run directory's `state.json` holds: where training stands. Written atomically after
/// each checkpoint; the checkpoint it names holds the matching parameters and optimiser state.
///
/// Random state: every generator of an epoch is derived from (options.seed, epoch) with
/// `derivedSeed`, so (seed, `epochsDone`) is the complete random state at a checkpoint.
public struct FlowTrainingState: Codable, Sendable, Equatable {
    public var epochsDone = 0
    /// Optimiser steps taken.
    public var step = 0
    /// The current learning rate (the initial one, halved at each divergence).
    public var learningRate: Double
    /// Divergences survived so far.
    public var divergences = 0
    /// The latest checkpoint's folder in the run directory ("epoch-0003"), nil before the first.
    public var checkpoint: String?
    public var history: [FlowEpochRecord] = []

    public init(learningRate: Double) { self.learningRate = learningRate }
}

/// Why training stopped or could not start.
public enum FlowTrainingError: Error, CustomStringConvertible, Equatable {
    /// The loss, a gradient or a validation score was non-finite more often than
    /// `maxDivergenceRetries` allows.
    case diverged(epoch: Int, step: Int, divergences: Int, learningRate: Double, reason: String)
    /// An existing run in the directory was made with a different model or options.
    case configurationChanged(path: String, field: String, stored: String, requested: String)
    /// An option has a value training cannot run with.
    case invalidOption(field: String, problem: String)
    /// A run directory without a usable checkpoint.
    case noCheckpoint(path: String, problem: String)

    public var description: String {
        switch self {
        case let .diverged(epoch, step, divergences, lr, reason):
            return "training diverged at epoch \(epoch), step \(step): \(reason), \(divergences) times "
                + "(last learning rate \(formatRate(lr))); lower the learning rate or enable gradient clipping"
        case let .configurationChanged(path, field, stored, requested):
            return "\(path): the existing run was made with \(field) = \(stored), not \(requested); "
                + "use a new run directory or --restart"
        case let .invalidOption(field, problem):
            return "option \(field): \(problem)"
        case let .noCheckpoint(path, problem):
            return "\(path): \(problem)"
        }
    }
}

/// 5e-05 → "5e-5", 0.001 → "0.001".
func formatRate(_ x: Double) -> String {
    var s = String(format: "%g", x)
    for (from, to) in [("e-0", "e-"), ("e+0", "e+")] { s = s.replacingOccurrences(of: from, with: to) }
    return s
}

/// Handed to `FlowTrainer.onEpoch` after each epoch (after validation and any checkpoint).
public struct FlowEpochReport {
    public let record: FlowEpochRecord
    /// The model after the epoch (evaluate it here for curves; the trainer reseeds its noise
    /// before the next epoch, so evaluating does not change the run).
    public let flow: any FlowLayer
    public let spec: FlowSpec
    /// The checkpoint written for this epoch, if any.
    public let checkpoint: URL?
}

/// Trains a `FlowSpec` by maximum likelihood (optionally with negative training) on batches of
/// `FlowData`, with per-epoch validation, checkpoints in a run directory, resumption, and a
/// divergence guard.
///
/// Objective: mean over the batch of −log p(x) in nats (`FlowLayer.logLikelihood`). Vector
/// flows see x + u, u ~ U(−ε/2, ε/2)^D, ε = 1/1024 (LDE); image flows dequantise internally.
///
/// Run directory:
///
///     config.json    FlowRunConfig (spec + options)
///     state.json     FlowTrainingState (epoch, step, lr, divergences, history, latest checkpoint)
///     epoch-0003/    model.safetensors, optimizer.safetensors, config.json
///
/// A checkpoint folder is written under a temporary name and renamed into place, then
/// state.json is replaced atomically, so a kill at any moment leaves the previous checkpoint
/// usable (with `checkpointEvery` = 1 a kill mid-epoch loses at most that epoch). Running again
/// with the same directory resumes after the last checkpoint and gives the parameters an
/// uninterrupted run would have (all randomness is derived from (seed, epoch)); a different
/// model or option (other than epochs, checkpointEvery, keepSnapshots, maxDivergenceRetries)
/// is refused with `FlowTrainingError.configurationChanged`.
///
/// Divergence guard: a non-finite loss or gradient, or a non-finite validation log-likelihood
/// after an epoch, restores the parameters and optimiser state of the last finished epoch
/// (kept in memory), halves the learning rate, logs one line and repeats the epoch; after
/// `maxDivergenceRetries` such restarts it throws `.diverged`, naming the epoch, the step and
/// the reason (for validation: the index and value of the first non-finite sample).
public struct FlowTrainer {
    public let spec: FlowSpec
    public let options: FlowTrainingOptions
    public let directory: URL
    /// Where progress lines go (default: standard error).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Draw the per-epoch progress bar (rate, ETA, loss) on standard error.
    public var showProgress = true
    /// Called after each epoch, e.g. to record curves or evaluate the model.
    public var onEpoch: ((FlowEpochReport) throws -> Void)?
    /// Test hook: returns true for a (run-wide, 1-based) step whose loss should count as NaN.
    var nonFiniteLossInjection: ((Int) -> Bool)?
    /// Test hook: returns true for an epoch whose validation should count as NaN (sample 0).
    var nonFiniteValidationInjection: ((Int) -> Bool)?

    static let stateFile = "state.json"

    /// - Parameters:
    ///   - spec: the model.
    ///   - options: how to train it.
    ///   - directory: the run directory (created if missing).
    public init(spec: FlowSpec, options: FlowTrainingOptions, directory: URL) {
        self.spec = spec
        self.options = options
        self.directory = directory
    }

    /// Trains (or resumes) and returns the final state and model (in evaluation mode).
    /// - Parameters:
    ///   - train: the training samples (images in [0, 1] or vectors) of the spec's shape.
    ///   - validation: scored after every epoch; if nil, `options.validationFraction` of `train`
    ///     is held out instead.
    ///   - negative: out-of-distribution samples for negative training (needs `options.negative`).
    ///   - restart: ignore (and remove) an existing run in the directory.
    /// - Throws: `FlowTrainingError`, `FlowDataError`, checkpoint and I/O errors.
    public func run(train: FlowData, validation: FlowData? = nil, negative: FlowData? = nil,
                    restart: Bool = false) throws -> (state: FlowTrainingState, flow: any FlowLayer) {
        try options.validate()
        try FlowScorer.checkShape(train, spec: spec, name: "training data")
        if let validation { try FlowScorer.checkShape(validation, spec: spec, name: "validation data") }
        if let negative { try FlowScorer.checkShape(negative, spec: spec, name: "negative data") }
        guard (negative != nil) == (options.negative != nil) else {
            throw FlowTrainingError.invalidOption(field: "negative", problem: negative == nil
                ? "negative training is configured but no negative data was given"
                : "negative data was given but negative training is not configured")
        }
        if let negative, negative.count == 0 { throw FlowDataError(what: "negative data", problem: "no samples") }

        // Training / validation split.
        var trainSet = train, validationSet = validation
        if validation == nil && options.validationFraction > 0 {
            let held = Swift.min(train.count - 1, Swift.max(1, Int((Double(train.count) * options.validationFraction).rounded())))
            var rng = SeededGenerator(seed: derivedSeed(options.seed, 6))
            let order = Array(0..<train.count).shuffled(using: &rng)
            trainSet = train.subset(Array(order[held...]).sorted())
            validationSet = train.subset(Array(order[..<held]).sorted())
        }
        guard trainSet.count >= 1 else { throw FlowDataError(what: "training data", problem: "no samples") }

        // Model, optimiser, and any existing run.
        let flow = spec.makeFlow()
        let parameters = flow.trainableParameters
        let optimizer: any Optimizer
        let decay: WeightDecay = options.weightDecay > 0 ? .l2(options.weightDecay) : .none
        switch options.optimizer {
        case .adam: optimizer = Adam(parameters, learningRate: options.learningRate, weightDecay: decay)
        case .rmsprop: optimizer = RMSprop(parameters, learningRate: options.learningRate, weightDecay: decay)
        }
        let runConfig = FlowRunConfig(spec: spec, options: options)
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let stateURL = directory.appendingPathComponent(Self.stateFile)
        let configURL = directory.appendingPathComponent(Checkpoint.configFile)
        var state = FlowTrainingState(learningRate: options.learningRate)
        if restart {
            try? fm.removeItem(at: stateURL)
            for name in try Self.checkpointFolders(in: directory) { try fm.removeItem(at: directory.appendingPathComponent(name)) }
        } else if fm.fileExists(atPath: stateURL.path) {
            let saved = try JSONFile.read(FlowTrainingState.self, from: stateURL)
            let savedConfig = try JSONFile.read(FlowRunConfig.self, from: configURL)
            let ignored = Set(FlowTrainingOptions.resumable.map { "options.\($0)" })
            if let d = try JSONFile.firstDifference(savedConfig, runConfig, ignoring: ignored) {
                throw FlowTrainingError.configurationChanged(path: configURL.path, field: d.field, stored: d.first, requested: d.second)
            }
            if let name = saved.checkpoint {
                let folder = directory.appendingPathComponent(name)
                try Checkpoint.load(into: flow, from: folder)
                guard try Checkpoint.loadOptimizer(optimizer, from: folder) else {
                    throw FlowTrainingError.noCheckpoint(path: folder.appendingPathComponent(Checkpoint.optimizerFile).path,
                                                         problem: "missing optimizer state; cannot resume")
                }
            }
            state = saved
            optimizer.learningRate = state.learningRate
            if state.epochsDone > 0 {
                log("resuming \(directory.path) after epoch \(state.epochsDone) (step \(state.step), lr \(formatRate(state.learningRate)))")
            }
        }
        try JSONFile.write(runConfig, to: configURL)

        var good = TrainingSnapshot(flow, optimizer: optimizer, label: state.epochsDone)
        var goodStep = state.step
        let context = EpochContext(flow: flow, parameters: parameters, optimizer: optimizer,
                                   train: trainSet, negative: negative)
        while state.epochsDone < options.epochs {
            let epoch = state.epochsDone + 1
            var record: FlowEpochRecord
            do {
                record = try trainEpoch(epoch, context, &state)
                if let validationSet, validationSet.count > 0 {
                    let scores = try validate(flow, validationSet, epoch: epoch, step: state.step)
                    record.validationNLL = -scores.meanLogLikelihood
                    record.validationBitsPerDim = scores.meanBitsPerDimension
                }
            } catch let failure as Divergence {
                try good.restore(into: flow, optimizer: optimizer)
                state.step = goodStep
                state.divergences += 1
                if state.divergences > options.maxDivergenceRetries {
                    throw FlowTrainingError.diverged(epoch: epoch, step: failure.step, divergences: state.divergences,
                                                     learningRate: state.learningRate, reason: failure.reason)
                }
                let old = state.learningRate
                state.learningRate = old / 2
                optimizer.learningRate = state.learningRate
                log("step \(failure.step): \(failure.reason); restored epoch-\(good.label) state, lr \(formatRate(old)) → \(formatRate(state.learningRate))")
                continue
            }
            state.epochsDone = epoch
            state.history.append(record)
            var checkpoint: URL?
            if epoch % options.checkpointEvery == 0 || epoch == options.epochs {
                checkpoint = try saveCheckpoint(flow, optimizer, runConfig, &state)
            }
            good = TrainingSnapshot(flow, optimizer: optimizer, label: epoch)
            goodStep = state.step
            var line = String(format: "epoch %d: train nll %.2f nats (%.4f bpd)", epoch, record.trainNLL, record.trainBitsPerDim)
            if let v = record.validationBitsPerDim, let nll = record.validationNLL {
                line += String(format: ", validation nll %.2f (%.4f bpd)", nll, v)
            }
            if let n = record.negativeLogLikelihood { line += String(format: ", negative ll %.2f", n) }
            line += ", lr \(formatRate(record.learningRate)), \(ProgressBar.clock(record.seconds))"
            log(line)
            try onEpoch?(FlowEpochReport(record: record, flow: flow, spec: spec, checkpoint: checkpoint))
        }
        flow.setTraining(false)
        return (state, flow)
    }

    /// What one epoch works on.
    private struct EpochContext {
        let flow: any FlowLayer
        let parameters: [Parameter]
        let optimizer: any Optimizer
        let train: FlowData
        let negative: FlowData?
    }

    /// A non-finite loss or gradient at a step, or a non-finite validation score after an epoch.
    private struct Divergence: Error {
        let step: Int
        let reason: String
    }

    /// Scores the validation data after `epoch` (evaluation mode, seeded noise); a non-finite
    /// log-likelihood is a divergence of the model, handled like a non-finite loss.
    private func validate(_ flow: any FlowLayer, _ data: FlowData, epoch: Int, step: Int) throws -> FlowScores {
        var scorer = FlowScorer(flow: flow, spec: spec, batchSize: Swift.max(options.batchSize, 256),
                                seed: derivedSeed(options.seed, 5))
        scorer.showProgress = showProgress
        scorer.progressLabel = "validation"
        do {
            if nonFiniteValidationInjection?(epoch) == true {
                throw NonFiniteScoreError(what: "log-likelihood of validation data", index: 0, value: .nan)
            }
            return try scorer.score(data, name: "validation data")
        } catch let e as NonFiniteScoreError {
            throw Divergence(step: step, reason: "non-finite validation log-likelihood after epoch \(epoch) "
                                                 + "(sample \(e.index) of the validation data: \(e.value))")
        }
    }

    /// One pass over the training data; throws `Divergence` at the first non-finite loss or
    /// gradient (the caller rolls back).
    private func trainEpoch(_ epoch: Int, _ c: EpochContext, _ state: inout FlowTrainingState) throws -> FlowEpochRecord {
        let n = c.train.count, batch = options.batchSize
        let e = UInt64(epoch)
        var shuffle = SeededGenerator(seed: derivedSeed(options.seed, e, 1))
        let order = Array(0..<n).shuffled(using: &shuffle)
        c.flow.reseedStochasticLayers(seed: derivedSeed(options.seed, e, 2))
        var noise = SeededGenerator(seed: derivedSeed(options.seed, e, 3))
        var negativeOrder: [Int] = []
        if let negative = c.negative {
            var g = SeededGenerator(seed: derivedSeed(options.seed, e, 4))
            negativeOrder = Array(0..<negative.count).shuffled(using: &g)
        }
        let noiseWidth = spec.trainingNoiseWidth
        func noisy(_ x: Tensor) -> Tensor {
            guard let eps = noiseWidth else { return x }
            return x + Tensor.uniform(x.shape, lo: -eps / 2, hi: eps / 2, dtype: x.dtype, using: &noise)
        }
        let convention = spec.bitsPerDimension, d = spec.dimensions
        c.flow.setTraining(true)
        let bar = ProgressBar("epoch \(epoch)/\(options.epochs)", total: n, unit: spec.dataKind.sampleShape.count == 1 ? "vec" : "img")
        bar.quiet = !showProgress
        var lossSum = 0.0, nllSum = 0.0, negativeSum = 0.0, seen = 0, negativeSeen = 0
        var start = 0, s = 0
        while start < n {
            let end = Swift.min(n, start + batch)
            let step = state.step + 1
            let x = noisy(c.train.batch(Array(order[start..<end])))
            let nll = -c.flow.logLikelihood(of: x).mean()
            var loss = nll
            var negativeMean: Double?
            if let negative = c.negative, let setting = options.negative {
                let idx = (0..<(end - start)).map { negativeOrder[(s * batch + $0) % negative.count] }
                let llo = c.flow.logLikelihood(of: noisy(negative.batch(idx)))
                let values = llo.detached.doubles
                let mask = values.map { $0 > setting.threshold ? 1.0 : 0.0 }
                let active = mask.reduce(0, +)
                if active > 0 {
                    let term = (llo * Tensor(mask, shape: [mask.count], dtype: llo.dtype)).sum() / active
                    loss = 0.5 * (nll + setting.weight * term)
                } else {
                    loss = 0.5 * nll
                }
                negativeMean = values.reduce(0, +) / Double(values.count)
            }
            var lossValue = loss.item
            if nonFiniteLossInjection?(step) == true { lossValue = .nan }
            guard lossValue.isFinite else { throw Divergence(step: step, reason: "non-finite loss") }
            c.optimizer.zeroGrad()
            loss.backward()
            if options.clipNorm > 0 {
                let norm = clipGradientNorm(c.parameters, maxNorm: options.clipNorm)
                guard norm.isFinite else { throw Divergence(step: step, reason: "non-finite gradient") }
            } else {
                guard gradientsAreFinite(c.parameters) else { throw Divergence(step: step, reason: "non-finite gradient") }
            }
            c.optimizer.step()
            c.optimizer.zeroGrad()
            state.step = step
            let b = end - start
            lossSum += lossValue * Double(b)
            nllSum += nll.item * Double(b)
            seen += b
            if let m = negativeMean { negativeSum += m * Double(b); negativeSeen += b }
            let meanNLL = nllSum / Double(seen)
            bar.advance(by: b, fields: ["nll": String(format: "%.2f", meanNLL),
                                        "bpd": String(format: "%.3f", convention.bitsPerDimension(meanLogLikelihood: -meanNLL, dimensions: d))])
            start = end
            s += 1
        }
        let trainNLL = nllSum / Double(seen)
        return FlowEpochRecord(epoch: epoch, step: state.step, trainLoss: lossSum / Double(seen), trainNLL: trainNLL,
                               trainBitsPerDim: convention.bitsPerDimension(meanLogLikelihood: -trainNLL, dimensions: d),
                               validationNLL: nil, validationBitsPerDim: nil,
                               negativeLogLikelihood: negativeSeen > 0 ? negativeSum / Double(negativeSeen) : nil,
                               learningRate: state.learningRate, seconds: bar.elapsed)
    }

    /// Writes `epoch-NNNN/` (model, optimiser, config) under a temporary name, renames it into
    /// place, then commits `state.json`; removes older checkpoints unless snapshots are kept.
    private func saveCheckpoint(_ flow: any FlowLayer, _ optimizer: any Optimizer, _ config: FlowRunConfig,
                                _ state: inout FlowTrainingState) throws -> URL {
        let fm = FileManager.default
        let name = FlowRun.folderName(epoch: state.epochsDone)
        let partial = directory.appendingPathComponent(".\(name).partial")
        let target = directory.appendingPathComponent(name)
        try? fm.removeItem(at: partial)
        try Checkpoint.save(flow, config: config, to: partial, optimizer: optimizer,
                            metadata: ["format": FlowRunConfig.formatName, "epoch": "\(state.epochsDone)"])
        if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
        if rename(partial.path, target.path) != 0 {
            throw FlowTrainingError.noCheckpoint(path: target.path,
                                                 problem: "cannot rename \(partial.lastPathComponent) to it: \(String(cString: strerror(errno)))")
        }
        state.checkpoint = name
        try JSONFile.write(state, to: directory.appendingPathComponent(Self.stateFile))
        // Leftovers of interrupted saves always go; finished older checkpoints unless kept.
        for other in try Self.checkpointFolders(in: directory) where other != name {
            if !options.keepSnapshots || FlowRun.epoch(ofFolder: other) == nil {
                try fm.removeItem(at: directory.appendingPathComponent(other))
            }
        }
        return target
    }

    /// Names of the checkpoint folders (finished or partial) in `directory`.
    static func checkpointFolders(in directory: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            FlowRun.epoch(ofFolder: $0) != nil || ($0.hasPrefix(".epoch-") && $0.hasSuffix(".partial"))
        }.sorted()
    }
}
