import Foundation
import Testing
import TestSupport
@testable import Report

/// A small book built end to end through `ReportBuilder` and `ReportWriter` in a temporary
/// project: a vector flow on the wine data (13 features, 47 training rows of class 0, so every
/// experiment takes well under a second in a debug build), an evaluation, a table with published
/// numbers, a histogram, a likelihood curve over epochs, a score table, inline values, a claim
/// and the claims ledger.
enum BuilderFixture {
    static let title = """
    @Title(title: "Builder fixture") {
    Wine, for the builder tests.
    }
    """

    static let train = """
    @Train(id: "wine-flow", model: .realNVPVector(couplings: 2, hidden: 16), data: .tabular("wine", class: 0, .train),
           epochs: 2, batchSize: 16, lr: 1e-3)
    """

    static let evaluate = """
    @Evaluate(id: "eval-wine", inDistribution: .tabular("wine", class: 0, .test),
              ood: [.tabular("wine", class: 1, .test), .tabular("wine", class: 2, .test)], detectors: [.likelihood("wine-flow")])
    """

    static let table = """
    @AUROCTable(id: "tab:wine", evaluation: "eval-wine", metrics: [.auroc, .fpr95],
                published: ["wine-flow/tabular-wine-1-test": 97.3, "fpr95:wine-flow/tabular-wine-2-test": 12.25]) {
    Likelihood of the wine flow as a detector.
    }
    """

    static let histogram = """
    @Histogram(id: "fig:wine", model: "wine-flow", datasets: [.tabular("wine", class: 0, .test), .tabular("wine", class: 1, .test)]) {
    Bits per dimension of two cultivars.
    }
    """

    static let rest = """
    @Curve(id: "fig:wine-epochs", evaluation: "eval-wine", detector: "wine-flow", vary: .epochs([0, 1, 2])) {
    AUROC against the flow's training epochs.
    }

    @Scores(id: "tab:wine-scores", model: "wine-flow", datasets: [.tabular("wine", class: 0, .test), .tabular("wine", class: 2, .test)]) {
    Scores of the wine flow.
    }

    @Claim(id: "claim:wine", paper: .kirichenko2020, text: "A flow separates cultivars.", evidence: "tab:wine",
           value: "auroc:wine-flow/tabular-wine-1-test", expect: .above(0.0))

    @ClaimsLedger(id: "tab:claims") {
    Claims.
    }
    """

    static func chapter(prose: String = "The flow reaches {{auroc:eval-wine/wine-flow/tabular-wine-1-test}} against class 1.",
                        train: String = BuilderFixture.train, histogram: Bool = true) -> String {
        [title, "# Wine {#sec:wine}", train, evaluate, prose, table, histogram ? Self.histogram : "", rest]
            .joined(separator: "\n\n") + "\n"
    }
}

/// Runs of the fixture book in one project directory.
final class FixtureProject {
    let root: URL
    let profile: Profile
    private(set) var log: [String] = []

    init(root: URL, profile: Profile = .smoke) {
        self.root = root
        self.profile = profile
    }

    struct Run {
        var builder: ReportBuilder
        var document: ReportDocument
        var explain: [String]
        var html: String

        /// Labels of the nodes this run computed.
        var computed: [String] {
            builder.graph.nodes.filter { if case .computed = $0.outcome { true } else { false } }.map(\.label)
        }

        /// The `--explain` line of a node, without its position and key.
        func reason(_ label: String) -> String? {
            for line in explain {
                guard let range = line.range(of: "] \(label): ") else { continue }
                let rest = line[range.upperBound...]
                if rest.hasPrefix("reused") { return String(rest.split(separator: ")").first ?? "") + ")" }
                if rest.hasPrefix("computing") { return String(rest) }
            }
            return nil
        }

        func table(_ id: String) -> TableBlock? {
            for chapter in document.chapters {
                for case .table(let table) in chapter.blocks where table.id == id { return table }
            }
            return nil
        }

        func claim(_ id: String) -> ClaimBlock? {
            for chapter in document.chapters {
                for case .claim(let claim) in chapter.blocks where claim.id == id { return claim }
            }
            return nil
        }
    }

    /// Writes `chapter` as chapters/01-wine.md, checks it, builds the report with `--explain`
    /// and writes it (publishing figures).
    func build(_ chapter: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Run {
        let chapters = root.appendingPathComponent("chapters")
        try FileManager.default.createDirectory(at: chapters, withIntermediateDirectories: true)
        try chapter.write(to: chapters.appendingPathComponent("01-wine.md"), atomically: true, encoding: .utf8)
        let (book, diagnostics) = Book.load(directory: chapters.path, displayDirectory: "chapters")
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
        let checked = try #require(book, sourceLocation: sourceLocation)
        let options = BuildOptions(profile: profile, root: root, explain: true, generator: "flowood test")
        var lines: [String] = []
        let builder = ReportBuilder(chapters: checked.chapterSpecs(), options: options, log: { lines.append($0) })
        let document = try builder.build()
        try ReportWriter.write(document, to: options.reportDirectory, projectRoot: root,
                               publishingFiguresTo: options.figuresDirectory)
        log += lines
        let html = try String(contentsOf: options.reportDirectory.appendingPathComponent("index.html"), encoding: .utf8)
        return Run(builder: builder, document: document, explain: lines.filter { $0.hasPrefix("[") }, html: html)
    }

    func figures() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("figures").path).sorted()
    }
}

@Suite(.serialized) struct BuilderTests {
    static let trainLabel = "train wine-flow (seed 0)"
    static let evaluateLabel = "evaluate eval-wine (seed 0)"
    static let histogramLabel = "evaluate histogram:fig:wine (seed 0)"
    static let curveLabel = "curve fig:wine-epochs"
    static let scoresLabel = "scores tab:wine-scores"

    @Test func rebuildsOnlyWhatChangedAndSaysWhy() throws {
        try withTemporaryDirectory { root in
            let project = FixtureProject(root: root)
            let all = [Self.trainLabel, Self.evaluateLabel, Self.histogramLabel, Self.curveLabel, Self.scoresLabel]

            // First build: everything is computed, for want of an entry.
            let first = try project.build(BuilderFixture.chapter())
            #expect(first.computed.sorted() == all.sorted())
            for label in all { #expect(first.reason(label) == "computing (no entry)", "\(label)") }
            #expect(first.html.contains("profile: smoke"))

            // Nothing changed: nothing is computed, and reuse is explained.
            let second = try project.build(BuilderFixture.chapter())
            #expect(second.computed == [])
            for label in all { #expect(second.reason(label) == "reused (unchanged since the last run)", "\(label)") }
            #expect(second.builder.graph.summary().contains("0 computed, 5 reused"))

            // Editing prose re-renders without computing.
            let edited = try project.build(BuilderFixture.chapter(prose: "Edited prose: {{auroc:eval-wine/wine-flow/tabular-wine-2-test}}."))
            #expect(edited.computed == [])
            #expect(edited.html.contains("Edited prose: ") && !second.html.contains("Edited prose"))
            #expect(edited.html != second.html)

            // Smoke caps epochs at 1 before hashing: 2 → 3 epochs is the same experiment there.
            let epochs = BuilderFixture.train.replacingOccurrences(of: "epochs: 2", with: "epochs: 3")
            #expect(try project.build(BuilderFixture.chapter(train: epochs)).computed == [])

            // A change that survives the smoke caps recomputes the training node and what
            // depends on it (the curve retrains that @Train's flow itself), nothing else runs.
            let lr = BuilderFixture.train.replacingOccurrences(of: "lr: 1e-3", with: "lr: 2e-3")
            let changed = try project.build(BuilderFixture.chapter(train: lr))
            #expect(changed.computed.sorted() == all.sorted())
            #expect(changed.reason(Self.trainLabel) == "computing (arguments changed)")
            #expect(changed.reason(Self.evaluateLabel) == "computing (inputs changed: \(Self.trainLabel))")
            #expect(changed.reason(Self.scoresLabel) == "computing (inputs changed: \(Self.trainLabel))")
            #expect(changed.reason(Self.curveLabel) == "computing (arguments changed)")

            // Going back finds the earlier entries.
            let back = try project.build(BuilderFixture.chapter())
            #expect(back.computed == [])
            #expect(back.reason(Self.trainLabel) == "reused (arguments changed since the last run, but an earlier run's entry matches)")

            // A corrupt entry is recomputed, alone (its key, and so its dependents', is unchanged).
            let node = try #require(back.builder.graph.nodes.first { $0.label == Self.evaluateLabel })
            let file = try #require(node.directory).appendingPathComponent("evaluation.json")
            try Data("{}".utf8).write(to: file)
            let repaired = try project.build(BuilderFixture.chapter())
            #expect(repaired.computed == [Self.evaluateLabel])
            #expect(repaired.reason(Self.evaluateLabel) == "computing (corrupt entry (evaluation.json does not match its SHA-256))")
        }
    }

    @Test func publishedNumbersAreColumnsAfterOurs() throws {
        try withTemporaryDirectory { root in
            let run = try FixtureProject(root: root).build(BuilderFixture.chapter())
            let table = try #require(run.table("tab:wine"))
            #expect(table.header == ["Detector",
                                     "wine class 1 (test) AUROC", "wine class 1 (test) AUROC (paper)", "wine class 1 (test) FPR95",
                                     "wine class 2 (test) AUROC", "wine class 2 (test) FPR95", "wine class 2 (test) FPR95 (paper)"])
            #expect(table.numeric == [false, true, true, true, true, true, true])
            let row = try #require(table.rows.first)
            #expect(row.count == 7)
            #expect(row[0] == "Likelihood (wine-flow)")
            // The paper's numbers as printed there (percent), beside ours (percent, one decimal).
            #expect(row[2] == "97.3" && row[6] == "12.25")
            for column in [1, 3, 4, 5] {
                let ours = try #require(Double(row[column]), "ours: \(row[column])")
                #expect(ours >= 0 && ours <= 100 && row[column].split(separator: ".").last?.count == 1)
            }
            #expect(table.notes[0][2] == "published in the paper (percent, as printed there)")
            #expect(run.html.contains("<th class=\"num\" scope=\"col\">wine class 1 (test) AUROC (paper)</th>"))
        }
    }

    @Test func figuresArePublishedWhenTheReportIsCompleteAndStaleOnesRemoved() throws {
        try withTemporaryDirectory { root in
            let project = FixtureProject(root: root)
            let figures = root.appendingPathComponent("figures")
            try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true)
            for name in ["fig-removed.svg", "tab-old.csv", "gallery-histogram.svg", "notes.txt", "fig-Upper.svg"] {
                try Data("x".utf8).write(to: figures.appendingPathComponent(name))
            }
            let run = try project.build(BuilderFixture.chapter())
            let produced = ["fig-wine-epochs.pdf", "fig-wine-epochs.png", "fig-wine-epochs.svg", "fig-wine.pdf", "fig-wine.png", "fig-wine.svg"]
            #expect(try project.figures() == (produced + ["fig-Upper.svg", "gallery-histogram.svg", "notes.txt"]).sorted())
            let report = root.appendingPathComponent("build/report/figures")
            #expect(try FileManager.default.contentsOfDirectory(atPath: report.path).sorted() == produced)
            for name in produced {
                #expect(FileManager.default.contents(atPath: figures.appendingPathComponent(name).path)
                        == FileManager.default.contents(atPath: report.appendingPathComponent(name).path), "\(name)")
            }
            #expect(run.html.contains("<img src=\"figures/fig-wine.svg\""))
            #expect(run.html.contains("<a href=\"figures/fig-wine.png\">PNG</a>"))
            // Removing the histogram removes its files; nothing is written outside the report
            // before it is complete (no build/report.tmp-* left).
            _ = try project.build(BuilderFixture.chapter(histogram: false))
            #expect(try project.figures() == ["fig-Upper.svg", "fig-wine-epochs.pdf", "fig-wine-epochs.png", "fig-wine-epochs.svg",
                                              "gallery-histogram.svg", "notes.txt"])
            let build = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("build").path).sorted()
            #expect(build == ["cache", "report", "scores"])
        }
    }

    @Test func scoresAreExportedAndProvenanceNamesItsRenderCode() throws {
        try withTemporaryDirectory { root in
            let run = try FixtureProject(root: root).build(BuilderFixture.chapter())
            // @Scores: a table per set and the per-sample rows in build/scores/<id>.csv.
            let scores = try #require(run.table("tab:wine-scores"))
            #expect(scores.header == ["Data set", "Samples", "Bits/dim", "Log-likelihood (nats)"])
            #expect(scores.rows.map { $0[0] } == ["wine class 0 (test)", "wine class 2 (test)"])
            let csv = try String(contentsOf: root.appendingPathComponent("build/scores/tab-wine-scores.csv"), encoding: .utf8)
            let lines = csv.split(separator: "\n")
            #expect(lines.first == "dataset,index,log_likelihood,bits_per_dim")
            let counts = scores.rows.map { Int($0[1]) ?? -1 }
            #expect(lines.count == 1 + counts.reduce(0, +))
            #expect(lines.dropFirst().first?.hasPrefix("tabular-wine-0-test,0,") == true)
            #expect(scores.provenance.codeVersion == "render-scores-1, scores-1")

            // Claims and the ledger read the evaluation behind their value keys.
            let evaluation = try #require(run.builder.graph.nodes.first { $0.label == Self.evaluateLabel })
            let claim = try #require(run.claim("claim:wine")?.provenance)
            #expect(claim.cacheKey == evaluation.key && claim.seeds == [0])
            #expect(claim.codeVersion == "render-claim-1, \(Backend.evaluateVersion)")
            let ledger = try #require(run.table("tab:claims")).provenance
            #expect(ledger.cacheKey == evaluation.key && ledger.codeVersion == "render-claims-ledger-1, \(Backend.evaluateVersion)")
            #expect(run.html.contains("<dt>Code version</dt><dd><code>render-claim-1, \(Backend.evaluateVersion)</code></dd>"))
            let table = try #require(run.table("tab:wine")).provenance
            #expect(table.codeVersion == "render-auroc-table-2, \(Backend.evaluateVersion)")
            // Generated files carry no absolute paths.
            #expect(!run.html.contains(root.path))
        }
    }

    @Test func likelihoodCurveTrainsTheFlowAndEvaluatesEachEpoch() throws {
        try withTemporaryDirectory { root in
            let run = try FixtureProject(root: root).build(BuilderFixture.chapter())
            let node = try #require(run.builder.curveNodes["fig:wine-epochs"])
            #expect(node.kind == "flow-curve" && node.inputs.isEmpty)
            let result = try readJSON(CurveResult.self, from: try #require(node.directory).appendingPathComponent("curve.json"))
            #expect(result.parameter == "training epochs" && result.values == [0, 1, 2])
            #expect(result.metric.keys.sorted() == ["tabular-wine-1-test", "tabular-wine-2-test"])
            for values in result.metric.values {
                #expect(values.count == 3 && values.allSatisfy { $0 >= 0 && $0 <= 1 })
            }
            let loss = try #require(result.loss)
            #expect(loss.count == 3 && loss.allSatisfy(\.isFinite))
            // Training moves the model: the loss after two epochs differs from the initial one.
            #expect(loss[2] != loss[0])
            // The curve's own training work directory is gone once it is stored.
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("build/cache/work/\(node.key)").path))
        }
    }

    @Test func featuresOfAClassifierAreTabulatedAndExported() throws {
        try withTemporaryDirectory { root in
            let chapter = """
            \(BuilderFixture.title)

            @Train(id: "cnn", model: .classifier(), data: .fashionMNIST, epochs: 1, batchSize: 32, subset: 64)

            @Features(id: "tab:features", classifier: "cnn", datasets: [.fashionMNIST, .digits], normalize: true, subset: 20) {
            Classifier features.
            }
            """
            let run = try FixtureProject(root: root).build(chapter)
            #expect(run.computed == ["train cnn (seed 0)", "features tab:features"])
            let table = try #require(run.table("tab:features"))
            #expect(table.header == ["Data set", "Samples", "Dimension", "Mean norm"])
            #expect(table.rows.map { Array($0[0...1]) } == [["FashionMNIST (test)", "20"], ["Digits (sklearn)", "20"]])
            let dimension = try #require(Int(table.rows[0][2]))
            #expect(dimension > 1 && table.rows[1][2] == table.rows[0][2])
            #expect((Double(table.rows[0][3]) ?? 0) > 0)
            #expect(table.provenance.codeVersion == "render-features-1, features-1")
            // Rows of the exported features are unit vectors (normalize: true).
            let folder = root.appendingPathComponent("build/features/tab-features")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["digits.csv", "fashion-mnist-test.csv"])
            let lines = try String(contentsOf: folder.appendingPathComponent("digits.csv"), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 21 && lines[0].hasPrefix("f0,f1,"))
            let first = lines[1].split(separator: ",").compactMap { Double($0) }
            #expect(first.count == dimension)
            #expect(abs(first.map { $0 * $0 }.reduce(0, +) - 1) < 1e-4)
        }
    }

    @Test func paperProfileRecomputesOnAnEpochChange() throws {
        try withTemporaryDirectory { root in
            let project = FixtureProject(root: root, profile: .paper)
            let chapter = [BuilderFixture.title, BuilderFixture.train, BuilderFixture.evaluate].joined(separator: "\n\n")
            let first = try project.build(chapter)
            #expect(first.computed == [Self.trainLabel, Self.evaluateLabel])
            let changed = try project.build(chapter.replacingOccurrences(of: "epochs: 2", with: "epochs: 3"))
            #expect(changed.computed == [Self.trainLabel, Self.evaluateLabel])
            #expect(changed.reason(Self.trainLabel) == "computing (arguments changed)")
            #expect(changed.reason(Self.evaluateLabel) == "computing (inputs changed: \(Self.trainLabel))")
        }
    }

    @Test func missingIdsAtRenderTimeNameTheDirective() throws {
        // The chapter checker rules this out; the builder still points at the directive.
        try withTemporaryDirectory { root in
            let location = Report.SourceLocation(file: "chapters/01-x.md", line: 3, column: 1)
            let samples = LocatedDirective(spec: .samples(SamplesSpec(id: "fig:s", title: nil, model: "nope", count: 4, temperature: 1)),
                                           location: location, source: "@Samples(id: \"fig:s\", model: \"nope\")", body: nil)
            let builder = ReportBuilder(chapters: [ChapterSpec(file: "chapters/01-x.md", pieces: [.directive(samples)])],
                                        options: BuildOptions(profile: .smoke, root: root), log: { _ in })
            do {
                _ = try builder.build()
                Issue.record("built a book with a missing id")
            } catch {
                #expect("\(error)" == "chapters/01-x.md:3:1: error: no @Train with id 'nope'")
            }
        }
    }
}
