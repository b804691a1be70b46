import Foundation
import NN
import OOD
import Plot

/// Renders the chapters' directives into document blocks from cached results: figures (drawn
/// into the report's `figures/` by `ReportWriter`, as `fig-name.{png,svg,pdf}`), tables,
/// claims, and inline values in the prose.
struct BlockRenderer {
    let builder: ReportBuilder

    var options: BuildOptions { builder.options }

    /// Versions of the code that turns cached results into each kind of block; they appear in
    /// the block's provenance before the code versions of the nodes it reads.
    enum RenderVersion {
        static let histogram = "render-histogram-1"
        static let roc = "render-roc-1"
        static let curve = "render-curve-1"
        static let scatter = "render-scatter-1"
        static let couplingGrid = "render-coupling-grid-1"
        static let latentGrid = "render-latent-grid-1"
        static let samples = "render-samples-1"
        static let table = "render-auroc-table-2"
        static let scores = "render-scores-1"
        static let features = "render-features-1"
        static let claim = "render-claim-1"
        static let ledger = "render-claims-ledger-1"
    }

    func document() throws -> ReportDocument {
        var title = "FlowOOD", subtitle: String?, authors: String?, abstract = ""
        for d in builder.directives {
            if case let .title(t, s, a) = d.spec {
                title = t; subtitle = s; authors = a; abstract = d.body ?? ""
            }
        }
        var chapters: [ChapterDocument] = []
        var errors: [String] = []
        for chapter in builder.chapters {
            var blocks: [Block] = []
            for piece in chapter.pieces {
                do {
                    switch piece {
                    case .markdown(let text, let line):
                        blocks.append(.markdown(try substituteValues(text, file: chapter.file, firstLine: line), line: line))
                    case .directive(let d):
                        if let b = try block(for: d) { blocks.append(b) }
                    }
                } catch let e as ValueError {
                    errors.append(e.description)
                } catch {
                    if case .directive(let d) = piece { errors.append("\(d.location): error: \(error)") } else { errors.append("\(chapter.file): error: \(error)") }
                }
            }
            chapters.append(ChapterDocument(file: chapter.file, blocks: blocks))
        }
        if !errors.isEmpty { throw RenderErrors(messages: errors) }
        return ReportDocument(title: title, subtitle: subtitle, authors: authors, abstract: abstract,
                              profile: options.profile.rawValue, generator: options.generator, chapters: chapters)
    }

    // MARK: - Blocks

    /// The directive, the nodes behind a block (one cache key, or the SHA-256 of several keys),
    /// their seeds, and the code versions: the block's render version, then the nodes' versions.
    func provenance(_ d: LocatedDirective, nodes: [ExperimentNode], render: String) -> Provenance {
        var unique: [ExperimentNode] = []
        for node in nodes where !unique.contains(where: { $0 === node }) { unique.append(node) }
        var h = SHA256()
        h.update(unique.map(\.key).joined(separator: "\n"))
        let versions = [render] + Set(unique.map(\.codeVersion)).sorted()
        return Provenance(directive: d.source, location: d.location,
                          cacheKey: unique.count == 1 ? unique[0].key : h.finalize().hex,
                          seeds: seeds(of: unique), codeVersion: versions.joined(separator: ", "))
    }

    /// The seeds in the nodes' labels ("train x (seed 1)"), sorted, without repeats.
    func seeds(of nodes: [ExperimentNode]) -> [Int] {
        Set(nodes.compactMap { n -> Int? in
            guard let r = n.label.range(of: "(seed ") else { return nil }
            return Int(n.label[r.upperBound...].dropLast())
        }).sorted()
    }

    /// A figure block; `ReportWriter` draws it as PNG, SVG and PDF into the report's `figures/`.
    func figureBlock(_ id: String, _ figure: Figure, _ d: LocatedDirective, nodes: [ExperimentNode], render: String) -> Block {
        .figure(FigureBlock(id: id, figure: figure, caption: d.body ?? "", formats: [.png, .svg, .pdf],
                            provenance: provenance(d, nodes: nodes, render: render)))
    }

    func block(for d: LocatedDirective) throws -> Block? {
        switch d.spec {
        case .title, .train, .evaluate: return nil
        case .histogram(let h): return try histogram(h, d)
        case .roc(let r): return try roc(r, d)
        case .curve(let c): return try curve(c, d)
        case .scatter(let s): return try scatter(s, d)
        case .table(let t): return try table(t, d)
        case .scores(let s): return try scores(s, d)
        case .features(let f): return try features(f, d)
        case .claimsLedger(let id): return try claimsLedger(id, d)
        case .claim(let c): return try claim(c, d)
        case .couplingGrid(let g):
            let node = try modelNode(g.model, d)
            return figureBlock(g.id, try builder.backend.couplingGrid(g, model: try directory(of: node), title: g.title), d,
                               nodes: [node], render: RenderVersion.couplingGrid)
        case .latentGrid(let g):
            let node = try modelNode(g.model, d)
            return figureBlock(g.id, try builder.backend.latentGrid(g, model: try directory(of: node), title: g.title), d,
                               nodes: [node], render: RenderVersion.latentGrid)
        case .samples(let s):
            let node = try modelNode(s.model, d)
            return figureBlock(s.id, try builder.backend.samples(s, model: try directory(of: node)), d,
                               nodes: [node], render: RenderVersion.samples)
        }
    }

    /// The training node of the first seed of `@Train` `id`.
    func modelNode(_ id: String, _ d: LocatedDirective) throws -> ExperimentNode {
        let seed = builder.trains[id].flatMap { if case .train(let t) = $0.spec { t.seeds.first } else { nil } } ?? 0
        return try builder.trainNode(id, seed: seed, for: d.location)
    }

    func directory(of node: ExperimentNode) throws -> URL {
        guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
        return dir
    }

    func evaluationNodes(_ id: String, for location: SourceLocation) throws -> [ExperimentNode] {
        guard let (spec, _) = builder.evaluations[id] else { return [] }
        return try spec.seeds.map { try builder.evaluationNode(id, seed: $0, for: location) }
    }

    func detectorResult(_ results: [EvaluationResult], _ key: String, _ at: SourceLocation) throws -> EvaluationResult.DetectorResult {
        guard let first = results.first, let det = first.detector(key) else {
            throw ValueError(location: at, message: "no detector '\(key)' in this evaluation; have \(results.first?.detectors.map(\.key).joined(separator: ", ") ?? "none")")
        }
        return det
    }

    func histogram(_ h: HistogramSpec, _ d: LocatedDirective) throws -> Block {
        let evalId: String, detector: String
        switch h.source {
        case .model(let m): evalId = builder.histogramEvaluations[h.id]!; detector = m
        case .evaluation(let e, let det): evalId = e; detector = det
        }
        let results = try builder.evaluationResults(evalId, for: d.location)
        let det = try detectorResult(results, detector, d.location)
        let wanted = Set(h.datasets.map(\.key))
        var sets: [HistogramDataset] = []
        var xLabel: Label = "bits per dimension"
        for set in det.sets where wanted.isEmpty || wanted.contains(set.data) {
            let values: [Double]
            switch h.score {
            case .bitsPerDim:
                guard let b = set.bitsPerDim else { throw ValueError(location: d.location, message: "detector '\(detector)' has no bits/dim (use score: .score)") }
                values = b
            case .logLikelihood:
                guard let b = set.bitsPerDim, let dims = set.dimensions else { throw ValueError(location: d.location, message: "detector '\(detector)' has no likelihood") }
                values = b.map { -$0 * Double(dims) * log(2) }
                xLabel = "log-likelihood (nats)"
            case .score:
                values = set.scores
                xLabel = "score (higher = more in-distribution)"
            }
            sets.append(HistogramDataset(.plain(set.displayName), values: values))
        }
        let axes = try Axes.histogram(of: sets, bins: .count(h.bins), range: .quantiles(lower: 0.005, upper: 0.995),
                                      normalization: .density, xLabel: xLabel, yLabel: "density")
        var axesWithTitle = axes
        if let t = h.title { axesWithTitle.title = .plain(t) }
        return figureBlock(h.id, Figure(axesWithTitle, height: 230), d, nodes: try evaluationNodes(evalId, for: d.location),
                           render: RenderVersion.histogram)
    }

    func roc(_ r: ROCSpec, _ d: LocatedDirective) throws -> Block {
        let results = try builder.evaluationResults(r.evaluation, for: d.location)
        let det = try detectorResult(results, r.detector, d.location)
        let wanted = r.ood.map { Set($0.map(\.key)) }
        let curves = try det.sets.dropFirst().filter { wanted?.contains($0.data) ?? true }.map { set in
            try ROCCurve(.plain(set.displayName), positives: det.sets[0].scores, negatives: set.scores)
        }
        var axes = try Axes.roc(curves)
        if let t = r.title { axes.title = .plain(t) }
        return figureBlock(r.id, Figure(axes, width: Figure.textWidth * 0.75, height: 260), d,
                           nodes: try evaluationNodes(r.evaluation, for: d.location), render: RenderVersion.roc)
    }

    func curve(_ c: CurveSpec, _ d: LocatedDirective) throws -> Block {
        guard let node = builder.curveNodes[c.id], let dir = node.directory else { preconditionFailure("curve \(c.id) has not run") }
        let result = try readJSON(CurveResult.self, from: dir.appendingPathComponent("curve.json"))
        let x = result.values.map(Double.init)
        var series: [LineSeries] = result.metric.keys.sorted().map { key in
            LineSeries(.plain(result.displayNames[key] ?? key), x: x, y: result.metric[key]!.map { 100 * $0 })
        }
        if let loss = result.loss {
            series.append(LineSeries("training loss", x: x, y: loss, axis: .secondary, dash: .dashed))
        }
        var axes = try Axes.lines(series, xLabel: .plain(result.parameter), yLabel: "\(c.metric.displayName) (%)",
                                  secondaryYLabel: result.loss == nil ? nil : "loss (bits/dim)", grid: true)
        if let t = c.title { axes.title = .plain(t) }
        return figureBlock(c.id, Figure(axes, height: 240), d, nodes: [node], render: RenderVersion.curve)
    }

    func scatter(_ s: ScatterSpec, _ d: LocatedDirective) throws -> Block {
        guard let node = builder.scatterNodes[s.id], let dir = node.directory else { preconditionFailure("scatter \(s.id) has not run") }
        let r = try readJSON(ScatterResult.self, from: dir.appendingPathComponent("tsne.json"))
        var axes = try Axes.scatter(x: r.x, y: r.y, categories: r.group, categoryNames: r.groupNames.map { .plain($0) })
        if let t = s.title { axes.title = .plain(t) }
        return figureBlock(s.id, Figure(axes, height: 300), d, nodes: [node], render: RenderVersion.scatter)
    }

    // MARK: - Tables

    /// `@AUROCTable`: one row per detector; per OOD set and metric a column of ours (mean ± std
    /// over seeds, best in bold), followed by a "(paper)" column when the chapter gives a
    /// published number for that metric and set (shown as printed in the paper, in percent).
    func table(_ t: TableSpec, _ d: LocatedDirective) throws -> Block {
        let results = try builder.evaluationResults(t.evaluation, for: d.location)
        guard let first = results.first else { throw ValueError(location: d.location, message: "evaluation '\(t.evaluation)' has no results") }
        let detectors = try (t.detectors ?? first.detectors.map(\.key)).map { try detectorResult(results, $0, d.location) }
        let oodKeys = t.ood.map { $0.map(\.key) } ?? first.ood
        let names = Dictionary(first.detectors.flatMap(\.sets).map { ($0.data, $0.displayName) }, uniquingKeysWith: { a, _ in a })
        /// Our columns in order; each may be followed by a published column.
        let columns: [(ood: String, metric: MetricKind)] = oodKeys.flatMap { ood in t.metrics.map { (ood, $0) } }
        var header = ["Detector"]
        var numeric = [false]
        for (ood, m) in columns {
            let ours = t.metrics.count == 1 ? (names[ood] ?? ood) : "\(names[ood] ?? ood) \(m.displayName)"
            header.append(ours)
            numeric.append(true)
            if t.hasPublished(m, ood) {
                header.append("\(ours) (paper)")
                numeric.append(true)
            }
        }
        // Mean, std and (one seed) the AUROC's bootstrap interval per detector and column.
        var cells: [[(mean: Double, std: Double, ci: ConfidenceInterval?)?]] = []
        for det in detectors {
            cells.append(columns.map { ood, m in
                let values = results.compactMap { $0.detector(det.key)?.metrics[ood]?.value(m) }
                guard !values.isEmpty else { return nil }
                let (mean, std) = meanAndStd(values)
                return (mean, std, results.count == 1 ? results[0].detector(det.key)?.metrics[ood]?.interval(m) : nil)
            })
        }
        // Best mean per column (bold), among detectors.
        var best: [Int: Double] = [:]
        for (c, column) in columns.enumerated() {
            let values = cells.compactMap { $0[c]?.mean }
            if let b = column.metric.higherIsBetter ? values.max() : values.min() { best[c] = b }
        }
        var rows: [[String]] = [], notes: [[String]] = []
        for (r, det) in detectors.enumerated() {
            var row = [det.displayName], note = [""]
            for (c, (ood, m)) in columns.enumerated() {
                if let cell = cells[r][c] {
                    var text = m.format(cell.mean)
                    if results.count > 1 { text += " ± " + m.format(cell.std) }
                    if best[c] == cell.mean && detectors.count > 1 { text = "**\(text)**" }
                    row.append(text)
                    if let ci = cell.ci {
                        note.append("95% bootstrap CI \(m.format(ci.lower))–\(m.format(ci.upper))")
                    } else {
                        note.append(results.count > 1 ? "mean ± std over \(results.count) seeds" : "")
                    }
                } else {
                    row.append("–"); note.append("")
                }
                if t.hasPublished(m, ood) {
                    if let p = t.published(m, det.key, ood) {
                        row.append(Self.published(p))
                        note.append("published in the paper (percent, as printed there)")
                    } else {
                        row.append("–"); note.append("")
                    }
                }
            }
            rows.append(row); notes.append(note)
        }
        let nodes = try evaluationNodes(t.evaluation, for: d.location)
        return .table(TableBlock(id: t.id, header: header, rows: rows, notes: notes, numeric: numeric,
                                 caption: d.body ?? "", provenance: provenance(d, nodes: nodes, render: RenderVersion.table)))
    }

    /// A published number as printed: 97.3 → "97.3", 97.32 → "97.32", 97 → "97.0".
    static func published(_ value: Double) -> String {
        let text = fixed(value, 2)
        return text.hasSuffix("0") ? String(text.dropLast()) : text
    }

    /// `@Scores`: mean ± std of bits/dim and log-likelihood per data set.
    func scores(_ spec: ScoresSpec, _ d: LocatedDirective) throws -> Block {
        guard let node = builder.scoresNodes[spec.id] else { preconditionFailure("scores \(spec.id) has not been planned") }
        let result = try readJSON(ScoresResult.self, from: try directory(of: node).appendingPathComponent("scores.json"))
        let rows = result.sets.map { set -> [String] in
            let bits = meanAndStd(set.bitsPerDim), ll = meanAndStd(set.logLikelihood)
            return [set.displayName, grouped(set.bitsPerDim.count), "\(fixed(bits.mean, 3)) ± \(fixed(bits.std, 3))",
                    "\(fixed(ll.mean, 1)) ± \(fixed(ll.std, 1))"]
        }
        return .table(TableBlock(id: spec.id, header: ["Data set", "Samples", "Bits/dim", "Log-likelihood (nats)"], rows: rows,
                                 numeric: [false, true, true, true], caption: d.body ?? "",
                                 provenance: provenance(d, nodes: [node], render: RenderVersion.scores)))
    }

    /// `@Features`: count, dimension and mean norm (before normalisation) per data set.
    func features(_ spec: FeaturesSpec, _ d: LocatedDirective) throws -> Block {
        guard let node = builder.featuresNodes[spec.id] else { preconditionFailure("features \(spec.id) has not been planned") }
        let result = try readJSON(FeaturesResult.self, from: try directory(of: node).appendingPathComponent("features.json"))
        let rows = result.sets.map { set in
            [set.displayName, grouped(set.count), String(set.dimension), fixed(set.meanNorm, 3)]
        }
        return .table(TableBlock(id: spec.id, header: ["Data set", "Samples", "Dimension", "Mean norm"], rows: rows,
                                 numeric: [false, true, true, true], caption: d.body ?? "",
                                 provenance: provenance(d, nodes: [node], render: RenderVersion.features)))
    }

    func claimsLedger(_ id: String, _ d: LocatedDirective) throws -> Block {
        var rows: [[String]] = []
        var nodes: [ExperimentNode] = []
        for (c, cd) in builder.claims {
            let (verdict, check) = try self.verdict(c, cd)
            nodes += try claimNodes(c, cd)
            let shown = verdict == .notReproduced ? "**\(verdict.title.lowercased())**" : verdict.title.lowercased()
            rows.append([c.paper.shortName, c.text, c.paperEvidence ?? "", "@\(c.evidence)", check, shown])
        }
        return .table(TableBlock(id: id, header: ["Paper", "Claim", "Paper's evidence", "Our evidence", "Our number", "Verdict"],
                                 rows: rows, numeric: [false, false, false, false, false, false], caption: d.body ?? "",
                                 provenance: provenance(d, nodes: nodes, render: RenderVersion.ledger)))
    }

    func claim(_ c: ClaimSpec, _ d: LocatedDirective) throws -> Block {
        let (verdict, check) = try self.verdict(c, d)
        return .claim(ClaimBlock(id: c.id, paper: c.paper.displayName, text: c.text, paperEvidence: c.paperEvidence ?? "",
                                 evidence: c.evidence, check: check, verdict: verdict, comment: d.body ?? "",
                                 provenance: provenance(d, nodes: try claimNodes(c, d), render: RenderVersion.claim)))
    }

    /// The nodes behind a claim's value and its expectation's other value.
    func claimNodes(_ c: ClaimSpec, _ d: LocatedDirective) throws -> [ExperimentNode] {
        var keys = c.value.map { [$0] } ?? []
        switch c.expect {
        case .lessThan(let other), .greaterThan(let other): keys.append(other)
        case .below, .above, .qualitative: break
        }
        return try keys.flatMap { try nodes(forValueKey: $0, at: d.location) }
    }

    /// The verdict on a claim (`ClaimVerdict.judge` on our value minus the bound or the other
    /// value, with `ResolvedValue.standardError`s) and the comparison as prose, values shown
    /// ± `ClaimVerdict.z` standard errors where measured.
    func verdict(_ c: ClaimSpec, _ d: LocatedDirective) throws -> (ClaimVerdict, String) {
        guard let key = c.value else { return (.qualitative, "shown, not measured") }
        let v = try resolve(key, at: d.location)
        let prefix = key.split(separator: ":").first.map(String.init) ?? key
        let name = MetricKind(valueName: prefix)?.displayName ?? prefix
        func call(_ difference: Double, _ errors: [Double?], wantPositive: Bool) -> ClaimVerdict {
            ClaimVerdict.judge(difference: difference, standardErrors: errors, expectPositive: wantPositive)
        }
        func plusMinus(_ x: ResolvedValue) -> String {
            guard let se = x.standardError, se > 0 else { return x.text }
            return "\(x.text) ± \(display(ClaimVerdict.z * se, like: key))"
        }
        switch c.expect {
        case .below(let x):
            return (call(v.value - x, [v.standardError], wantPositive: false),
                    "\(name) \(plusMinus(v)) (expected < \(display(x, like: key)))")
        case .above(let x):
            return (call(v.value - x, [v.standardError], wantPositive: true),
                    "\(name) \(plusMinus(v)) (expected > \(display(x, like: key)))")
        case .lessThan(let other):
            let w = try resolve(other, at: d.location)
            return (call(v.value - w.value, [v.standardError, w.standardError], wantPositive: false),
                    "\(plusMinus(v)) vs \(plusMinus(w)) (expected lower)")
        case .greaterThan(let other):
            let w = try resolve(other, at: d.location)
            return (call(v.value - w.value, [v.standardError, w.standardError], wantPositive: true),
                    "\(plusMinus(v)) vs \(plusMinus(w)) (expected higher)")
        case .qualitative:
            return (.qualitative, "shown, not measured")
        }
    }

    func display(_ x: Double, like key: String) -> String {
        let metric = key.split(separator: ":").first.map(String.init) ?? ""
        if let m = MetricKind(valueName: metric) { return m.format(x) }
        return fixed(x, 2)
    }

    // MARK: - Inline values

    /// Replaces every `{{metric:target}}` in `text` by its number.
    func substituteValues(_ text: String, file: String, firstLine: Int) throws -> String {
        guard text.contains("{{") else { return text }
        var out = ""
        var rest = Substring(text)
        var line = firstLine
        while let open = rest.range(of: "{{") {
            let before = rest[..<open.lowerBound]
            out += before
            line += before.filter { $0 == "\n" }.count
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let key = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            let col = (out.split(separator: "\n", omittingEmptySubsequences: false).last?.count ?? 0) + 1
            out += try resolve(key, at: SourceLocation(file: file, line: line, column: col)).text
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// Where the number of an inline-value key comes from.
    enum ValueSource {
        case metric(MetricKind, evaluation: String, detector: String, dataset: String)
        case bitsPerDim(evaluation: String, detector: String, dataset: String)
        case accuracy(classifier: String)
        case params(train: String)
        case trainingSeconds(train: String)
        case evaluationSeconds(evaluation: String)
    }

    /// Resolves the ids of a value key (the chapter checker has checked them): a metric without
    /// its evaluation names the one `@Evaluate` with that detector, `bpd:FLOW/DATA` the first
    /// evaluation (by id) that scores that flow on that set.
    func source(of key: String, at location: SourceLocation) throws -> ValueSource {
        func fail(_ m: String) -> ValueError { ValueError(location: location, message: "{{\(key)}}: \(m)") }
        let parsed: InlineValueKey
        switch InlineValueKey.parse(key, at: location) {
        case .success(let k): parsed = k
        case .failure(let diagnostic): throw fail(diagnostic.message)
        }
        switch parsed {
        case .metric(let name, let evaluation, let detector, let dataset):
            guard let metric = MetricKind(valueName: name) else { throw fail("unknown metric '\(name)'") }
            return .metric(metric, evaluation: evaluation, detector: detector, dataset: dataset)
        case .detectorMetric(let name, let detector, let dataset):
            guard let metric = MetricKind(valueName: name) else { throw fail("unknown metric '\(name)'") }
            let having = builder.evaluations.keys.filter { id in
                !id.hasPrefix("histogram:") && builder.evaluations[id]!.spec.detectors.contains { $0.key == detector }
            }.sorted()
            guard having.count == 1 else {
                throw fail(having.isEmpty ? "no @Evaluate has a detector '\(detector)'"
                           : "detector '\(detector)' is in several evaluations (\(having.joined(separator: ", ")))")
            }
            return .metric(metric, evaluation: having[0], detector: detector, dataset: dataset)
        case .evaluationBitsPerDim(let evaluation, let detector, let dataset):
            return .bitsPerDim(evaluation: evaluation, detector: detector, dataset: dataset)
        case .flowBitsPerDim(let flow, let dataset):
            guard let found = builder.evaluations.keys.sorted().first(where: { id in
                let spec = builder.evaluations[id]!.spec
                return spec.detectors.contains { $0.kind == .likelihood(flow: flow) }
                    && ([spec.inDistribution] + spec.ood).contains { $0.key == dataset }
            }) else { throw fail("no evaluation scores flow '\(flow)' on '\(dataset)'") }
            let detector = builder.evaluations[found]!.spec.detectors.first { $0.kind == .likelihood(flow: flow) }!
            return .bitsPerDim(evaluation: found, detector: detector.key, dataset: dataset)
        case .accuracy(let classifier):
            return .accuracy(classifier: classifier)
        case .params(let train):
            return .params(train: train)
        case .seconds(let node):
            if builder.trains[node] != nil { return .trainingSeconds(train: node) }
            if builder.evaluations[node] != nil { return .evaluationSeconds(evaluation: node) }
            throw fail("no @Train or @Evaluate '\(node)'")
        }
    }

    /// The seeds of `@Train` `id`.
    func trainSeeds(_ id: String, at location: SourceLocation) throws -> [Int] {
        guard let t = builder.trains[id], case .train(let spec) = t.spec else {
            throw ValueError(location: location, message: "no @Train with id '\(id)'")
        }
        return spec.seeds
    }

    /// The nodes whose results a value key reads (for provenance).
    func nodes(forValueKey key: String, at location: SourceLocation) throws -> [ExperimentNode] {
        switch try source(of: key, at: location) {
        case .metric(_, let evaluation, _, _), .bitsPerDim(let evaluation, _, _), .evaluationSeconds(let evaluation):
            return try evaluationNodes(evaluation, for: location)
        case .accuracy(let train), .trainingSeconds(let train):
            return try trainSeeds(train, at: location).map { try builder.trainNode(train, seed: $0, for: location) }
        case .params(let train):
            return [try builder.trainNode(train, seed: try trainSeeds(train, at: location)[0], for: location)]
        }
    }

    /// The number an inline-value key names.
    func resolve(_ key: String, at location: SourceLocation) throws -> ResolvedValue {
        func fail(_ m: String) -> ValueError { ValueError(location: location, message: "{{\(key)}}: \(m)") }
        func summarise(_ values: [Double], oneSeedError: Double? = nil, format: (Double) -> String) -> ResolvedValue {
            let (m, s) = meanAndStd(values)
            let se = values.count > 1 ? s / Double(values.count).squareRoot() : oneSeedError
            return ResolvedValue(value: m, std: s, seeds: values.count, standardError: se, text: format(m))
        }
        switch try source(of: key, at: location) {
        case .metric(let m, let evaluation, let detector, let dataset):
            let results = try builder.evaluationResults(evaluation, for: location)
            let values = results.compactMap { $0.detector(detector)?.metrics[dataset]?.value(m) }
            guard values.count == results.count, !values.isEmpty else { throw fail("no \(m.rawValue) for detector '\(detector)' on '\(dataset)'") }
            // One seed: the AUROC's bootstrap interval is the uncertainty (95 % ≈ ±1.96 se).
            // One seed: the metric's 95 % bootstrap interval is the uncertainty (≈ ±1.96 se).
            let ci = results.first?.detector(detector)?.metrics[dataset]?.interval(m)
            return summarise(values, oneSeedError: ci.map { ($0.upper - $0.lower) / 3.92 }, format: m.format)
        case .bitsPerDim(let evaluation, let detector, let dataset):
            let results = try builder.evaluationResults(evaluation, for: location)
            let perSeed = results.compactMap { r -> [Double]? in
                r.detector(detector)?.sets.first(where: { $0.data == dataset })?.bitsPerDim
            }
            guard !perSeed.isEmpty, perSeed.allSatisfy({ !$0.isEmpty }) else { throw fail("no bits/dim for '\(detector)' on '\(dataset)'") }
            // One seed: the standard error of the mean over the set's samples.
            let (_, spread) = meanAndStd(perSeed[0])
            return summarise(perSeed.map { $0.reduce(0, +) / Double($0.count) },
                             oneSeedError: spread / Double(perSeed[0].count).squareRoot()) { fixed($0, 2) }
        case .accuracy(let classifier):
            let values = try trainSeeds(classifier, at: location).map {
                try builder.trainResult(classifier, seed: $0, for: location).0.testAccuracy ?? .nan
            }
            return summarise(values) { fixed(100 * $0, 1) }
        case .params(let train):
            let p = Double(try builder.trainResult(train, seed: try trainSeeds(train, at: location)[0], for: location).0.parameters)
            return ResolvedValue(value: p, std: 0, seeds: 1, text: grouped(Int(p)))
        case .trainingSeconds(let train):
            let seeds = try trainSeeds(train, at: location)
            let s = try seeds.map { try builder.trainResult(train, seed: $0, for: location).0.seconds }.reduce(0, +)
            return ResolvedValue(value: s, std: 0, seeds: seeds.count, text: fixed(s, 0))
        case .evaluationSeconds(let evaluation):
            let s = try builder.evaluationResults(evaluation, for: location).map(\.seconds).reduce(0, +)
            return ResolvedValue(value: s, std: 0, seeds: 1, text: fixed(s, 0))
        }
    }
}

/// All render-time errors, reported together.
struct RenderErrors: Error, CustomStringConvertible {
    let messages: [String]
    var description: String { messages.joined(separator: "\n") }
}

