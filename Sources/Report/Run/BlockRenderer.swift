import Foundation
import NN
import OOD
import Plot

/// Renders the chapters' directives into document blocks from cached results: figures (also
/// written to `figures/<id>.{png,svg,pdf}`), tables, claims, and inline values in the prose.
struct BlockRenderer {
    let builder: ReportBuilder

    var options: BuildOptions { builder.options }

    func document() throws -> ReportDocument {
        var title = "FlowOOD", subtitle: String?, authors: String?, abstract = ""
        for d in builder.directives {
            if case let .title(t, s, a) = d.spec {
                title = t; subtitle = s; authors = a; abstract = d.body ?? ""
            }
        }
        try FileManager.default.createDirectory(at: options.figuresDirectory, withIntermediateDirectories: true)
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

    func provenance(_ d: LocatedDirective, nodes: [ExperimentNode]) -> Provenance {
        var h = SHA256()
        h.update(nodes.map(\.key).joined(separator: "\n"))
        let versions = Set(nodes.map(\.codeVersion)).sorted().joined(separator: ", ")
        return Provenance(directive: d.source, location: d.location, cacheKey: nodes.count == 1 ? nodes[0].key : h.finalize().hex,
                          seeds: seeds(of: nodes), codeVersion: versions.isEmpty ? "render-1" : versions)
    }

    func seeds(of nodes: [ExperimentNode]) -> [Int] {
        nodes.compactMap { n -> Int? in
            guard let r = n.label.range(of: "(seed ") else { return nil }
            return Int(n.label[r.upperBound...].dropLast())
        }
    }

    func figureBlock(_ id: String, _ figure: Figure, _ d: LocatedDirective, nodes: [ExperimentNode]) throws -> Block {
        let name = id.replacingOccurrences(of: ":", with: "-")
        let urls = try figure.write(to: options.figuresDirectory, name: name)
        var files: [String: String] = [:]
        for u in urls { files[u.pathExtension] = u.path }
        return .figure(FigureBlock(id: id, figure: figure, caption: d.body ?? "", files: files,
                                   provenance: provenance(d, nodes: nodes)))
    }

    func block(for d: LocatedDirective) throws -> Block? {
        switch d.spec {
        case .title, .train, .evaluate: return nil
        case .histogram(let h): return try histogram(h, d)
        case .roc(let r): return try roc(r, d)
        case .curve(let c): return try curve(c, d)
        case .scatter(let s): return try scatter(s, d)
        case .table(let t): return try table(t, d)
        case .claimsLedger(let id): return try claimsLedger(id, d)
        case .claim(let c): return try claim(c, d)
        case .couplingGrid(let g): return try figureBlock(g.id, try builder.backend.couplingGrid(g, model: modelDirectory(g.model), title: g.title), d, nodes: [try builder.trainNode(g.model, seed: 0)])
        case .latentGrid(let g): return try figureBlock(g.id, try builder.backend.latentGrid(g, model: modelDirectory(g.model), title: g.title), d, nodes: [try builder.trainNode(g.model, seed: 0)])
        case .samples(let s): return try figureBlock(s.id, try builder.backend.samples(s, model: modelDirectory(s.model)), d, nodes: [try builder.trainNode(s.model, seed: 0)])
        }
    }

    func modelDirectory(_ id: String) throws -> URL {
        let node = try builder.trainNode(id, seed: 0)
        guard let dir = node.directory else { preconditionFailure("\(node.label) has not run") }
        return dir
    }

    func evaluationNodes(_ id: String) throws -> [ExperimentNode] {
        guard let (spec, _) = builder.evaluations[id] else { return [] }
        return try spec.seeds.map { try builder.evaluationNode(id, seed: $0) }
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
        let results = try builder.evaluationResults(evalId)
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
        return try figureBlock(h.id, Figure(axesWithTitle, height: 230), d, nodes: try evaluationNodes(evalId))
    }

    func roc(_ r: ROCSpec, _ d: LocatedDirective) throws -> Block {
        let results = try builder.evaluationResults(r.evaluation)
        let det = try detectorResult(results, r.detector, d.location)
        let wanted = r.ood.map { Set($0.map(\.key)) }
        let curves = try det.sets.dropFirst().filter { wanted?.contains($0.data) ?? true }.map { set in
            try ROCCurve(.plain(set.displayName), positives: det.sets[0].scores, negatives: set.scores)
        }
        var axes = try Axes.roc(curves)
        if let t = r.title { axes.title = .plain(t) }
        return try figureBlock(r.id, Figure(axes, width: Figure.textWidth * 0.75, height: 260), d, nodes: try evaluationNodes(r.evaluation))
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
        return try figureBlock(c.id, Figure(axes, height: 240), d, nodes: [node])
    }

    func scatter(_ s: ScatterSpec, _ d: LocatedDirective) throws -> Block {
        guard let node = builder.scatterNodes[s.id], let dir = node.directory else { preconditionFailure("scatter \(s.id) has not run") }
        let r = try readJSON(ScatterResult.self, from: dir.appendingPathComponent("tsne.json"))
        var axes = try Axes.scatter(x: r.x, y: r.y, categories: r.group, categoryNames: r.groupNames.map { .plain($0) })
        if let t = s.title { axes.title = .plain(t) }
        return try figureBlock(s.id, Figure(axes, height: 300), d, nodes: [node])
    }

    // MARK: - Tables

    func table(_ t: TableSpec, _ d: LocatedDirective) throws -> Block {
        let results = try builder.evaluationResults(t.evaluation)
        guard let first = results.first else { throw ValueError(location: d.location, message: "evaluation '\(t.evaluation)' has no results") }
        let detectors = try (t.detectors ?? first.detectors.map(\.key)).map { try detectorResult(results, $0, d.location) }
        let oodKeys = t.ood.map { $0.map(\.key) } ?? first.ood
        let names = Dictionary(first.detectors.flatMap(\.sets).map { ($0.data, $0.displayName) }, uniquingKeysWith: { a, _ in a })
        var header = ["Detector"]
        var numeric = [false]
        for ood in oodKeys {
            for m in t.metrics {
                header.append(t.metrics.count == 1 ? (names[ood] ?? ood) : "\(names[ood] ?? ood) \(m.displayName)")
                numeric.append(true)
                if t.published?.keys.contains(where: { $0.hasSuffix("/\(ood)") }) == true {
                    header.append("paper"); numeric.append(true)
                }
            }
        }
        var rows: [[String]] = [], notes: [[String]] = []
        // Best mean per column (bold), among detectors.
        var best: [Int: Double] = [:]
        var cells: [[(mean: Double, std: Double, ci: ConfidenceInterval?)?]] = []
        for det in detectors {
            var row: [(Double, Double, ConfidenceInterval?)?] = []
            for ood in oodKeys {
                for m in t.metrics {
                    let values = results.compactMap { $0.detector(det.key)?.metrics[ood]?.value(m) }
                    guard !values.isEmpty else { row.append(nil); continue }
                    let (mean, std) = meanAndStd(values)
                    row.append((mean, std, results.count == 1 ? results[0].detector(det.key)?.metrics[ood]?.aurocCI : nil))
                }
            }
            cells.append(row)
        }
        let columnMetrics = oodKeys.flatMap { _ in t.metrics }
        for c in 0..<columnMetrics.count {
            let vals = cells.compactMap { $0[c]?.mean }
            guard let b = columnMetrics[c].higherIsBetter ? vals.max() : vals.min() else { continue }
            best[c] = b
        }
        for (r, det) in detectors.enumerated() {
            var row = [det.displayName], note = [""]
            var c = 0
            for ood in oodKeys {
                for m in t.metrics {
                    if let cell = cells[r][c] {
                        var text = m.format(cell.mean)
                        if results.count > 1 { text += " ± " + m.format(cell.std) }
                        if best[c] == cell.mean && detectors.count > 1 { text = "**\(text)**" }
                        row.append(text)
                        if m == .auroc, let ci = cell.ci {
                            note.append("95% bootstrap CI \(m.format(ci.lower))–\(m.format(ci.upper))")
                        } else {
                            note.append(results.count > 1 ? "mean ± std over \(results.count) seeds" : "")
                        }
                    } else {
                        row.append("–"); note.append("")
                    }
                    if t.published?.keys.contains(where: { $0.hasSuffix("/\(ood)") }) == true {
                        if let p = t.published?["\(det.key)/\(ood)"] { row.append(fixed(p, 1)) } else { row.append("–") }
                        note.append("published number")
                    }
                    c += 1
                }
            }
            rows.append(row); notes.append(note)
        }
        let nodes = try evaluationNodes(t.evaluation)
        return .table(TableBlock(id: t.id, header: header, rows: rows, notes: notes, numeric: numeric,
                                 caption: d.body ?? "", provenance: provenance(d, nodes: nodes)))
    }

    func claimsLedger(_ id: String, _ d: LocatedDirective) throws -> Block {
        var rows: [[String]] = []
        for (c, cd) in builder.claims {
            let (ok, check) = try verdict(c, cd)
            rows.append([c.paper.displayName, c.text, "@\(c.evidence)", check, ok ? "reproduced" : "**not reproduced**"])
        }
        return .table(TableBlock(id: id, header: ["Paper", "Claim", "Our evidence", "Our number", "Verdict"], rows: rows,
                                 numeric: [false, false, false, false, false], caption: d.body ?? "",
                                 provenance: provenance(d, nodes: [])))
    }

    func claim(_ c: ClaimSpec, _ d: LocatedDirective) throws -> Block {
        let (ok, check) = try verdict(c, d)
        return .claim(ClaimBlock(id: c.id, paper: c.paper.displayName, text: c.text, evidence: c.evidence, check: check,
                                 reproduced: ok, comment: d.body ?? ""))
    }

    /// Whether our number satisfies the claim's expectation, and the comparison as prose.
    func verdict(_ c: ClaimSpec, _ d: LocatedDirective) throws -> (Bool, String) {
        let v = try resolve(c.value, at: d.location)
        let name = c.value.split(separator: ":").first.map(String.init) ?? c.value
        switch c.expect {
        case .below(let x): return (v.value < x, "\(name) \(v.text) (expected < \(display(x, like: c.value)))")
        case .above(let x): return (v.value > x, "\(name) \(v.text) (expected > \(display(x, like: c.value)))")
        case .lessThan(let other):
            let w = try resolve(other, at: d.location)
            return (v.value < w.value, "\(v.text) vs \(w.text) (expected lower)")
        case .greaterThan(let other):
            let w = try resolve(other, at: d.location)
            return (v.value > w.value, "\(v.text) vs \(w.text) (expected higher)")
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

    /// The number an inline-value key names.
    func resolve(_ key: String, at location: SourceLocation) throws -> ResolvedValue {
        guard let colon = key.firstIndex(of: ":") else { throw ValueError(location: location, message: "value key '\(key)' has no 'metric:'") }
        let metric = String(key[..<colon])
        let parts = key[key.index(after: colon)...].split(separator: "/").map(String.init)
        func fail(_ m: String) -> ValueError { ValueError(location: location, message: "{{\(key)}}: \(m)") }
        func summarise(_ values: [Double], format: (Double) -> String) -> ResolvedValue {
            let (m, s) = meanAndStd(values)
            return ResolvedValue(value: m, std: s, seeds: values.count, text: format(m))
        }
        if let m = MetricKind(valueName: metric) {
            guard parts.count == 3 else { throw fail("expected \(metric):EVALUATION/DETECTOR/OOD") }
            let results = try builder.evaluationResults(parts[0])
            let values = results.compactMap { $0.detector(parts[1])?.metrics[parts[2]]?.value(m) }
            guard values.count == results.count, !values.isEmpty else { throw fail("no \(metric) for detector '\(parts[1])' on '\(parts[2])'") }
            return summarise(values, format: m.format)
        }
        switch metric {
        case "bpd":
            let evalId: String, detector: String, data: String
            if parts.count == 3 {
                (evalId, detector, data) = (parts[0], parts[1], parts[2])
            } else if parts.count == 2 {
                // FLOW/DATA: any evaluation holding this flow's likelihood on that set.
                guard let found = builder.evaluations.keys.sorted().first(where: { id in
                    builder.evaluations[id]!.spec.detectors.contains { $0.kind == .likelihood(flow: parts[0]) } &&
                        ([builder.evaluations[id]!.spec.inDistribution] + builder.evaluations[id]!.spec.ood).contains { $0.key == parts[1] }
                }) else { throw fail("no evaluation scores flow '\(parts[0])' on '\(parts[1])'") }
                let det = builder.evaluations[found]!.spec.detectors.first { $0.kind == .likelihood(flow: parts[0]) }!
                (evalId, detector, data) = (found, det.key, parts[1])
            } else {
                throw fail("expected bpd:EVALUATION/DETECTOR/DATA or bpd:FLOW/DATA")
            }
            let results = try builder.evaluationResults(evalId)
            let values = results.compactMap { r -> Double? in
                guard let b = r.detector(detector)?.sets.first(where: { $0.data == data })?.bitsPerDim else { return nil }
                return b.reduce(0, +) / Double(max(b.count, 1))
            }
            guard !values.isEmpty else { throw fail("no bits/dim for '\(detector)' on '\(data)'") }
            return summarise(values) { fixed($0, 2) }
        case "accuracy":
            guard parts.count == 1, let t = builder.trains[parts[0]], case .train(let spec) = t.spec else { throw fail("expected accuracy:CLASSIFIER") }
            let values = try spec.seeds.map { try builder.trainResult(parts[0], seed: $0).0.testAccuracy ?? .nan }
            return summarise(values) { fixed(100 * $0, 1) }
        case "params":
            guard parts.count == 1 else { throw fail("expected params:TRAIN") }
            let p = Double(try builder.trainResult(parts[0], seed: 0).0.parameters)
            return ResolvedValue(value: p, std: 0, seeds: 1, text: grouped(Int(p)))
        case "seconds":
            guard parts.count == 1 else { throw fail("expected seconds:NODE") }
            if let t = builder.trains[parts[0]], case .train(let spec) = t.spec {
                let s = try spec.seeds.map { try builder.trainResult(parts[0], seed: $0).0.seconds }.reduce(0, +)
                return ResolvedValue(value: s, std: 0, seeds: spec.seeds.count, text: fixed(s, 0))
            }
            if builder.evaluations[parts[0]] != nil {
                let s = try builder.evaluationResults(parts[0]).map(\.seconds).reduce(0, +)
                return ResolvedValue(value: s, std: 0, seeds: 1, text: fixed(s, 0))
            }
            throw fail("no @Train or @Evaluate '\(parts[0])'")
        default:
            throw fail("unknown metric '\(metric)'")
        }
    }
}

/// All render-time errors, reported together.
struct RenderErrors: Error, CustomStringConvertible {
    let messages: [String]
    var description: String { messages.joined(separator: "\n") }
}

