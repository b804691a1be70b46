import Foundation
import Tensor
import NN
import Flows
import OOD
import Plot

/// The computations behind the experiment nodes: loading data, training models, evaluating
/// detectors. Each node kind has a code version that goes into its cache key; bump it when a
/// change here changes the kind's results.
final class Backend: @unchecked Sendable {
    static let trainVersion = "train-1"
    static let evaluateVersion = "evaluate-1"
    static let curveVersion = "curve-1"
    static let scatterVersion = "scatter-1"
    /// Images per set behind `@Histogram(model:)` in the paper profile.
    static let defaultHistogramSubset = 1000
    /// Images per set of an evaluation without `subset:` (generated sets are drawn this size).
    static let defaultEvaluationCount = 2000

    let profile: Profile
    let dataDirectory: String?
    let cache: ExperimentCache
    let log: (String) -> Void
    private let lock = NSLock()
    private var loaded: [String: LabeledImages] = [:]

    init(profile: Profile, dataDirectory: String?, cache: ExperimentCache, log: @escaping (String) -> Void) {
        self.profile = profile
        self.dataDirectory = dataDirectory
        self.cache = cache
        self.log = log
    }

    // MARK: - Data

    /// The environment the loaders see: `--data-dir` stands in for FLOWOOD_DATA.
    private var dataEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        if let dataDirectory { env[FashionMNIST.environmentVariable] = dataDirectory }
        return env
    }

    /// Identifies the source files behind data references (their published SHA-256, which the
    /// loaders verify), so a different data file means a different cache key.
    func fingerprints(_ refs: DataRef?...) -> [String] { fingerprints(refs.compactMap { $0 }) }

    func fingerprints(_ refs: [DataRef]) -> [String] {
        refs.map { ref in
            switch ref {
            case .fashionMNIST(let s), .fashionMNISTClasses(_, let s):
                let split: FashionMNIST.Split = s == .train ? .train : .test
                return "\(ref.key)@\(split.imagesSHA256.prefix(16))"
            case .invertedFashionMNIST, .flippedFashionMNIST:
                return "\(ref.key)@\(FashionMNIST.Split.test.imagesSHA256.prefix(16))"
            case .digits: return "digits@\(Digits.sha256.prefix(16))"
            case .textures:
                return "textures@" + SkimageCrops.textureFiles.map { SkimageCrops.sha256[$0]?.prefix(8) ?? "?" }.joined()
            case .photos:
                return "photos@" + SkimageCrops.photoFiles.map { SkimageCrops.sha256[$0]?.prefix(8) ?? "?" }.joined()
            default: return ref.key
            }
        }
    }

    private func fashionMNIST(_ split: Split) throws -> LabeledImages {
        let name = "fashion-mnist-\(split.rawValue)"
        lock.lock(); defer { lock.unlock() }
        if let d = loaded[name] { return d }
        let d = try FashionMNIST.load(split == .train ? .train : .test,
                                      directory: FashionMNIST.directory(override: nil, environment: dataEnvironment))
        loaded[name] = d
        return d
    }

    /// Images of `ref`: `count` of them (nil = all of a fixed set, `defaultEvaluationCount` of a
    /// generated one), drawn with `seed` when the set is larger. Pixel values 0…255.
    func images(_ ref: DataRef, count: Int?, seed: Int) throws -> LabeledImages {
        var rng = SeededGenerator(seed: UInt64(bitPattern: Int64(seed)) &* 0x9E37_79B9 &+ 17)
        func subsample(_ set: LabeledImages) -> LabeledImages {
            guard let count, count < set.count else { return set }
            return Synthetic.sample(set, size: count, using: &rng)
        }
        let generated = count ?? Self.defaultEvaluationCount
        switch ref {
        case .fashionMNIST(let s): return subsample(try fashionMNIST(s))
        case .fashionMNISTClasses(let classes, let s):
            let full = try fashionMNIST(s)
            let keep = Set(classes.map { UInt8($0) })
            let idx = (0..<full.count).filter { keep.contains(full.labels[$0]) }
            let pixels = full.height * full.width
            var px: [UInt8] = []
            px.reserveCapacity(idx.count * pixels)
            for i in idx { px += full.images[(i * pixels)..<((i + 1) * pixels)] }
            return subsample(LabeledImages(images: px, labels: idx.map { full.labels[$0] }, height: full.height, width: full.width))
        case .invertedFashionMNIST: return Synthetic.inverted(subsample(try fashionMNIST(.test)))
        case .flippedFashionMNIST: return Synthetic.verticallyFlipped(subsample(try fashionMNIST(.test)))
        case .digits: return subsample(try Digits.load(path: Digits.path(environment: dataEnvironment)).mnistStyle())
        case .textures: return try SkimageCrops.textures(count: generated, directory: SkimageCrops.directory(environment: dataEnvironment), using: &rng)
        case .photos: return try SkimageCrops.photos(count: generated, directory: SkimageCrops.directory(environment: dataEnvironment), using: &rng)
        case .gaussianNoise: return Synthetic.gaussianNoise(count: generated, using: &rng)
        case .uniformNoise: return Synthetic.uniformNoise(count: generated, using: &rng)
        case .constant: return Synthetic.constant(count: generated, using: &rng)
        case .tabular, .features:
            throw BackendError("\(ref.key) is not an image set")
        }
    }

    // MARK: - Training

    /// Trains `spec` with `seed` into `out` (checkpoint + result.json). Interrupted runs resume
    /// from the work directory of this cache key.
    func train(_ spec: TrainSpec, seed: Int, label: String, key: String, inputModels: [String: URL], into out: URL) throws {
        let work = try cache.workDirectory(for: key)
        switch spec.model {
        case .classifier(let backbone):
            try trainClassifier(spec, backbone: backbone, seed: seed, work: work, into: out)
        default:
            try trainFlow(spec, seed: seed, work: work, inputModels: inputModels, into: out)
        }
        try? FileManager.default.removeItem(at: work)
    }

    private func trainClassifier(_ spec: TrainSpec, backbone: BackboneSpec, seed: Int, work: URL, into out: URL) throws {
        guard case .fashionMNIST = spec.data else {
            throw BackendError("classifiers train on .fashionMNIST(.train) only, got \(spec.data.key)")
        }
        let train = try images(spec.data, count: spec.subset, seed: seed)
        let test = try images(.fashionMNIST(.test), count: profile == .smoke ? 512 : nil, seed: seed)
        guard case .cnn = backbone else { throw BackendError("backbone \(backbone) is not available yet") }
        let config = ClassifierConfig(architecture: .cnnFMNIST, seed: UInt64(seed))
        var options = ClassifierTrainingOptions()
        options.epochs = spec.epochs
        options.batchSize = spec.batchSize
        options.learningRate = spec.lr
        options.weightDecay = spec.weightDecay
        options.seed = UInt64(seed)
        var trainer = ClassifierTrainer(config: config, options: options, directory: work)
        trainer.log = log
        let start = Date()
        let (state, model) = try trainer.run(train: train, test: test)
        try Checkpoint.save(model, config: config, to: out, metadata: ["format": "flowood-classifier"])
        let result = TrainResult(seconds: Date().timeIntervalSince(start), parameters: model.parameterCount,
                                 trainingExamples: train.count,
                                 history: state.history.map { .init(epoch: $0.epoch, trainLoss: $0.trainLoss, validationBPD: nil,
                                                                    testAccuracy: $0.testAccuracy) })
        try writeJSON(result, to: out.appendingPathComponent("result.json"))
    }

    private func trainFlow(_ spec: TrainSpec, seed: Int, work: URL, inputModels: [String: URL], into out: URL) throws {
        throw BackendError("flow training is not wired yet")
    }

    // MARK: - Evaluation

    func evaluate(_ spec: EvaluateSpec, seed: Int, models: [String: URL], into out: URL) throws {
        throw BackendError("evaluation is not wired yet")
    }

    func curve(evaluation: EvaluateSpec, detector: DetectorSpec, vary: VarySpec, ood: [DataRef]?, seed: Int,
               models: [String: URL], into out: URL) throws {
        throw BackendError("curves are not wired yet")
    }

    func couplingGrid(_ spec: ImageFlowFigureSpec, model: URL, title: String?) throws -> Figure {
        throw BackendError("coupling grids are not wired yet")
    }

    func latentGrid(_ spec: ImageFlowFigureSpec, model: URL, title: String?) throws -> Figure {
        throw BackendError("latent grids are not wired yet")
    }

    func samples(_ spec: SamplesSpec, model: URL) throws -> Figure {
        throw BackendError("samples are not wired yet")
    }

    func scatter(_ spec: ScatterSpec, classifier: URL, flow: URL?, into out: URL) throws {
        throw BackendError("t-SNE is not wired yet")
    }
}

struct BackendError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
