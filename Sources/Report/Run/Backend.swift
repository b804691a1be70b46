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
    // train-2, curve-2: the engine's Winograd and shifted-GEMM convolutions, fused BatchNorm and
    // LAPACK log|det change results in the last bits.
    static let trainVersion = "train-2"
    static let evaluateVersion = "evaluate-4"
    static let curveVersion = "curve-2"
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
    private var loaded: [String: LoadedDataset] = [:]

    init(profile: Profile, dataDirectory: String?, cache: ExperimentCache, log: @escaping (String) -> Void) {
        self.profile = profile
        self.dataDirectory = dataDirectory
        self.cache = cache
        self.log = log
    }

    // MARK: - Data

    /// The catalog entry behind a data reference (not for `.features`).
    func catalogSpec(_ ref: DataRef) throws -> DataSpec {
        func split(_ s: Split) -> DataSplit { s == .train ? .train : .test }
        switch ref {
        case .fashionMNIST(let s): return .fashionMNIST(split(s))
        case .digits: return .digits
        case .textures: return .textures
        case .photos: return .photos
        case .gaussianNoise: return .gaussianNoise
        case .uniformNoise: return .uniformNoise
        case .constant: return .constant
        case .invertedFashionMNIST: return .invertedFashionMNIST
        case .flippedFashionMNIST: return .flippedFashionMNIST
        case .fashionMNISTClasses(let c, let s): return .fashionMNISTClasses(c, split(s))
        case .tabular(let name, let c, let s):
            guard let set = TabularDataset(rawValue: name) else { throw BackendError("unknown tabular set '\(name)'") }
            return .tabular(set, class: c, split(s))
        case .features: throw BackendError("\(ref.key) is computed from a classifier, not loaded")
        }
    }

    /// Identifies the source files behind data references (their published SHA-256, which the
    /// catalog verifies on load), so different data means a different cache key.
    func fingerprints(_ refs: DataRef?...) -> [String] { fingerprints(refs.compactMap { $0 }) }

    func fingerprints(_ refs: [DataRef]) -> [String] {
        refs.map { ref in
            if case .features(_, let of, _, _) = ref { return ref.key + "<" + fingerprints([of])[0] }
            guard let spec = try? catalogSpec(ref) else { return ref.key }
            let files = spec.sourceFiles(dataDir: nil).map { "\(($0.path as NSString).lastPathComponent)@\($0.sha256.prefix(16))" }
            return ([ref.key] + files).joined(separator: " ")
        }
    }

    /// `count` examples of `ref` (nil = all of a fixed set, `defaultEvaluationCount` of a
    /// generated one), drawn with `seed`. Tabular sets are standardised like `standardizeLike`
    /// (the in-distribution training class).
    func load(_ ref: DataRef, count: Int?, seed: Int, standardizeLike: DataRef? = nil) throws -> LoadedDataset {
        let spec = try catalogSpec(ref)
        let key = "\(ref.key)|\(count.map(String.init) ?? "all")|\(seed)|\(standardizeLike?.key ?? "")"
        lock.lock()
        if let d = loaded[key] { lock.unlock(); return d }
        lock.unlock()
        let n = count ?? (spec.isGenerated ? Self.defaultEvaluationCount : nil)
        let like = try standardizeLike.map(catalogSpec) ?? (spec.isTabular ? spec.trainCounterpart : nil)
        let d = try spec.load(count: n, seed: UInt64(seed), dataDir: dataDirectory, standardizeLike: like)
        lock.lock(); loaded[key] = d; lock.unlock()
        return d
    }

    /// The classifier saved by a `@Train` node, as a feature extractor (features cached).
    func extractor(_ dir: URL) throws -> FeatureExtractor {
        let e = try FeatureExtractor.load(checkpoint: dir, cache: FeatureCache(directory: cache.root.appendingPathComponent("features")))
        return e
    }

    /// Samples for a flow: images in [0, 1], vectors, or classifier features (normalised and
    /// PCA-projected as the reference asks; the PCA is fitted on these same samples).
    func flowData(_ ref: DataRef, count: Int?, seed: Int, models: [String: URL]) throws -> FlowData {
        if case let .features(cls, of, normalize, pca) = ref {
            guard let dir = models[cls] else { throw BackendError("classifier '\(cls)' has not been trained") }
            let data = try load(of, count: count, seed: seed)
            let f = try extractor(dir).features(of: data)
            return FlowData(Tensor(try latentRows(f, normalize: normalize, pca: pca).values, shape: [f.shape[0], pca ?? f.shape[1]]))
        }
        return FlowData(try load(ref, count: count, seed: seed).tensor)
    }

    /// Rows of `features` L2-normalised (optionally) and PCA-projected (optionally).
    func latentRows(_ features: Tensor, normalize: Bool, pca: Int?) throws -> (values: [Float], dimension: Int) {
        let n = features.shape[0], d = features.shape[1]
        var v = features.doubles
        if normalize {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { s += v[i * d + j] * v[i * d + j] }
                let norm = s.squareRoot()
                if norm > 0 { for j in 0..<d { v[i * d + j] /= norm } }
            }
        }
        if let k = pca {
            guard k >= 1 && k <= d else { throw BackendError("PCA to \(k) of \(d) dimensions") }
            v = PCA(fittedOn: v, dimension: d, components: k).project(v)
            return (v.map { Float($0) }, k)
        }
        return (v.map { Float($0) }, d)
    }

    // MARK: - Models

    /// The flow a model spec describes, for data of `shape` ((C, H, W) or (D)).
    func flowSpec(_ model: ModelSpec, shape: [Int], seed: Int) throws -> FlowSpec {
        let s = UInt64(seed)
        switch model {
        case let .realNVP(scales, channels, blocks, mask, stNet):
            guard shape.count == 3 else { throw BackendError("RealNVP needs images, got samples of shape \(shape)") }
            let st: STNet = switch stNet {
            case .resnet: .resnet
            case .resnetNoBatchNorm: .resnetNoBatchNorm
            case .highway: .highway
            case .bottleneck(let k): .bottleneck(k)
            }
            let scheme: MaskScheme = switch mask {
            case .checkerboard: .checkerboard
            case .cycle: .cycle
            case .horizontal: .horizontal
            case .vertical: .vertical
            }
            return .realNVP(RealNVPConfig(channels: shape[0], height: shape[1], width: shape[2], mid: channels, blocks: blocks,
                                          batchNorm: stNet == .resnet, stNet: st, maskScheme: scheme, scales: scales, seed: s))
        case let .glow(levels, depth, channels):
            guard shape.count == 3 else { throw BackendError("Glow needs images, got samples of shape \(shape)") }
            return .glow(GlowConfig(channels: shape[0], height: shape[1], width: shape[2], levels: levels, depth: depth,
                                    hidden: channels, seed: s))
        case let .glowLatent(blocks, hidden):
            guard shape.count == 1 else { throw BackendError("glowLatent needs vectors, got samples of shape \(shape)") }
            return .glowLatent(features: shape[0], blocks: blocks, hidden: hidden, seed: s)
        case let .realNVPVector(couplings, hidden):
            guard shape.count == 1 else { throw BackendError("realNVPVector needs vectors, got samples of shape \(shape)") }
            return .realNVPVector(features: shape[0], couplings: couplings, hidden: hidden, seed: s)
        case let .residualFlow(blocks, hidden):
            guard shape.count == 1 else { throw BackendError("residualFlow needs vectors, got samples of shape \(shape)") }
            return .residualFlow(ResidualFlowConfig(features: shape[0], blocks: blocks, hidden: hidden, seed: s))
        case .classifier:
            throw BackendError("a classifier is not a flow")
        }
    }

    /// The trained flow of a `@Train` node's directory.
    func loadFlow(_ dir: URL) throws -> (flow: any FlowLayer, spec: FlowSpec) {
        let run = try FlowRun(directory: dir.appendingPathComponent("run"))
        return (try run.loadFlow(), run.spec)
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
        // All ten classes, or a subset (labels are positions in the list; the other classes are
        // held out, and the test split is restricted to the same classes).
        let testRef: DataRef
        var classes: [Int]? = nil
        switch spec.data {
        case .fashionMNIST: testRef = .fashionMNIST(.test)
        case .fashionMNISTClasses(let c, _): testRef = .fashionMNISTClasses(c, .test); classes = c
        default: throw BackendError("classifiers train on .fashionMNIST(.train) or .fashionMNISTClasses, got \(spec.data.key)")
        }
        guard let train = try load(spec.data, count: spec.subset, seed: seed).images,
              let test = try load(testRef, count: profile == .smoke ? 512 : nil, seed: 0).images else {
            throw BackendError("classifier data are not images")
        }
        let architecture: ClassifierArchitecture
        switch backbone {
        case .cnn: architecture = .cnnFMNIST
        case .resnet(let width): architecture = .resnet(width: width)
        }
        let config = ClassifierConfig(architecture: architecture, classes: classes?.count ?? 10, seed: UInt64(seed),
                                      fashionMNISTClasses: classes)
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

    /// Negative training's log-likelihood threshold for 28×28 images (flows_ood, (F)MNIST).
    static let negativeThreshold = -3e4

    /// Everything a flow `@Train` hands the flow trainer: data, validation data, negative data,
    /// the model and the options.
    struct FlowTraining {
        var train: FlowData
        var validation: FlowData?
        var negative: FlowData?
        var spec: FlowSpec
        var options: FlowTrainingOptions
    }

    func flowTraining(_ spec: TrainSpec, seed: Int, inputModels: [String: URL]) throws -> FlowTraining {
        let train = try flowData(spec.data, count: spec.subset, seed: seed, models: inputModels)
        var validation: FlowData? = nil
        if case .fashionMNIST(.train) = spec.data {
            validation = try flowData(.fashionMNIST(.test), count: profile == .smoke ? 64 : 500, seed: 1000 + seed, models: inputModels)
        }
        let flowSpec = try flowSpec(spec.model, shape: train.sampleShape, seed: seed)
        var options = FlowTrainingOptions()
        options.epochs = spec.epochs
        options.batchSize = spec.batchSize
        options.learningRate = spec.lr
        options.optimizer = spec.optimizer == .adam ? .adam : .rmsprop
        options.weightDecay = spec.weightDecay
        options.clipNorm = spec.clip ?? 0
        options.seed = UInt64(seed)
        options.validationFraction = validation == nil ? 0.1 : 0
        options.dataName = spec.data.key
        var negative: FlowData? = nil
        if let neg = spec.negative {
            negative = try flowData(neg, count: train.count, seed: seed + 7, models: inputModels)
            options.negative = .init(weight: spec.negativeWeight, threshold: Self.negativeThreshold)
        }
        return FlowTraining(train: train, validation: validation, negative: negative, spec: flowSpec, options: options)
    }

    private func trainFlow(_ spec: TrainSpec, seed: Int, work: URL, inputModels: [String: URL], into out: URL) throws {
        let setup = try flowTraining(spec, seed: seed, inputModels: inputModels)
        let train = setup.train
        var trainer = FlowTrainer(spec: setup.spec, options: setup.options, directory: work)
        trainer.log = log
        let start = Date()
        let (state, flow) = try trainer.run(train: train, validation: setup.validation, negative: setup.negative)
        // The run directory (config, state, final checkpoint) is the node's model.
        let run = out.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: work.path) where !name.hasPrefix(".") {
            try FileManager.default.copyItem(at: work.appendingPathComponent(name), to: run.appendingPathComponent(name))
        }
        let result = TrainResult(seconds: Date().timeIntervalSince(start), parameters: flow.parameterCount,
                                 trainingExamples: train.count,
                                 history: state.history.map { .init(epoch: $0.epoch, trainLoss: $0.trainBitsPerDim,
                                                                    validationBPD: $0.validationBitsPerDim, testAccuracy: nil) })
        try writeJSON(result, to: out.appendingPathComponent("result.json"))
    }

    // MARK: - Evaluation

    /// Builds the detector `d` from the trained models (`models`: train id → directory).
    func makeDetector(_ d: DetectorSpec, models: [String: URL]) throws -> (any OODDetector, dimensions: Int?) {
        guard let dir = models[d.kind.model] else { throw BackendError("model '\(d.kind.model)' has not been trained") }
        switch d.kind {
        case .likelihood, .typicality:
            let (flow, spec) = try loadFlow(dir)
            return (flowDetector(d, flow: flow, spec: spec), spec.dimensions)
        case .msp: return (MSPDetector(extractor: try extractor(dir), name: d.key), nil)
        case let .odin(_, t, eps): return (ODINDetector(extractor: try extractor(dir), temperature: t, epsilon: eps, name: d.key), nil)
        case .energy: return (EnergyDetector(extractor: try extractor(dir), name: d.key), nil)
        case let .react(_, p): return (ReActDetector(extractor: try extractor(dir), percentile: p, name: d.key), nil)
        case .mahalanobis: return (MahalanobisDetector(extractor: try extractor(dir), name: d.key), nil)
        case let .knn(_, k): return (KNNDetector(extractor: try extractor(dir), k: k, name: d.key), nil)
        case let .lde(_, flow, epochs, normalize, pca):
            var options = LDEOptions()
            options.epochs = epochs
            options.normalize = normalize
            options.pca = pca
            _ = try flowSpec(flow, shape: [2], seed: 0)  // a vector flow, or a clear error now
            let factory: VectorFlowFactory = { [self] dimension, rng in
                // Cannot fail: checked above for vectors.
                let spec = try! self.flowSpec(flow, shape: [dimension], seed: Int(rng.next() >> 33))
                return spec.makeFlow()
            }
            return (LDEDetector(extractor: try extractor(dir), options: options, flowFactory: factory, name: d.key), nil)
        }
    }

    /// The `.likelihood` or `.typicality` detector `d` on a given flow.
    func flowDetector(_ d: DetectorSpec, flow: any FlowLayer, spec: FlowSpec) -> any OODDetector {
        let bits: BitsDefinition = spec.dataKind.bitsPerDimension == .images ? .images : .lde
        if case .typicality = d.kind { return TypicalityDetector(flow: flow, bits: bits, name: d.key) }
        return FlowLikelihoodDetector(flow: flow, bits: bits, name: d.key)
    }

    /// The in-distribution training set a detector fits on: the referenced model's own
    /// training data (same subset and seed).
    func fitData(for d: DetectorSpec, trains: [String: TrainSpec], seed: Int) throws -> LoadedDataset {
        guard let t = trains[d.kind.model] else { throw BackendError("no @Train '\(d.kind.model)'") }
        if case .features = t.data { throw BackendError("detector '\(d.key)': flows on classifier features are scored through .lde") }
        var count = t.subset
        if case .likelihood = d.kind { count = min(count ?? 64, 64) }  // nothing to fit
        if case .typicality = d.kind { count = min(count ?? 1000, 1000) }
        return try load(t.data, count: count, seed: t.seed(for: seed))
    }

    func evaluate(_ spec: EvaluateSpec, seed: Int, models: [String: URL], trains: [String: TrainSpec], into out: URL) throws {
        let start = Date()
        let count = spec.subset
        let inData = try load(spec.inDistribution, count: count, seed: 100 + seed)
        let idTrain: DataRef? = if case let .tabular(n, c, _) = spec.inDistribution { .tabular(name: n, classLabel: c, split: .train) } else { nil }
        let oodData = try spec.ood.map { try load($0, count: count, seed: 200 + seed, standardizeLike: idTrain) }
        let inInput = DetectorInput(inData)
        let oodInputs = oodData.map(DetectorInput.init)
        var fitInputs: [String: DetectorInput] = [:]
        var detectors: [EvaluationResult.DetectorResult] = []
        let names = [spec.inDistribution.key: spec.inDistribution.displayName]
            .merging(spec.ood.map { ($0.key, $0.displayName) }, uniquingKeysWith: { a, _ in a })
        for d in spec.detectors {
            log("  detector \(d.key)")
            let (detector, dims) = try makeDetector(d, models: models)
            let fit = try fitData(for: d, trains: trains, seed: seed)
            let fitKey = (fit.identity ?? fit.key)
            let fitInput = fitInputs[fitKey] ?? DetectorInput(fit)
            fitInputs[fitKey] = fitInput
            var rng = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 13)
            try detector.fit(fitInput, using: &rng)
            var sets: [EvaluationResult.SetScores] = []
            for (ref, input) in zip([spec.inDistribution] + spec.ood, [inInput] + oodInputs) {
                let scores = try checkedScores(try detector.scores(input), detector: d.key, dataset: ref.key)
                var bits: [Double]? = nil
                if let like = detector as? FlowLikelihoodDetector { bits = try like.bitsPerDimension(input) }
                if detector is LDEDetector { bits = scores.map { -$0 } }
                sets.append(.init(data: ref.key, displayName: names[ref.key] ?? ref.key, scores: scores, bitsPerDim: bits,
                                  dimensions: dims, loadSeed: input.data.seed.map(Int.init), sources: input.data.sources))
            }
            var metrics: [String: MetricRecord] = [:]
            var rng2 = SeededGenerator(seed: UInt64(seed) &+ 99)
            for set in sets.dropFirst() {
                let m = try OODMetrics(inScores: sets[0].scores, outScores: set.scores)
                let intervals = try bootstrapMetrics(inScores: sets[0].scores, outScores: set.scores,
                                                     resamples: profile == .smoke ? 50 : 1000, using: &rng2)
                metrics[set.data] = MetricRecord(metrics: m, intervals: intervals)
            }
            detectors.append(.init(key: d.key, displayName: d.displayName, sets: sets, metrics: metrics,
                                   fitHistory: (detector as? LDEDetector)?.history))
        }
        let result = EvaluationResult(seed: seed, inDistribution: spec.inDistribution.key, ood: spec.ood.map(\.key), detectors: detectors,
                                      seconds: Date().timeIntervalSince(start))
        try writeJSON(result, to: out.appendingPathComponent("evaluation.json"))
        try Data(scoresCSV(result).utf8).write(to: out.appendingPathComponent("scores.csv"))
    }

    /// Per-sample scores for re-scoring elsewhere, in the columns of `flowood evaluate`'s score
    /// files (`OOD.EvaluationResult.scoresHeader`: `run` is the evaluation seed, `count` and `seed` say
    /// how the set was drawn, `source`/`source_index`/`crop_x`/`crop_y` where each example came
    /// from) plus `bits_per_dim` for density detectors.
    func scoresCSV(_ r: EvaluationResult) -> String {
        var lines = [OOD.EvaluationResult.scoresHeader + ",bits_per_dim"]
        for d in r.detectors {
            for set in d.sets {
                let prefix = "\(csvField(d.key)),seed-\(r.seed),\(csvField(set.data)),\(set.scores.count),\(set.loadSeed.map(String.init) ?? ""),"
                for (i, s) in set.scores.enumerated() {
                    lines.append(prefix + "\(i),\(ExampleSource.csvFields(set.sources?[i])),\(s),\(set.bitsPerDim.map { String($0[i]) } ?? "")")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The in-distribution set and the OOD sets of an evaluation as detectors see them (tabular
    /// OOD sets standardised like the in-distribution training class).
    func evaluationInputs(_ evaluation: EvaluateSpec, ood sets: [DataRef], seed: Int) throws -> (DetectorInput, [DetectorInput]) {
        let idTrain: DataRef? = if case let .tabular(n, c, _) = evaluation.inDistribution { .tabular(name: n, classLabel: c, split: .train) } else { nil }
        let inInput = DetectorInput(try load(evaluation.inDistribution, count: evaluation.subset, seed: 100 + seed))
        let oodInputs = try sets.map { DetectorInput(try load($0, count: evaluation.subset, seed: 200 + seed, standardizeLike: idTrain)) }
        return (inInput, oodInputs)
    }

    /// `@Curve` of an `.lde` detector: refits its flow at each number of epochs or PCA dimension.
    func curve(evaluation: EvaluateSpec, detector: DetectorSpec, vary: VarySpec, metric curveMetric: MetricKind,
               ood: [DataRef]?, seed: Int, models: [String: URL], trains: [String: TrainSpec], into out: URL) throws {
        guard case let .lde(cls, flow, epochs, normalize, pca) = detector.kind else {
            throw BackendError("@Curve varies the fitted part of an .lde detector; '\(detector.key)' is not one")
        }
        let sets = ood ?? evaluation.ood
        let (inInput, oodInputs) = try evaluationInputs(evaluation, ood: sets, seed: seed)
        let fitInput = DetectorInput(try fitData(for: detector, trains: trains, seed: seed))
        let values: [Int]
        let parameter: String
        switch vary {
        case .epochs(let v): values = v; parameter = "training epochs"
        case .pca(let v): values = v; parameter = "PCA dimension"
        }
        var metric: [String: [Double]] = [:]
        var loss: [Double] = []
        for v in values {
            var d = detector
            switch vary {
            case .epochs: d.kind = .lde(classifier: cls, flow: flow, epochs: v, normalize: normalize, pca: pca)
            case .pca: d.kind = .lde(classifier: cls, flow: flow, epochs: epochs, normalize: normalize, pca: v)
            }
            log("  \(parameter) = \(v)")
            let (det, _) = try makeDetector(d, models: models)
            var rng = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 13)
            try det.fit(fitInput, using: &rng)
            let inScores = try checkedScores(try det.scores(inInput), detector: d.key, dataset: evaluation.inDistribution.key)
            for (ref, input) in zip(sets, oodInputs) {
                let outScores = try checkedScores(try det.scores(input), detector: d.key, dataset: ref.key)
                let m = try MetricRecord(metrics: OODMetrics(inScores: inScores, outScores: outScores), intervals: nil)
                metric[ref.key, default: []].append(m.value(curveMetric))
            }
            let trainBits = try det.scores(fitInput).map { -$0 }
            loss.append(trainBits.reduce(0, +) / Double(max(trainBits.count, 1)))
        }
        let result = CurveResult(parameter: parameter, values: values, metric: metric,
                                 displayNames: Dictionary(sets.map { ($0.key, $0.displayName) }, uniquingKeysWith: { a, _ in a }),
                                 loss: { if case .epochs = vary { return loss } else { return nil } }())
        try writeJSON(result, to: out.appendingPathComponent("curve.json"))
    }

    func scatter(_ spec: ScatterSpec, classifier: URL, flow: URL?, into out: URL) throws {
        let ex = try extractor(classifier)
        var rows: [[Double]] = []
        var group: [Int] = []
        var names: [String] = []
        for (g, ref) in spec.datasets.enumerated() {
            let data = try load(ref, count: spec.perSet, seed: 300)
            let f = try ex.features(of: data)
            let (v, d) = try latentRows(f, normalize: spec.normalize, pca: nil)
            for i in 0..<f.shape[0] { rows.append(v[(i * d)..<((i + 1) * d)].map(Double.init)); group.append(g) }
            names.append(ref.displayName)
        }
        if let flow {
            let (model, fspec) = try loadFlow(flow)
            guard fspec.dimensions == rows.first?.count else {
                throw BackendError("the flow models \(fspec.dimensions)-dimensional data, the features have \(rows.first?.count ?? 0)")
            }
            var rng = SeededGenerator(seed: 301)
            let x = model.sample(count: spec.perSet, using: &rng).doubles
            let d = fspec.dimensions
            for i in 0..<spec.perSet { rows.append(Array(x[(i * d)..<((i + 1) * d)])); group.append(spec.datasets.count) }
            names.append("flow samples")
        }
        var rng = SeededGenerator(seed: 302)
        let (x, y) = try TSNE(perplexity: spec.perplexity, iterations: profile == .smoke ? 250 : 1000).embed(rows, using: &rng)
        try writeJSON(ScatterResult(x: x, y: y, group: group, groupNames: names), to: out.appendingPathComponent("tsne.json"))
    }

    // MARK: - Image-flow figures (rendered from the trained model; cheap)

    func couplingGrid(_ spec: ImageFlowFigureSpec, model: URL, title: String?) throws -> Figure {
        let (flow, _) = try loadFlow(model)
        guard let nvp = flow as? RealNVP else { throw BackendError("coupling grids need a RealNVP model") }
        var rows: [[PlotImage?]] = []
        var rowLabels: [Label] = []
        var columns: [Label] = []
        for ref in spec.images {
            let data = try load(ref, count: nil, seed: 0)
            guard spec.indexOrCount < data.count else { throw BackendError("\(ref.key) has \(data.count) images, index \(spec.indexOrCount)") }
            let trace = withoutGrad { nvp.trace(data.tensor(indices: [spec.indexOrCount])) }
            let h = trace.height, w = trace.width
            func img(_ v: [Double]) -> PlotImage { PlotImage(width: w, height: h, pixels: trace.plane(v, channel: 0)) }
            if columns.isEmpty {
                columns = ["input"] + trace.couplings.indices.map { "\($0 + 1)" } + ["z"]
            }
            rows.append([img(trace.input)] + trace.couplings.map { img($0.output) } + [img(trace.latent)])
            rows.append([nil] + trace.couplings.map { img($0.scale) } + [nil])
            rows.append([nil] + trace.couplings.map { img($0.shift) } + [nil])
            rowLabels += [.plain("\(ref.displayName): output"), "exp(<i>s</i>)", "<i>t</i>"]
        }
        let grid = try ImageGrid(rows, rowLabels: rowLabels, columnLabels: columns, colorMap: .grey, range: .data,
                                 scope: .row, colorBar: true, title: title.map { .plain($0) })
        return Figure(grid)
    }

    func latentGrid(_ spec: ImageFlowFigureSpec, model: URL, title: String?) throws -> Figure {
        let (flow, fspec) = try loadFlow(model)
        guard let nvp = flow as? RealNVP else { throw BackendError("latent grids need a RealNVP model") }
        _ = fspec
        var rows: [[PlotImage?]] = []
        var labels: [Label] = []
        for ref in spec.images {
            let data = try load(ref, count: nil, seed: 0)
            let idx = Array(0..<min(spec.indexOrCount, data.count))
            let x = data.tensor(indices: idx)
            let z = withoutGrad { nvp.latentImage(nvp.forward(x).z) }
            let c = nvp.config
            let plane = c.height * c.width
            let xs = x.doubles, zs = z.doubles
            rows.append(idx.map { i in PlotImage(width: c.width, height: c.height, pixels: Array(xs[(i * c.channels * plane)..<(i * c.channels * plane + plane)])) })
            rows.append(idx.map { i in PlotImage(width: c.width, height: c.height, pixels: Array(zs[(i * c.channels * plane)..<(i * c.channels * plane + plane)])) })
            labels += [.plain("\(ref.displayName)"), "<i>z</i>"]
        }
        let grid = try ImageGrid(rows, rowLabels: labels, colorMap: .grey, range: .data, scope: .row, colorBar: true,
                                 title: title.map { .plain($0) })
        return Figure(grid)
    }

    func samples(_ spec: SamplesSpec, model: URL) throws -> Figure {
        let (flow, fspec) = try loadFlow(model)
        guard case .image(let c, let h, let w) = fspec.dataKind else { throw BackendError("samples need an image flow") }
        var rng = SeededGenerator(seed: 400)
        let x = flow.sample(count: spec.count, temperature: spec.temperature, using: &rng).doubles
        let plane = h * w
        let perRow = Int(Double(spec.count).squareRoot().rounded(.up))
        var rows: [[PlotImage?]] = []
        for r in stride(from: 0, to: spec.count, by: perRow) {
            rows.append((r..<min(r + perRow, spec.count)).map { i in
                PlotImage(width: w, height: h, pixels: Array(x[(i * c * plane)..<(i * c * plane + plane)]))
            })
        }
        let grid = try ImageGrid(rows, colorMap: .grey, range: .fixed(0...1), title: spec.title.map { .plain($0) })
        return Figure(grid, width: min(Figure.textWidth, Double(perRow) * 40))
    }
}

struct BackendError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
