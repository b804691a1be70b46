import ArgumentParser
import Foundation
import Tensor
import NN
import Flows
import OOD

/// A train-flow setting with a value that cannot be used, naming the setting (camelCase, as in
/// the JSON file).
struct SettingError: Error, CustomStringConvertible, Equatable {
    let field: String
    let message: String
    var description: String { "\(field): \(message)" }
}

/// The settings of `flowood train-flow`, as read from `--config file.json` (field names are the
/// options' names in camelCase) and from the command line. Every field is optional; missing
/// ones take the defaults in `spec(imageShape:)` and `options(imageDimensions:)`.
struct TrainFlowSettings: Codable, Equatable {
    var model: String?
    var mid: Int?
    var resBlocks: Int?
    var batchNorm: Bool?
    var scales: Int?
    var mask: String?
    var lastScaleCouplings: Int?
    var stNet: String?
    var levels: Int?
    var depth: Int?
    var lu: Bool?
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
        case model, mid, resBlocks, batchNorm, scales, mask, lastScaleCouplings, stNet, levels, depth, lu
        case flowBlocks, couplings, hidden, data, subset, dataDir, epochs, batchSize
        case lr, optimizer, weightDecay, clip, seed, checkpointEvery, runDir, validationFraction, keepSnapshots
        case negativeData, negativeWeight, negativeThreshold, maxDivergenceRetries
    }

    static let models = ["realnvp", "glow", "glow-latent", "realnvp-vector", "residual-flow"]
    static let masks = MaskScheme.allCases.map(\.rawValue)
    static let realNVPSTNets = "resnet, resnet-no-bn, highway, bottleneck:N"
    static let glowSTNets = "convnet, highway"

    /// The models each model-specific setting applies to; the other settings apply to all.
    static let applicability: [String: [String]] = [
        "mid": ["realnvp"], "batchNorm": ["realnvp"], "scales": ["realnvp"], "mask": ["realnvp"],
        "lastScaleCouplings": ["realnvp"], "resBlocks": ["realnvp", "glow"], "stNet": ["realnvp", "glow"],
        "levels": ["glow"], "depth": ["glow"], "lu": ["glow"],
        "flowBlocks": ["glow-latent", "residual-flow"], "couplings": ["realnvp-vector"],
        "hidden": ["glow", "glow-latent", "realnvp-vector", "residual-flow"],
    ]

    /// The model-specific fields this value sets, in declaration order.
    var modelFields: [String] {
        let set: [(String, Bool)] = [
            ("mid", mid != nil), ("resBlocks", resBlocks != nil), ("batchNorm", batchNorm != nil), ("scales", scales != nil),
            ("mask", mask != nil), ("lastScaleCouplings", lastScaleCouplings != nil), ("stNet", stNet != nil),
            ("levels", levels != nil), ("depth", depth != nil), ("lu", lu != nil), ("flowBlocks", flowBlocks != nil),
            ("couplings", couplings != nil), ("hidden", hidden != nil),
        ]
        return set.filter(\.1).map(\.0)
    }

    /// Throws for the first model-specific field this value sets that `model` does not use.
    func checkApplicable(to model: String) throws(SettingError) {
        for field in modelFields {
            let users = Self.applicability[field] ?? Self.models
            if !users.contains(model) {
                throw SettingError(field: field, message: "applies to \(users.joined(separator: ", ")) only, not \(model)")
            }
        }
    }

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

    /// The RealNVP s/t network named `name`: resnet, resnet-no-bn, highway or bottleneck:N.
    static func realNVPSTNet(_ name: String) throws(SettingError) -> STNet {
        switch name {
        case "resnet": return .resnet
        case "resnet-no-bn": return .resnetNoBatchNorm
        case "highway": return .highway
        default:
            if name.hasPrefix("bottleneck:"), let k = Int(name.dropFirst("bottleneck:".count)), k >= 1 { return .bottleneck(k) }
            throw SettingError(field: "stNet", message: "unknown s/t network '\(name)' for realnvp; choose one of \(realNVPSTNets) (N ≥ 1)")
        }
    }

    /// The Glow s/t network named `name` (convnet or highway with `blocks` layers).
    static func glowSTNet(_ name: String, blocks: Int) throws(SettingError) -> GlowCouplingNetwork {
        switch name {
        case "convnet": return .convNet
        case "highway": return .highway(blocks: blocks)
        default: throw SettingError(field: "stNet", message: "unknown s/t network '\(name)' for glow; choose one of \(glowSTNets)")
        }
    }

    /// The model for images of `imageShape` (C, H, W); vector models take the flattened pixels.
    /// - Throws: `SettingError` naming the first setting the model cannot be built with.
    func spec(imageShape: [Int]) throws(SettingError) -> FlowSpec {
        let seed = self.seed ?? 0
        let d = imageShape.reduce(1, *)
        let model = self.model ?? "realnvp"
        guard Self.models.contains(model) else {
            throw SettingError(field: "model", message: "unknown model '\(model)'; choose one of \(Self.models.joined(separator: ", "))")
        }
        try checkApplicable(to: model)
        switch model {
        case "realnvp":
            guard let scheme = MaskScheme(rawValue: mask ?? "checkerboard") else {
                throw SettingError(field: "mask", message: "unknown mask '\(mask!)'; choose one of \(Self.masks.joined(separator: ", "))")
            }
            let config = RealNVPConfig(channels: imageShape[0], height: imageShape[1], width: imageShape[2],
                                       mid: try positive(mid ?? 64, "mid"), blocks: try positive(resBlocks ?? 2, "resBlocks"),
                                       batchNorm: batchNorm ?? true, stNet: try Self.realNVPSTNet(stNet ?? "resnet"),
                                       maskScheme: scheme, scales: try positive(scales ?? 2, "scales"),
                                       lastScaleCouplings: try positive(lastScaleCouplings ?? 4, "lastScaleCouplings"), seed: seed)
            do { try config.validate() } catch {
                // The image size is the data's; a size the scales cannot divide is a problem of `scales`.
                let field = ["height", "width"].contains(error.field) ? "scales" : error.field == "blocks" ? "resBlocks" : error.field
                throw SettingError(field: field, message: "\(error.message) (\(imageShape[1])×\(imageShape[2]) images)")
            }
            return .realNVP(config)
        case "glow":
            let blocks = try positive(resBlocks ?? 2, "resBlocks")
            let config = GlowConfig(channels: imageShape[0], height: imageShape[1], width: imageShape[2],
                                    levels: try positive(levels ?? 2, "levels"), depth: try positive(depth ?? 8, "depth"),
                                    hidden: try positive(hidden ?? 64, "hidden"), lu: lu ?? true,
                                    stNet: try Self.glowSTNet(stNet ?? "convnet", blocks: blocks), seed: seed)
            do { try config.validate() } catch {
                let field = ["height", "width"].contains(error.field) ? "levels" : error.field
                throw SettingError(field: field, message: "\(error.message) (\(imageShape[1])×\(imageShape[2]) images)")
            }
            if resBlocks != nil, config.stNet == .convNet {
                throw SettingError(field: "resBlocks", message: "applies to glow only with the highway s/t network")
            }
            return .glow(config)
        case "glow-latent":
            return .glowLatent(features: d, blocks: try positive(flowBlocks ?? 10, "flowBlocks"),
                               hidden: try positive(hidden ?? 2048, "hidden"), seed: seed)
        case "realnvp-vector":
            return .realNVPVector(features: d, couplings: try positive(couplings ?? 8, "couplings"),
                                  hidden: try positive(hidden ?? 256, "hidden"), seed: seed)
        default:  // residual-flow
            return .residualFlow(ResidualFlowConfig(features: d, blocks: try positive(flowBlocks ?? 4, "flowBlocks"),
                                                    hidden: try positive(hidden ?? 64, "hidden"), seed: seed))
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
            throw SettingError(field: "optimizer", message: "unknown optimizer '\(opt)'; choose adam or rmsprop")
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
        o.dataName = (data ?? "fashion-mnist-train") + (subset.map { " (\($0) drawn with the seed)" } ?? "")
        if let negativeData { o.dataName += ", negative \(negativeData)" }
        try o.validate()
        return o
    }

    /// The paper's (F)MNIST threshold −3e4 on the 8-bit image's log-likelihood, in the units of
    /// our log p(v): −3e4 + D·ln 256.
    static func paperThreshold(dimensions d: Int) -> Double { -30_000 + Double(d) * log(256) }

    private func positive(_ v: Int, _ field: String) throws(SettingError) -> Int {
        guard v >= 1 else { throw SettingError(field: field, message: "must be at least 1, got \(v)") }
        return v
    }
}

/// "lastScaleCouplings" → "--last-scale-couplings".
func optionName(_ field: String) -> String {
    "--" + field.map { $0.isUppercase ? "-" + $0.lowercased() : String($0) }.joined()
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
        Models: realnvp (multi-scale RealNVP; the defaults are the reference layout, 1,513,587 \
        parameters), glow (multi-scale Glow), and the vector models glow-latent, realnvp-vector \
        and residual-flow, which see each image as a vector of its H·W pixels. Options marked \
        with model names apply to those models only; giving one to another model is an error.

        Maximises the log-likelihood of the training images (pixel / 255, dequantised by the \
        flow) or, for the vector models, of the flattened pixels (plus U(-ε/2, ε/2) noise, \
        ε = 1/1024). Prints a progress bar and one line per epoch with the training and \
        validation negative log-likelihood and bits per dimension. The run directory gets \
        config.json, state.json and a checkpoint folder epoch-NNNN (model.safetensors, \
        optimizer.safetensors, config.json), replaced atomically; rerunning the same command \
        resumes after the last checkpoint (a different model or option is refused; --epochs \
        may be raised). A non-finite loss, gradient or validation score rolls back to the last \
        epoch and halves the learning rate. Settings can come from --config file.json with the \
        same fields in camelCase (e.g. {"model": "glow", "levels": 2, "stNet": "highway", \
        "epochs": 2}); options on the command line override the file. Data sets: \
        \(flowDatasetNames.joined(separator: ", ")).

        Example: flowood train-flow --data fashion-mnist-train --subset 2000 --epochs 2 \
        --run-dir runs/realnvp, then flowood score --run-dir runs/realnvp --data \
        fashion-mnist-test,digits --out runs/realnvp/scores.csv.
        """)

    @Option(help: "JSON file with settings (fields: the option names in camelCase).")
    var config: String?

    @Option(help: "Model: realnvp, glow, glow-latent, realnvp-vector, residual-flow. (default: realnvp)")
    var model: String?

    @Option(help: "realnvp: hidden channels of each s/t network. (default: 64)")
    var mid: Int?

    @Option(help: "realnvp; glow with --st-net highway: residual or highway blocks per s/t network. (default: 2)")
    var resBlocks: Int?

    @Flag(inversion: .prefixedNo, help: "realnvp: batch normalisation in the resnet and bottleneck s/t networks. (default: on)")
    var batchNorm: Bool?

    @Option(help: "realnvp: scales; each but the last has 3 spatial couplings, a squeeze, 3 channel couplings and a factor-out. (default: 2)")
    var scales: Int?

    @Option(help: "realnvp: spatial masks: checkerboard, horizontal or vertical (half images), or cycle (one scale of 8 quadrant couplings). (default: checkerboard)")
    var mask: String?

    @Option(help: "realnvp: spatial couplings on the last scale (--scales 1 --mask horizontal --last-scale-couplings 8 is flows_ood's RealNVPMaskHorizontal). (default: 4)")
    var lastScaleCouplings: Int?

    @Option(help: "realnvp: s/t network resnet, resnet-no-bn, highway or bottleneck:N (N linear units in the middle); glow: convnet (Glow's) or highway. (default: resnet; glow: convnet)")
    var stNet: String?

    @Option(help: "glow: levels (squeeze, steps, split). (default: 2)")
    var levels: Int?

    @Option(help: "glow: steps [ActNorm, 1×1 convolution, coupling] per level. (default: 8)")
    var depth: Int?

    @Flag(inversion: .prefixedNo, help: "glow: LU-parameterised 1×1 convolutions; --no-lu learns the full matrix. (default: on)")
    var lu: Bool?

    @Option(help: "glow-latent: [ActNorm, linear, coupling] blocks; residual-flow: residual blocks. (default: 10 glow-latent, 4 residual-flow)")
    var flowBlocks: Int?

    @Option(help: "realnvp-vector: coupling layers. (default: 8)")
    var couplings: Int?

    @Option(help: "glow: hidden channels of each s/t network; vector models: hidden units of each coupling or residual network. (default: 64 glow, 2048 glow-latent, 256 realnvp-vector, 64 residual-flow)")
    var hidden: Int?

    @Option(help: "Training data set. (default: fashion-mnist-train)")
    var data: String?

    @Option(help: "Use N examples, a seeded random draw without replacement kept in file order (generated sets: N images).")
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
        TrainFlowSettings(model: model, mid: mid, resBlocks: resBlocks, batchNorm: batchNorm, scales: scales, mask: mask,
                          lastScaleCouplings: lastScaleCouplings, stNet: stNet, levels: levels, depth: depth, lu: lu,
                          flowBlocks: flowBlocks, couplings: couplings, hidden: hidden, data: data, subset: subset,
                          dataDir: dataDir, epochs: epochs, batchSize: batchSize, lr: lr, optimizer: optimizer,
                          weightDecay: weightDecay, clip: clip, seed: seed, checkpointEvery: checkpointEvery, runDir: runDir,
                          validationFraction: validationFraction, keepSnapshots: keepSnapshots ? true : nil,
                          negativeData: negativeData, negativeWeight: negativeWeight, negativeThreshold: negativeThreshold,
                          maxDivergenceRetries: maxDivergenceRetries)
    }

    /// Checks what can be checked before a --config file is read (names and ranges).
    func validate() throws {
        if let model, !TrainFlowSettings.models.contains(model) {
            throw ValidationError("unknown --model '\(model)'; choose one of \(TrainFlowSettings.models.joined(separator: ", "))")
        }
        if let mask, MaskScheme(rawValue: mask) == nil {
            throw ValidationError("unknown --mask '\(mask)'; choose one of \(TrainFlowSettings.masks.joined(separator: ", "))")
        }
        if let stNet {
            let forRealNVP = (try? TrainFlowSettings.realNVPSTNet(stNet)) != nil
            let forGlow = (try? TrainFlowSettings.glowSTNet(stNet, blocks: 1)) != nil
            let ok = switch model {
            case "glow": forGlow
            case "realnvp": forRealNVP
            default: forRealNVP || forGlow
            }
            if !ok {
                let choices = model == "glow" ? TrainFlowSettings.glowSTNets
                    : model == "realnvp" ? TrainFlowSettings.realNVPSTNets
                    : "\(TrainFlowSettings.realNVPSTNets) (realnvp) or \(TrainFlowSettings.glowSTNets) (glow)"
                throw ValidationError("unknown --st-net '\(stNet)'; choose one of \(choices)")
            }
        }
        if let optimizer, FlowTrainingOptions.OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown --optimizer '\(optimizer)'; choose adam or rmsprop")
        }
        for (name, value) in [("--epochs", epochs), ("--batch-size", batchSize), ("--checkpoint-every", checkpointEvery),
                              ("--subset", subset), ("--mid", mid), ("--res-blocks", resBlocks), ("--scales", scales),
                              ("--last-scale-couplings", lastScaleCouplings), ("--levels", levels), ("--depth", depth),
                              ("--flow-blocks", flowBlocks), ("--couplings", couplings), ("--hidden", hidden)] {
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
        let fromCommandLine = commandLineSettings
        var settings = fromCommandLine
        var fromFile: TrainFlowSettings?
        if let config {
            let file = try TrainFlowSettings.read(path: config)
            fromFile = file
            settings = try file.overridden(by: fromCommandLine)
        }
        /// A setting's error, attributed to where the setting came from: the command line
        /// ("--option: …") or the file ("file.json: field: …").
        func attributed(_ e: SettingError) -> UserError {
            let onCommandLine = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(fromCommandLine)) as? [String: Any])?[e.field] != nil
            if let config, fromFile != nil, !onCommandLine { return UserError("\(config): \(e.field): \(e.message)") }
            return UserError("\(optionName(e.field)): \(e.message)")
        }
        let dataName = settings.data ?? "fashion-mnist-train"
        let seed = settings.seed ?? 0
        let images = try loadFlowDataset(named: dataName, subset: settings.subset, dataDir: settings.dataDir, seed: seed)
        let (spec, options): (FlowSpec, FlowTrainingOptions)
        do {
            spec = try settings.spec(imageShape: [1, images.height, images.width])
            options = try settings.options(imageDimensions: images.height * images.width)
        } catch let e as SettingError {
            throw attributed(e)
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
