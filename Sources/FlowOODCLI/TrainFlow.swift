import ArgumentParser
import Foundation
import Tensor
import NN
import Flows
import OOD

/// The settings of `flowood train-flow`, as read from `--config file.json` (field names are the
/// options' names in camelCase) and from the command line. Every field is optional; missing
/// ones take the defaults in `resolved`.
struct TrainFlowSettings: Codable, Equatable {
    var model: String?
    var mid: Int?
    var resBlocks: Int?
    var batchNorm: Bool?
    var flowBlocks: Int?
    var couplings: Int?
    var hidden: Int?
    var data: String?
    var subset: Int?
    var dataDir: String?
    var epochs: Int?
    var batchSize: Int?
    var lr: Double?
    var optimizer: String?
    var weightDecay: Double?
    var clip: Double?
    var seed: UInt64?
    var checkpointEvery: Int?
    var runDir: String?
    var validationFraction: Double?
    var keepSnapshots: Bool?
    var negativeData: String?
    var negativeWeight: Double?
    var negativeThreshold: Double?
    var maxDivergenceRetries: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, mid, resBlocks, batchNorm, flowBlocks, couplings, hidden, data, subset, dataDir, epochs, batchSize
        case lr, optimizer, weightDecay, clip, seed, checkpointEvery, runDir, validationFraction, keepSnapshots
        case negativeData, negativeWeight, negativeThreshold, maxDivergenceRetries
    }

    static let models = ["realnvp", "glow-latent", "realnvp-vector"]

    /// Reads a settings file; unknown fields and wrongly typed values are errors naming the field.
    static func read(path: String) throws -> TrainFlowSettings {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UserError("\(path): cannot read the configuration file")
        }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let known = Set(CodingKeys.allCases.map(\.rawValue))
            if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
                let suggestion = closest(unknown, in: known.sorted()).map { "; did you mean '\($0)'?" } ?? ""
                throw UserError("\(path): unknown field '\(unknown)'\(suggestion)")
            }
        }
        return try JSONFile.decode(TrainFlowSettings.self, from: data, path: path)
    }

    /// `self` with every field that `other` sets replaced by `other`'s value.
    func overridden(by other: TrainFlowSettings) throws -> TrainFlowSettings {
        func dictionary(_ s: TrainFlowSettings) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as? [String: Any] ?? [:]
        }
        let merged = try dictionary(self).merging(try dictionary(other)) { $1 }
        return try JSONDecoder().decode(TrainFlowSettings.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    /// The model for images of `imageShape` (C, H, W); vector models take the flattened pixels.
    func spec(imageShape: [Int]) throws -> FlowSpec {
        let seed = self.seed ?? 0
        let d = imageShape.reduce(1, *)
        switch model ?? "realnvp" {
        case "realnvp":
            return .realNVP(RealNVPConfig(channels: imageShape[0], height: imageShape[1], width: imageShape[2],
                                          mid: try positive(mid ?? 64, "mid"), blocks: try positive(resBlocks ?? 2, "resBlocks"),
                                          batchNorm: batchNorm ?? true, seed: seed))
        case "glow-latent":
            return .glowLatent(features: d, blocks: try positive(flowBlocks ?? 10, "flowBlocks"),
                               hidden: try positive(hidden ?? 2048, "hidden"), seed: seed)
        case "realnvp-vector":
            return .realNVPVector(features: d, couplings: try positive(couplings ?? 8, "couplings"),
                                  hidden: try positive(hidden ?? 256, "hidden"), seed: seed)
        case let other:
            throw UserError("model: unknown model '\(other)'; choose one of \(Self.models.joined(separator: ", "))")
        }
    }

    /// The trainer's options (dataName describes the data and is checked on resume).
    func options(imageDimensions d: Int) throws -> FlowTrainingOptions {
        var o = FlowTrainingOptions()
        o.epochs = epochs ?? 10
        o.batchSize = batchSize ?? 64
        o.learningRate = lr ?? 1e-3
        let opt = optimizer ?? "adam"
        guard let kind = FlowTrainingOptions.OptimizerKind(rawValue: opt) else {
            throw UserError("optimizer: unknown optimizer '\(opt)'; choose adam or rmsprop")
        }
        o.optimizer = kind
        o.weightDecay = weightDecay ?? 0
        o.clipNorm = clip ?? 100
        o.seed = seed ?? 0
        o.checkpointEvery = checkpointEvery ?? 1
        o.keepSnapshots = keepSnapshots ?? false
        o.validationFraction = validationFraction ?? 0.05
        o.maxDivergenceRetries = maxDivergenceRetries ?? 3
        if negativeData != nil {
            o.negative = .init(weight: negativeWeight ?? 1, threshold: negativeThreshold ?? Self.paperThreshold(dimensions: d))
        }
        o.dataName = (data ?? "fashion-mnist-train") + (subset.map { " (first \($0))" } ?? "")
        if let negativeData { o.dataName += ", negative \(negativeData)" }
        try o.validate()
        return o
    }

    /// The paper's (F)MNIST threshold −3e4 on the 8-bit image's log-likelihood, in the units of
    /// our log p(v): −3e4 + D·ln 256.
    static func paperThreshold(dimensions d: Int) -> Double { -30_000 + Double(d) * log(256) }

    private func positive(_ v: Int, _ field: String) throws -> Int {
        guard v >= 1 else { throw UserError("\(field): must be at least 1, got \(v)") }
        return v
    }
}

/// The known name closest to `name` by edit distance, if it is close (at most 3 edits).
func closest(_ name: String, in names: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var diagonal = row[0]
            row[0] = i
            for j in 1...b.count {
                let above = row[j]
                row[j] = min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
    let scored = names.map { ($0, distance(Array(name.lowercased()), Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 3 else { return nil }
    return best.0
}

/// `flowood train-flow`: trains a normalizing flow on a named data set into a run directory.
struct TrainFlow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-flow",
        abstract: "Train a normalizing flow on a data set, with checkpoints and resumption.",
        discussion: """
        Maximises the log-likelihood of the training images (pixel / 255, dequantised by the \
        flow) or, for the vector models, of the flattened pixels (plus U(-ε/2, ε/2) noise, \
        ε = 1/1024). Prints a progress bar and one line per epoch with the training and \
        validation negative log-likelihood and bits per dimension. The run directory gets \
        config.json, state.json and a checkpoint folder epoch-NNNN (model.safetensors, \
        optimizer.safetensors, config.json), replaced atomically; rerunning the same command \
        resumes after the last checkpoint (a different model or option is refused; --epochs \
        may be raised). A non-finite loss or gradient rolls back to the last epoch and halves \
        the learning rate. Settings can come from --config file.json with the same fields in \
        camelCase (e.g. {"model": "realnvp", "epochs": 2, "batchSize": 32}); options on the \
        command line override the file. Data sets: \(flowDatasetNames.joined(separator: ", ")).

        Example: flowood train-flow --data fashion-mnist-train --subset 2000 --epochs 2 \
        --run-dir runs/realnvp, then flowood score --run-dir runs/realnvp --data \
        fashion-mnist-test,digits --out runs/realnvp/scores.csv.
        """)

    @Option(help: "JSON file with settings (fields: the option names in camelCase).")
    var config: String?

    @Option(help: "Model: realnvp, glow-latent, realnvp-vector. (default: realnvp)")
    var model: String?

    @Option(help: "realnvp: hidden channels of each s/t ResNet. (default: 64)")
    var mid: Int?

    @Option(help: "realnvp: residual blocks per s/t ResNet. (default: 2)")
    var resBlocks: Int?

    @Flag(inversion: .prefixedNo, help: "realnvp: batch normalisation in the s/t networks. (default: on)")
    var batchNorm: Bool?

    @Option(help: "glow-latent: [ActNorm, linear, coupling] blocks. (default: 10)")
    var flowBlocks: Int?

    @Option(help: "realnvp-vector: coupling layers. (default: 8)")
    var couplings: Int?

    @Option(help: "Vector models: hidden units of each coupling network. (default: 2048 glow-latent, 256 realnvp-vector)")
    var hidden: Int?

    @Option(help: "Training data set. (default: fashion-mnist-train)")
    var data: String?

    @Option(help: "Use only the first N images (generated sets: N images).")
    var subset: Int?

    @Option(help: "Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA, then the Debian package paths).")
    var dataDir: String?

    @Option(help: "Epochs. (default: 10)")
    var epochs: Int?

    @Option(help: "Mini-batch size. (default: 64)")
    var batchSize: Int?

    @Option(help: "Learning rate (constant; halved after a divergence). (default: 0.001)")
    var lr: Double?

    @Option(help: "Optimizer: adam or rmsprop. (default: adam)")
    var optimizer: String?

    @Option(help: "L2 weight decay added to the gradient; 0 disables it. (default: 0)")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this value; 0 disables clipping. (default: 100)")
    var clip: Double?

    @Option(help: "Seed of the initialisation, shuffling, noise and validation split. (default: 0)")
    var seed: UInt64?

    @Option(help: "Write a checkpoint every N epochs (and after the last). (default: 1)")
    var checkpointEvery: Int?

    @Option(help: "Run directory for checkpoints and state. (default: runs/flow)")
    var runDir: String?

    @Option(help: "Fraction of the training data held out for validation; 0 disables it. (default: 0.05)")
    var validationFraction: Double?

    @Flag(help: "Keep the checkpoint of every epoch (for metrics against the epoch).")
    var keepSnapshots = false

    @Option(help: "Negative training (Kirichenko et al. 2020, App. B): push down the likelihood of this data set.")
    var negativeData: String?

    @Option(help: "Negative training: weight of the OOD term. (default: 1)")
    var negativeWeight: Double?

    @Option(help: "Negative training: only OOD samples with log-likelihood (nats) above this count. (default: -30000 + D·ln 256, the paper's FashionMNIST value)")
    var negativeThreshold: Double?

    @Option(help: "Divergences survived (roll back, halve the learning rate) before giving up. (default: 3)")
    var maxDivergenceRetries: Int?

    @Flag(help: "Ignore an existing run in the run directory and start again.")
    var restart = false

    /// The settings given on the command line (nil where not given).
    var commandLineSettings: TrainFlowSettings {
        TrainFlowSettings(model: model, mid: mid, resBlocks: resBlocks, batchNorm: batchNorm, flowBlocks: flowBlocks,
                          couplings: couplings, hidden: hidden, data: data, subset: subset, dataDir: dataDir,
                          epochs: epochs, batchSize: batchSize, lr: lr, optimizer: optimizer, weightDecay: weightDecay,
                          clip: clip, seed: seed, checkpointEvery: checkpointEvery, runDir: runDir,
                          validationFraction: validationFraction, keepSnapshots: keepSnapshots ? true : nil,
                          negativeData: negativeData, negativeWeight: negativeWeight, negativeThreshold: negativeThreshold,
                          maxDivergenceRetries: maxDivergenceRetries)
    }

    func validate() throws {
        if let model, !TrainFlowSettings.models.contains(model) {
            throw ValidationError("unknown --model '\(model)'; choose one of \(TrainFlowSettings.models.joined(separator: ", "))")
        }
        if let optimizer, FlowTrainingOptions.OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown --optimizer '\(optimizer)'; choose adam or rmsprop")
        }
        for (name, value) in [("--epochs", epochs), ("--batch-size", batchSize), ("--checkpoint-every", checkpointEvery),
                              ("--subset", subset), ("--mid", mid), ("--res-blocks", resBlocks), ("--flow-blocks", flowBlocks),
                              ("--couplings", couplings), ("--hidden", hidden)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        for name in [data, negativeData].compactMap({ $0 }) where !flowDatasetNames.contains(name) {
            throw ValidationError("unknown data set '\(name)'; available: \(flowDatasetNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        try runReportingErrors { try execute() }
    }

    /// The command's work, throwing typed errors (run() prints them as "error: ...").
    func execute() throws {
        var settings = commandLineSettings
        if let config { settings = try TrainFlowSettings.read(path: config).overridden(by: settings) }
        let dataName = settings.data ?? "fashion-mnist-train"
        let seed = settings.seed ?? 0
        let images = try loadFlowDataset(named: dataName, subset: settings.subset, dataDir: settings.dataDir, seed: seed)
        let (spec, options): (FlowSpec, FlowTrainingOptions)
        do {
            spec = try settings.spec(imageShape: [1, images.height, images.width])
            options = try settings.options(imageDimensions: images.height * images.width)
        } catch let e as UserError where config != nil {
            // Command-line values were checked by validate(), so a bad value came from the file.
            throw UserError("\(config!): \(e.description)")
        }
        let train = try flowData(images, for: spec.dataKind, name: dataName)
        var negative: FlowData?
        if let name = settings.negativeData {
            let ood = try loadFlowDataset(named: name, subset: nil, dataDir: settings.dataDir, seed: derivedSeed(seed, 7))
            negative = try flowData(ood, for: spec.dataKind, name: name)
        }
        let runDir = settings.runDir ?? "runs/flow"
        let flowParameters = spec.makeFlow().parameterCount
        FileHandle.standardError.write(Data(("training \(spec.summary) (\(flowParameters) parameters) on \(train.count) "
            + "\(dataName) samples, \(Engine.threads) threads, run directory \(runDir)\n").utf8))
        let trainer = FlowTrainer(spec: spec, options: options, directory: URL(fileURLWithPath: runDir))
        let (state, _) = try trainer.run(train: train, negative: negative, restart: restart)
        var summary = "trained \(state.epochsDone) epochs (\(state.step) steps)"
        if let last = state.history.last {
            summary += String(format: "; last train %.4f bpd", last.trainBitsPerDim)
            if let v = last.validationBitsPerDim { summary += String(format: ", validation %.4f bpd", v) }
        }
        print(summary + "; run directory \(runDir)")
    }
}
