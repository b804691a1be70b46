import Foundation
import NN
import OOD
import Plot

/// Where a build reads and writes, and how it reports.
public struct BuildOptions: Sendable {
    public var profile: Profile
    /// The project root: figures/ and build/ are relative to it.
    public var root: URL
    /// Data directory override (`--data-dir`), else FLOWOOD_DATA, else the packages' paths.
    public var dataDirectory: String?
    /// Print why every node ran or was reused.
    public var explain: Bool
    /// "flowood 0.1.0"; goes into provenance and the title page.
    public var generator: String

    public init(profile: Profile, root: URL, dataDirectory: String? = nil, explain: Bool = false,
                generator: String = "flowood") {
        self.profile = profile
        self.root = root
        self.dataDirectory = dataDirectory
        self.explain = explain
        self.generator = generator
    }

    public var cacheRoot: URL { root.appendingPathComponent("build/cache") }
    public var reportDirectory: URL { root.appendingPathComponent("build/report") }
    public var figuresDirectory: URL { root.appendingPathComponent("figures") }
}

/// Turns typed chapters into an experiment graph, runs it against the cache, and assembles the
/// `ReportDocument` (figures rendered from cached results, tables, claims, inline values).
public final class ReportBuilder {
    public let chapters: [ChapterSpec]
    public let options: BuildOptions
    public let graph: ExperimentGraph
    var log: (String) -> Void
    let backend: Backend

    // Registries by id.
    var trains: [String: LocatedDirective] = [:]
    var evaluations: [String: (spec: EvaluateSpec, at: LocatedDirective)] = [:]
    var trainNodes: [String: [Int: ExperimentNode]] = [:]
    var evaluationNodes: [String: [Int: ExperimentNode]] = [:]
    var curveNodes: [String: ExperimentNode] = [:]
    var scatterNodes: [String: ExperimentNode] = [:]
    var scoresNodes: [String: ExperimentNode] = [:]
    var featuresNodes: [String: ExperimentNode] = [:]
    /// Implicit evaluations behind `@Histogram(model:)`, by figure id.
    var histogramEvaluations: [String: String] = [:]
    /// Decoded evaluation.json files by path: every inline value and table reads them, and their
    /// directories are content-addressed, so one decoding per build is enough.
    var decodedEvaluations: [String: EvaluationResult] = [:]
    var claims: [(ClaimSpec, LocatedDirective)] = []

    public init(chapters: [ChapterSpec], options: BuildOptions, log: @escaping (String) -> Void = {
        FileHandle.standardError.write(Data(($0 + "\n").utf8))
    }) {
        self.chapters = chapters
        self.options = options
        self.log = log
        graph = ExperimentGraph(cache: ExperimentCache(root: options.cacheRoot), profile: options.profile)
        graph.log = log
        backend = Backend(profile: options.profile, dataDirectory: options.dataDirectory, cache: graph.cache, log: log)
    }

    var directives: [LocatedDirective] {
        chapters.flatMap { $0.pieces.compactMap { if case .directive(let d) = $0 { d } else { nil } } }
    }

    // MARK: - Planning

    /// The node training `id` with `seed` (the seed must be one of the directive's, or its first).
    /// `location` is the directive that needs it (for the error when there is no such `@Train`,
    /// which the chapter checker rules out).
    func trainNode(_ id: String, seed: Int, for location: SourceLocation) throws -> ExperimentNode {
        guard let d = trains[id], case .train(let raw) = d.spec else {
            throw ValueError(location: location, message: "no @Train with id '\(id)'")
        }
        let spec = raw.applying(options.profile)
        let s = spec.seed(for: seed)
        if let n = trainNodes[id]?[s] { return n }
        var inputs: [ExperimentNode] = []
        for dep in spec.data.dependencies + (spec.negative?.dependencies ?? []) {
            inputs.append(try trainNode(dep, seed: s, for: d.location))
        }
        struct Key: Encodable { var spec: TrainSpec; var seed: Int; var data: [String] }
        let data = backend.fingerprints(spec.data, spec.negative)
        let canonical = canonicalJSON(Key(spec: spec, seed: s, data: data))
        let backend = self.backend
        let depIds = spec.data.dependencies + (spec.negative?.dependencies ?? [])
        let node = graph.node(label: "train \(id) (seed \(s))", kind: "train", codeVersion: Backend.trainVersion,
                              canonical: canonical, data: data, inputs: inputs, location: d.location) { node, out in
            let models = Dictionary(zip(depIds, node.inputs.indices.map { node.inputDirectory($0) }), uniquingKeysWith: { a, _ in a })
            try backend.train(spec, seed: s, label: node.label, key: node.key, inputModels: models, into: out)
        }
        trainNodes[id, default: [:]][s] = node
        return node
    }

    func evaluationNode(_ id: String, seed: Int, for location: SourceLocation) throws -> ExperimentNode {
        if let n = evaluationNodes[id]?[seed] { return n }
        guard let (raw, d) = evaluations[id] else {
            throw ValueError(location: location, message: "no @Evaluate with id '\(id)'")
        }
        let spec = raw.applying(options.profile)
        var modelIds: [String] = []
        for det in spec.detectors where !modelIds.contains(det.kind.model) { modelIds.append(det.kind.model) }
        for ref in [spec.inDistribution] + spec.ood { for dep in ref.dependencies where !modelIds.contains(dep) { modelIds.append(dep) } }
        let inputs = try modelIds.map { try trainNode($0, seed: seed, for: d.location) }
        let ids = modelIds
        struct Key: Encodable { var spec: EvaluateSpec; var seed: Int; var data: [String] }
        let data = backend.fingerprints([spec.inDistribution] + spec.ood)
        let canonical = canonicalJSON(Key(spec: spec, seed: seed, data: data))
        let backend = self.backend
        let trains = try trainSpecs(ids, for: d.location)
        let node = graph.node(label: "evaluate \(id) (seed \(seed))", kind: "evaluate", codeVersion: Backend.evaluateVersion,
                              canonical: canonical, data: data, inputs: inputs, location: d.location) { node, out in
            let models = Dictionary(zip(ids, node.inputs.indices.map { node.inputDirectory($0) }), uniquingKeysWith: { a, _ in a })
            try backend.evaluate(spec, seed: seed, models: models, trains: trains, into: out)
        }
        evaluationNodes[id, default: [:]][seed] = node
        return node
    }

    /// The (profile-adjusted) specs of these `@Train` ids.
    func trainSpecs(_ ids: [String], for location: SourceLocation) throws -> [String: TrainSpec] {
        var out: [String: TrainSpec] = [:]
        for id in ids {
            guard let d = trains[id], case .train(let t) = d.spec else {
                throw ValueError(location: location, message: "no @Train with id '\(id)'")
            }
            out[id] = t.applying(options.profile)
        }
        return out
    }

    /// Creates every node the chapters need (no computation).
    func plan() throws {
        for d in directives {
            switch d.spec {
            case .train(let t): trains[t.id] = d
            case .evaluate(let e): evaluations[e.id] = (e, d)
            case .histogram(let h):
                if case .model(let flow) = h.source, let first = h.datasets.first {
                    let evalId = "histogram:\(h.id)"
                    let seeds: [Int]
                    if let td = directives.first(where: { if case .train(let t) = $0.spec { t.id == flow } else { false } }),
                       case .train(let t) = td.spec {
                        seeds = [t.seeds[0]]
                    } else {
                        seeds = [0]
                    }
                    let spec = EvaluateSpec(id: evalId, inDistribution: first, ood: Array(h.datasets.dropFirst()),
                                            detectors: [DetectorSpec(kind: .likelihood(flow: flow), key: flow,
                                                                     displayName: DetectorKind.likelihood(flow: flow).displayName)],
                                            seeds: seeds, subset: Backend.defaultHistogramSubset)
                    evaluations[evalId] = (spec, d)
                    histogramEvaluations[h.id] = evalId
                }
            case .claim(let c): claims.append((c, d))
            default: break
            }
        }
        for d in directives {
            switch d.spec {
            case .train(let t):
                for s in t.seeds { _ = try trainNode(t.id, seed: s, for: d.location) }
            case .evaluate(let e):
                for s in e.seeds { _ = try evaluationNode(e.id, seed: s, for: d.location) }
            case .histogram(let h):
                if let evalId = histogramEvaluations[h.id] {
                    for s in evaluations[evalId]!.spec.seeds { _ = try evaluationNode(evalId, seed: s, for: d.location) }
                }
            case .curve(let c):
                try planCurve(c, d)
            case .scatter(let s):
                try planScatter(s, d)
            case .scores(let s):
                try planScores(s, d)
            case .features(let f):
                try planFeatures(f, d)
            default: break
            }
        }
    }

    func planCurve(_ c: CurveSpec, _ d: LocatedDirective) throws {
        guard let (raw, _) = evaluations[c.evaluation] else {
            throw ValueError(location: d.location, message: "no @Evaluate with id '\(c.evaluation)'")
        }
        let spec = raw.applying(options.profile)
        guard let det = spec.detectors.first(where: { $0.key == c.detector }) else {
            throw ValueError(location: d.location, message: "@Evaluate '\(c.evaluation)' has no detector '\(c.detector)'")
        }
        let seed = spec.seeds[0]
        let vary = c.vary.applying(options.profile)
        let model = det.kind.model
        let trains = try trainSpecs([model], for: d.location)
        let backend = self.backend
        let data = backend.fingerprints([spec.inDistribution] + spec.ood)
        switch (det.kind, vary) {
        case (.likelihood, .epochs(let epochs)), (.typicality, .epochs(let epochs)):
            // Retrains the flow of the detector's @Train (its first-seed variant) up to max(epochs).
            let train = trains[model]!
            let trainSeed = train.seed(for: seed)
            let dependencies = train.data.dependencies + (train.negative?.dependencies ?? [])
            let inputs = try dependencies.map { try trainNode($0, seed: trainSeed, for: d.location) }
            struct Key: Encodable {
                var evaluation: EvaluateSpec; var detector: String; var train: TrainSpec; var epochs: [Int]; var metric: MetricKind
                var ood: [DataRef]?; var data: [String]
            }
            let flowData = backend.fingerprints(train.data, train.negative)
            let canonical = canonicalJSON(Key(evaluation: spec, detector: c.detector, train: train, epochs: epochs, metric: c.metric,
                                              ood: c.ood, data: data + flowData))
            curveNodes[c.id] = graph.node(label: "curve \(c.id)", kind: "flow-curve", codeVersion: Backend.flowCurveVersion,
                                          canonical: canonical, data: data + flowData, inputs: inputs, location: d.location) { node, out in
                let models = Dictionary(zip(dependencies, node.inputs.indices.map { node.inputDirectory($0) }), uniquingKeysWith: { a, _ in a })
                try backend.flowCurve(evaluation: spec, detector: det, train: train, epochs: epochs, metric: c.metric, ood: c.ood,
                                      seed: seed, key: node.key, inputModels: models, trains: trains, into: out)
            }
        default:
            let cls = try trainNode(model, seed: seed, for: d.location)
            struct Key: Encodable { var evaluation: EvaluateSpec; var detector: String; var vary: VarySpec; var metric: MetricKind; var ood: [DataRef]?; var data: [String] }
            let canonical = canonicalJSON(Key(evaluation: spec, detector: c.detector, vary: vary, metric: c.metric, ood: c.ood,
                                              data: data))
            curveNodes[c.id] = graph.node(label: "curve \(c.id)", kind: "curve", codeVersion: Backend.curveVersion,
                                          canonical: canonical, data: data, inputs: [cls], location: d.location) { node, out in
                try backend.curve(evaluation: spec, detector: det, vary: vary, metric: c.metric, ood: c.ood, seed: seed,
                                  models: [model: node.inputDirectory(0)], trains: trains, into: out)
            }
        }
    }

    func planScores(_ s: ScoresSpec, _ d: LocatedDirective) throws {
        let spec = s.applying(options.profile)
        let train = try trainSpecs([spec.model], for: d.location)[spec.model]!
        let flow = try trainNode(spec.model, seed: train.seeds[0], for: d.location)
        struct Key: Encodable { var spec: ScoresSpec; var data: [String] }
        let data = backend.fingerprints(spec.datasets)
        let canonical = canonicalJSON(Key(spec: spec, data: data))
        let backend = self.backend
        scoresNodes[s.id] = graph.node(label: "scores \(s.id)", kind: "scores", codeVersion: Backend.scoresVersion,
                                       canonical: canonical, data: data, inputs: [flow], location: d.location) { node, out in
            try backend.scores(spec, flowDirectory: node.inputDirectory(0), train: train, into: out)
        }
    }

    func planFeatures(_ f: FeaturesSpec, _ d: LocatedDirective) throws {
        let spec = f.applying(options.profile)
        let train = try trainSpecs([spec.classifier], for: d.location)[spec.classifier]!
        let classifier = try trainNode(spec.classifier, seed: train.seeds[0], for: d.location)
        struct Key: Encodable { var spec: FeaturesSpec; var data: [String] }
        let data = backend.fingerprints(spec.datasets)
        let canonical = canonicalJSON(Key(spec: spec, data: data))
        let backend = self.backend
        featuresNodes[f.id] = graph.node(label: "features \(f.id)", kind: "features", codeVersion: Backend.featuresVersion,
                                         canonical: canonical, data: data, inputs: [classifier], location: d.location) { node, out in
            try backend.features(spec, classifier: node.inputDirectory(0), into: out)
        }
    }

    func planScatter(_ s: ScatterSpec, _ d: LocatedDirective) throws {
        let spec = s.applying(options.profile)
        var inputs = [try trainNode(spec.classifier, seed: 0, for: d.location)]
        if let flow = spec.flow { inputs.append(try trainNode(flow, seed: 0, for: d.location)) }
        struct Key: Encodable { var spec: ScatterSpec; var data: [String] }
        let data = backend.fingerprints(spec.datasets)
        let canonical = canonicalJSON(Key(spec: spec, data: data))
        let backend = self.backend
        scatterNodes[s.id] = graph.node(label: "t-SNE \(s.id)", kind: "scatter", codeVersion: Backend.scatterVersion,
                                        canonical: canonical, data: data, inputs: inputs, location: d.location) { node, out in
            try backend.scatter(spec, classifier: node.inputDirectory(0),
                                flow: spec.flow == nil ? nil : node.inputDirectory(1), into: out)
        }
    }

    // MARK: - Building

    /// Plans, runs every experiment (or reuses it), renders figures into `figures/` and returns
    /// the document for the HTML and PDF renderers.
    public func build() throws -> ReportDocument {
        try plan()
        log("profile \(options.profile.rawValue): \(graph.nodes.count) experiments")
        try graph.run(explain: options.explain)
        try exportScores()
        let renderer = BlockRenderer(builder: self)
        return try renderer.document()
    }

    /// Copies every evaluation's per-sample scores to `build/scores/<id>-seed<k>.csv`
    /// (detector, dataset, index, score, bits_per_dim), every `@Scores` table's to
    /// `build/scores/<id>.csv` (dataset, index, log_likelihood, bits_per_dim) and every
    /// `@Features` table's features to `build/features/<id>/<data key>.csv`, for use outside
    /// FlowOOD (ids with ':' written as '-').
    func exportScores() throws {
        let fm = FileManager.default
        let dir = options.root.appendingPathComponent("build/scores")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        func fileName(_ id: String) -> String { id.replacingOccurrences(of: ":", with: "-") }
        for (id, bySeed) in evaluationNodes {
            for (seed, node) in bySeed {
                guard let src = node.directory?.appendingPathComponent("scores.csv") else { continue }
                try writeAtomically(try Data(contentsOf: src), to: dir.appendingPathComponent("\(fileName(id))-seed\(seed).csv"))
            }
        }
        for (id, node) in scoresNodes {
            guard let src = node.directory?.appendingPathComponent("scores.csv") else { continue }
            try writeAtomically(try Data(contentsOf: src), to: dir.appendingPathComponent("\(fileName(id)).csv"))
        }
        for (id, node) in featuresNodes {
            guard let src = node.directory?.appendingPathComponent("features") else { continue }
            let target = options.root.appendingPathComponent("build/features").appendingPathComponent(fileName(id))
            try? fm.removeItem(at: target)
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: src.path).sorted() {
                try fm.copyItem(at: src.appendingPathComponent(name), to: target.appendingPathComponent(name))
            }
        }
    }

    // MARK: - Results

    func trainResult(_ id: String, seed: Int, for location: SourceLocation) throws -> (TrainResult, URL) {
        let node = try trainNode(id, seed: seed, for: location)
        guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
        return (try readJSON(TrainResult.self, from: dir.appendingPathComponent("result.json")), dir)
    }

    /// The results of every seed of evaluation `id` (implicit histogram evaluations included).
    func evaluationResults(_ id: String, for location: SourceLocation) throws -> [EvaluationResult] {
        guard let (raw, _) = evaluations[id] else { throw ValueError(location: location, message: "no @Evaluate with id '\(id)'") }
        return try raw.seeds.map { s in
            let node = try evaluationNode(id, seed: s, for: location)
            guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
            let file = dir.appendingPathComponent("evaluation.json")
            if let decoded = decodedEvaluations[file.path] { return decoded }
            let decoded = try readJSON(EvaluationResult.self, from: file)
            decodedEvaluations[file.path] = decoded
            return decoded
        }
    }
}

extension TrainSpec {
    /// The smoke profile caps data, epochs and widths; the paper profile is the spec itself.
    func applying(_ profile: Profile) -> TrainSpec {
        guard profile == .smoke else { return self }
        var s = self
        s.subset = min(subset ?? Int.max, model.isClassifier ? 1024 : 512)
        s.epochs = 1
        s.model = model.smoke
        return s
    }
}

extension ModelSpec {
    var smoke: ModelSpec {
        switch self {
        case let .realNVP(scales, channels, blocks, mask, stNet):
            let st: STNetSpec = if case .bottleneck(let k) = stNet { .bottleneck(min(k, 16)) } else { stNet }
            return .realNVP(scales: scales, channels: min(channels, 8), blocks: min(blocks, 1), mask: mask, stNet: st)
        case let .glow(levels, depth, channels): return .glow(levels: levels, depth: min(depth, 2), channels: min(channels, 8))
        case let .glowLatent(blocks, hidden): return .glowLatent(blocks: min(blocks, 2), hidden: min(hidden, 64))
        case let .realNVPVector(couplings, hidden): return .realNVPVector(couplings: min(couplings, 4), hidden: min(hidden, 64))
        case let .residualFlow(blocks, hidden): return .residualFlow(blocks: min(blocks, 2), hidden: min(hidden, 64))
        case .classifier: return self
        }
    }
}

extension EvaluateSpec {
    func applying(_ profile: Profile) -> EvaluateSpec {
        guard profile == .smoke else { return self }
        var s = self
        s.subset = min(subset ?? Int.max, 256)
        s.detectors = detectors.map { d in
            var d = d
            if case let .lde(c, flow, epochs, normalize, pca) = d.kind {
                d.kind = .lde(classifier: c, flow: flow.smoke, epochs: min(epochs, 1), normalize: normalize, pca: pca)
            }
            return d
        }
        return s
    }
}

extension VarySpec {
    func applying(_ profile: Profile) -> VarySpec {
        guard profile == .smoke else { return self }
        switch self {
        case .epochs(let e):
            var out: [Int] = []
            for v in e.map({ min($0, 2) }) where !out.contains(v) { out.append(v) }
            return .epochs(out)
        case .pca: return self
        }
    }
}

/// Specs that read data sets the way an evaluation does: the smoke profile caps each at 256.
protocol EvaluationSized {
    var subset: Int? { get set }
}

extension EvaluationSized {
    func applying(_ profile: Profile) -> Self {
        guard profile == .smoke else { return self }
        var s = self
        s.subset = min(subset ?? Int.max, 256)
        return s
    }
}

extension ScoresSpec: EvaluationSized {}
extension FeaturesSpec: EvaluationSized {}

extension ScatterSpec {
    func applying(_ profile: Profile) -> ScatterSpec {
        guard profile == .smoke else { return self }
        var s = self
        s.perSet = min(perSet, 40)
        s.perplexity = min(perplexity, 10)
        return s
    }
}
