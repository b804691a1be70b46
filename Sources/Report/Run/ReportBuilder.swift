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
    /// Implicit evaluations behind `@Histogram(model:)`, by figure id.
    var histogramEvaluations: [String: String] = [:]
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
    func trainNode(_ id: String, seed: Int) throws -> ExperimentNode {
        guard let d = trains[id], case .train(let raw) = d.spec else {
            throw ValueError(location: SourceLocation(file: "?", line: 0, column: 0), message: "no @Train with id '\(id)'")
        }
        let spec = raw.applying(options.profile)
        let s = spec.seed(for: seed)
        if let n = trainNodes[id]?[s] { return n }
        var inputs: [ExperimentNode] = []
        for dep in spec.data.dependencies + (spec.negative?.dependencies ?? []) {
            inputs.append(try trainNode(dep, seed: s))
        }
        struct Key: Encodable { var spec: TrainSpec; var seed: Int; var data: [String] }
        let canonical = canonicalJSON(Key(spec: spec, seed: s, data: backend.fingerprints(spec.data, spec.negative)))
        let backend = self.backend
        let depIds = spec.data.dependencies + (spec.negative?.dependencies ?? [])
        let node = graph.node(label: "train \(id) (seed \(s))", kind: "train", codeVersion: Backend.trainVersion,
                              canonical: canonical, inputs: inputs, location: d.location) { node, out in
            let models = Dictionary(zip(depIds, node.inputs.indices.map { node.inputDirectory($0) }), uniquingKeysWith: { a, _ in a })
            try backend.train(spec, seed: s, label: node.label, key: node.key, inputModels: models, into: out)
        }
        trainNodes[id, default: [:]][s] = node
        return node
    }

    func evaluationNode(_ id: String, seed: Int) throws -> ExperimentNode {
        if let n = evaluationNodes[id]?[seed] { return n }
        guard let (raw, d) = evaluations[id] else {
            throw ValueError(location: SourceLocation(file: "?", line: 0, column: 0), message: "no @Evaluate with id '\(id)'")
        }
        let spec = raw.applying(options.profile)
        var modelIds: [String] = []
        for det in spec.detectors where !modelIds.contains(det.kind.model) { modelIds.append(det.kind.model) }
        for ref in [spec.inDistribution] + spec.ood { for dep in ref.dependencies where !modelIds.contains(dep) { modelIds.append(dep) } }
        let inputs = try modelIds.map { try trainNode($0, seed: seed) }
        let ids = modelIds
        struct Key: Encodable { var spec: EvaluateSpec; var seed: Int; var data: [String] }
        let canonical = canonicalJSON(Key(spec: spec, seed: seed,
                                          data: backend.fingerprints([spec.inDistribution] + spec.ood)))
        let backend = self.backend
        let trains = try trainSpecs(ids)
        let node = graph.node(label: "evaluate \(id) (seed \(seed))", kind: "evaluate", codeVersion: Backend.evaluateVersion,
                              canonical: canonical, inputs: inputs, location: d.location) { node, out in
            let models = Dictionary(zip(ids, node.inputs.indices.map { node.inputDirectory($0) }), uniquingKeysWith: { a, _ in a })
            try backend.evaluate(spec, seed: seed, models: models, trains: trains, into: out)
        }
        evaluationNodes[id, default: [:]][seed] = node
        return node
    }

    /// The (profile-adjusted) specs of these `@Train` ids.
    func trainSpecs(_ ids: [String]) throws -> [String: TrainSpec] {
        var out: [String: TrainSpec] = [:]
        for id in ids {
            guard let d = trains[id], case .train(let t) = d.spec else { throw BackendError("no @Train '\(id)'") }
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
                for s in t.seeds { _ = try trainNode(t.id, seed: s) }
            case .evaluate(let e):
                for s in e.seeds { _ = try evaluationNode(e.id, seed: s) }
            case .histogram(let h):
                if let evalId = histogramEvaluations[h.id] {
                    for s in evaluations[evalId]!.spec.seeds { _ = try evaluationNode(evalId, seed: s) }
                }
            case .curve(let c):
                try planCurve(c, d)
            case .scatter(let s):
                try planScatter(s, d)
            default: break
            }
        }
    }

    func planCurve(_ c: CurveSpec, _ d: LocatedDirective) throws {
        guard let (raw, _) = evaluations[c.evaluation] else { return }
        let spec = raw.applying(options.profile)
        guard let det = spec.detectors.first(where: { $0.key == c.detector }) else {
            throw ValueError(location: d.location, message: "@Evaluate '\(c.evaluation)' has no detector '\(c.detector)'")
        }
        let seed = spec.seeds[0]
        let cls = try trainNode(det.kind.model, seed: seed)
        let vary = c.vary.applying(options.profile)
        struct Key: Encodable { var evaluation: EvaluateSpec; var detector: String; var vary: VarySpec; var metric: MetricKind; var ood: [DataRef]?; var data: [String] }
        let canonical = canonicalJSON(Key(evaluation: spec, detector: c.detector, vary: vary, metric: c.metric, ood: c.ood,
                                          data: backend.fingerprints([spec.inDistribution] + spec.ood)))
        let backend = self.backend
        let model = det.kind.model
        let trains = try trainSpecs([model])
        curveNodes[c.id] = graph.node(label: "curve \(c.id)", kind: "curve", codeVersion: Backend.curveVersion,
                                      canonical: canonical, inputs: [cls], location: d.location) { node, out in
            try backend.curve(evaluation: spec, detector: det, vary: vary, metric: c.metric, ood: c.ood, seed: seed,
                              models: [model: node.inputDirectory(0)], trains: trains, into: out)
        }
    }

    func planScatter(_ s: ScatterSpec, _ d: LocatedDirective) throws {
        let spec = s.applying(options.profile)
        var inputs = [try trainNode(spec.classifier, seed: 0)]
        if let flow = spec.flow { inputs.append(try trainNode(flow, seed: 0)) }
        struct Key: Encodable { var spec: ScatterSpec; var data: [String] }
        let canonical = canonicalJSON(Key(spec: spec, data: backend.fingerprints(spec.datasets)))
        let backend = self.backend
        scatterNodes[s.id] = graph.node(label: "t-SNE \(s.id)", kind: "scatter", codeVersion: Backend.scatterVersion,
                                        canonical: canonical, inputs: inputs, location: d.location) { node, out in
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
    /// (detector, dataset, index, score, bits_per_dim), for re-scoring outside FlowOOD.
    func exportScores() throws {
        let dir = options.root.appendingPathComponent("build/scores")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (id, bySeed) in evaluationNodes {
            for (seed, node) in bySeed {
                guard let src = node.directory?.appendingPathComponent("scores.csv") else { continue }
                let name = id.replacingOccurrences(of: ":", with: "-")
                try writeAtomically(try Data(contentsOf: src), to: dir.appendingPathComponent("\(name)-seed\(seed).csv"))
            }
        }
    }

    // MARK: - Results

    func trainResult(_ id: String, seed: Int) throws -> (TrainResult, URL) {
        let node = try trainNode(id, seed: seed)
        guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
        return (try readJSON(TrainResult.self, from: dir.appendingPathComponent("result.json")), dir)
    }

    /// The results of every seed of evaluation `id` (implicit histogram evaluations included).
    func evaluationResults(_ id: String) throws -> [EvaluationResult] {
        guard let (raw, _) = evaluations[id] else { throw ValueError(location: SourceLocation(file: "?", line: 0, column: 0), message: "no @Evaluate '\(id)'") }
        return try raw.seeds.map { s in
            let node = try evaluationNode(id, seed: s)
            guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
            return try readJSON(EvaluationResult.self, from: dir.appendingPathComponent("evaluation.json"))
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

extension ScatterSpec {
    func applying(_ profile: Profile) -> ScatterSpec {
        guard profile == .smoke else { return self }
        var s = self
        s.perSet = min(perSet, 40)
        s.perplexity = min(perplexity, 10)
        return s
    }
}
