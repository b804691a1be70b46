import Foundation
import Plot
import Testing
import TestSupport
@testable import Report

// MARK: - Fixture

/// A small book exercising everything the renderers do: numbered and unnumbered headings with
/// labels, inline and display math, cross-references (forward and backward), citations, a list,
/// code, a Markdown table, a figure from Plot, a result table with notes, and two claims.
enum RenderFixture {
    static func histogram() throws -> Figure {
        // Deterministic "scores": two shifted sine-spread samples.
        let inDistribution: [Double] = (0..<240).map { (k: Int) -> Double in
            let t = Double(k)
            return -2.0 + 0.6 * sin(t * 0.37) + 0.2 * cos(t * 1.9)
        }
        let ood: [Double] = (0..<240).map { (k: Int) -> Double in 0.4 + 0.8 * sin(Double(k) * 0.53 + 1) }
        let axes = try Axes.histogram(of: [HistogramDataset("FashionMNIST", values: inDistribution),
                                           HistogramDataset("MNIST", values: ood)],
                                      bins: .count(20), xLabel: "log <i>p</i>(<b>x</b>)")
        return Figure(axes, width: Figure.textWidth, height: 200)
    }

    static func provenance(_ directive: String, line: Int) -> Provenance {
        Provenance(directive: directive, location: Report.SourceLocation(file: "chapters/01-intro.md", line: line, column: 1),
                   cacheKey: "3f2a9c0d1e7b5a4c", seeds: [0, 1, 2], codeVersion: "histogram-v1")
    }

    static let introduction = """
    # Introduction {#sec:intro}

    Normalizing flows give an exact log-likelihood $\\log p(\\mathbf{x}) = \\log p_Z(z) + \\log\\left|\\det J\\right|$
    and still fail to detect out-of-distribution data [@kirichenko2020]. @fig:hist shows the likelihoods; @tab:auroc
    lists the AUROC, and @sec:method describes the *latent* density estimation of @lde2023. A `$not math$` code span
    stays code, and a price of $5 stays text.

    $$
    \\mathrm{bpd}(x) = -\\frac{\\log_2 p(x)}{D}, \\quad D = 784
    $$

    ## Method {#sec:method}

    The detector fits a flow to features $z \\in \\mathbb{R}^{512}$ under $\\mathcal{N}(0, I)$:

    1. train the classifier;
    2. fit the flow for **one** epoch.

    ```
    flowood report --profile smoke
    ```

    | Set | Size |
    |:----|-----:|
    | train | 60000 |
    | test | 10000 |
    """

    static let results = """
    # Results

    As promised in @sec:intro, the figures follow.

    ## Notes {-}

    Typical sets: $\\sum_{i=1}^{N} x_i^2 \\le \\sqrt{\\alpha}$. The change of variables gives

    $$
    \\log p_X(\\mathbf{x}) = \\log p_Z\\left(f(\\mathbf{x})\\right) + \\sum_{i=1}^{K} \\log\\left|\\det \\frac{\\partial f_i}{\\partial \\mathbf{h}_{i-1}}\\right|, \\quad \\hat{\\mu} = \\sqrt{\\frac{1}{N}\\sum_{n} x_n^2}
    $$
    """

    static func document(profile: String = "smoke", histogramFiles: [String: String] = ["svg": "figures/fig-hist.svg"],
                         extraParagraphs: Int = 0) throws -> ReportDocument {
        let figure = FigureBlock(id: "fig:hist", figure: try histogram(),
                                 caption: "Log-likelihoods $\\log p(x)$ of a flow trained on FashionMNIST (see @tab:auroc).",
                                 files: histogramFiles,
                                 provenance: provenance("@Histogram(id: \"fig:hist\", model: \"flow\", datasets: [.fashionMNIST, .digits])", line: 12))
        let table = TableBlock(id: "tab:auroc", header: ["Detector", "Digits", "Noise <x>"],
                               rows: [["Likelihood", "0.12 ± 0.02", "0.98"], ["*LDE*", "0.97", "$1.00$"]],
                               notes: [["", "95% CI [0.10, 0.14]", ""], ["", "", "95% CI [0.99, 1.00]"]],
                               numeric: [false, true, true], caption: "AUROC (higher is better) against @fig:hist.",
                               provenance: provenance("@AUROCTable(id: \"tab:auroc\", evaluation: \"eval\")", line: 20))
        let second = FigureBlock(id: "fig:again", figure: try histogram(), caption: "The same, again.",
                                 files: [:], provenance: provenance("@Histogram(id: \"fig:again\")", line: 3))
        let claimOK = ClaimBlock(id: "claim:fail", paper: "Kirichenko et al. 2020",
                                 text: "Flows assign higher likelihood to MNIST than to FashionMNIST.",
                                 paperEvidence: "Figure 1a", evidence: "fig:hist", check: "AUROC 0.12 < 0.5",
                                 verdict: .reproduced,
                                 comment: "As in the paper, by a wide margin.",
                                 provenance: Provenance(directive: "@Claim(id: \"claim:fail\", paper: .kirichenko2020)",
                                                        location: Report.SourceLocation(file: "chapters/01-intro.md", line: 30, column: 1),
                                                        cacheKey: "9c1d", seeds: [0], codeVersion: "render-claim-1, evaluate-2"))
        let claimBad = ClaimBlock(id: "claim:lde", paper: "LDE", text: "LDE reaches $0.99$ AUROC.", evidence: "tab:auroc",
                                  check: "AUROC 0.97 > 0.99", verdict: .notReproduced, comment: "Close, but *not* there.")
        let filler = (0..<extraParagraphs).map { k in
            Block.markdown("Paragraph \(k + 1) of filler text that wraps over several lines of the page, so that the report is long enough to need page breaks, running heads and page numbers; it mentions @fig:hist and $x_{\(k)}$ to exercise references and math on every page of the document.", line: 40 + 2 * k)
        }
        return ReportDocument(
            title: "FlowOOD: why flows fail & how latents help",
            subtitle: "A reproduction report", authors: "FlowOOD contributors",
            abstract: "We reproduce two papers [@kirichenko2020; @lde2023] on $p(x)$ and OOD detection.",
            profile: profile, generator: "flowood 0.1.0 (git abc1234)",
            chapters: [
                ChapterDocument(file: "chapters/01-intro.md", blocks: [
                    .markdown(introduction, line: 1), .figure(figure), .table(table), .claim(claimOK),
                ]),
                ChapterDocument(file: "chapters/02-results.md", blocks: [
                    .markdown(results, line: 1), .figure(second), .claim(claimBad),
                ] + filler),
            ])
    }
}

/// Compares `actual` with Tests/ReportTests/Snapshots/`name`; `FLOWOOD_RECORD_SNAPSHOTS=1`
/// re-records it (and reports an issue so a recording run is never mistaken for a pass).
func expectSnapshot(_ actual: String, named name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["FLOWOOD_RECORD_SNAPSHOTS"] == "1" {
        try Data(actual.utf8).write(to: file)
        Issue.record("recorded snapshot \(name); unset FLOWOOD_RECORD_SNAPSHOTS and rerun", sourceLocation: sourceLocation)
        return
    }
    guard let recorded = FileManager.default.contents(atPath: file.path) else {
        Issue.record("no snapshot \(name); run with FLOWOOD_RECORD_SNAPSHOTS=1 to record it", sourceLocation: sourceLocation)
        return
    }
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let r = String(decoding: recorded, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    if a != r {
        let line = zip(a, r).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, r.count)
        let show = { (lines: [Substring]) in line < lines.count ? String(lines[line].prefix(300)) : "(end of file)" }
        Issue.record("snapshot \(name) differs at line \(line + 1):\n  actual:   \(show(a))\n  recorded: \(show(r))",
                     sourceLocation: sourceLocation)
    }
}

/// Runs a poppler tool and returns its standard output.
func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// `text` with every run of white space (including line breaks) replaced by one space.
func squeezed(_ text: String) -> String {
    text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
}

/// Expects `body` to throw ``RenderError/invalidDocument(_:)`` whose diagnostics include each
/// of `expected` (as "file:line:col: error: message" text fragments).
func expectDiagnostics(_ expected: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected \(expected)", sourceLocation: sourceLocation)
    } catch RenderError.invalidDocument(let diagnostics) {
        let text = diagnostics.map(\.description).joined(separator: "\n")
        for fragment in expected where !text.contains(fragment) {
            Issue.record("diagnostics\n\(text)\ndo not contain '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - TeX math

@Suite struct TeXMathTests {
    @Test func fractionsScriptsAndFonts() throws {
        #expect(try TeXMath.mathML(#"\frac{a}{b}"#, display: false) ==
            #"<math display="inline"><semantics><mrow><mfrac><mi>a</mi><mi>b</mi></mfrac></mrow><annotation encoding="application/x-tex">\frac{a}{b}</annotation></semantics></math>"#)
        let scripts = try TeXMath.mathML("x_i^2", display: false)
        #expect(scripts.contains("<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>"))
        let fonts = try TeXMath.mathML(#"\mathbb{R}^n, \mathcal{N}, \mathrm{bpd}, \mathbf{x}"#, display: false)
        #expect(fonts.contains("<msup><mi>ℝ</mi><mi>n</mi></msup>"))
        #expect(fonts.contains("<mi>𝒩</mi>"))
        #expect(fonts.contains("<mi>bpd</mi>"))
        #expect(fonts.contains("<mi>𝐱</mi>"))
    }

    @Test func operatorsLimitsFencesAndSpacing() throws {
        let sum = try TeXMath.mathML(#"\sum_{i=1}^{N} \log p(x_i)"#, display: true)
        #expect(sum.hasPrefix(#"<math display="block">"#))
        #expect(sum.contains(#"<munderover><mo largeop="true">∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>N</mi></munderover>"#))
        #expect(sum.contains(#"<mi>log</mi><mspace width="0.1667em"/><mi>p</mi>"#))
        let fence = try TeXMath.mathML(#"\left( \frac{1}{2} \right) \le \alpha \quad \text{if } \Sigma"#, display: false)
        #expect(fence.contains(#"<mo fence="true" form="prefix">(</mo>"#))
        #expect(fence.contains("<mo>≤</mo><mi>α</mi><mspace width=\"1em\"/><mtext>if </mtext><mi mathvariant=\"normal\">Σ</mi>"))
        // '<' in formulas is escaped in MathML and in the annotation.
        #expect(try TeXMath.mathML("a<b", display: false).contains("<mo>&lt;</mo>"))
    }

    @Test func formulasFromThePapersParse() throws {
        let formulas = [#"\|x\|_2 + p_\theta(x) + \mathbb{E}_{x \sim p}[\log q(x)]"#,
                        #"\operatorname{softmax}(z)_k = \frac{\exp(z_k)}{\sum_{j=1}^{K} \exp(z_j)}"#,
                        #"10^{-3} \cdot \text{AUROC} \ge 0.9, \quad f'(x) \approx a'"#,
                        #"\left\| x \right\| = \exp\left(-\frac{1}{2}\|z\|^2\right)"#,
                        #"\nabla_\theta \mathcal{L}, \; x \mapsto z, \; \{1, \dots, K\}, \; \hat{\mu}, \bar{x}, \tilde{p}"#,
                        #"\int_0^1 f(x)\,\mathrm{d}x = \prod_{i} \frac{a_i}{b_i + \frac{1}{c}} \odot \Sigma^{-1}"#,
                        #"\max_{\theta} \min_x \sqrt{x^2 + y^2} \times \left[ \frac{\partial \log p}{\partial x} \right]"#]
        for formula in formulas {
            #expect(throws: Never.self, "\(formula)") { try TeXMath.validate(formula) }
        }
        // A prime follows its base (′ is already raised); limits of \min are scripts inline only.
        #expect(try TeXMath.mathML("f'(x)", display: false).contains(#"<mrow><mi>f</mi><mo stretchy="false">′</mo></mrow>"#))
        #expect(try TeXMath.mathML(#"\min_x"#, display: false).contains("<msub><mi>min</mi><mi>x</mi></msub>"))
        #expect(try TeXMath.mathML(#"\min_x"#, display: true).contains("<munder><mi>min</mi><mi>x</mi></munder>"))
    }

    @Test func pangoMarkupUsesMathItalicsAndRaisedScripts() throws {
        let markup = try TeXMath.pangoMarkup("x^2 + y_i", size: 10)
        // 𝑥 is U+1D465; superscript at 7 pt raised 3.8 pt, subscript lowered 2 pt (1024ths of a point).
        #expect(markup == "<span font_family=\"Latin Modern Math\" allow_breaks=\"false\">𝑥<span size=\"7168\" rise=\"3891\">2</span>\u{205F}+\u{205F}𝑦<span size=\"7168\" rise=\"-2048\">𝑖</span></span>")
        #expect(try TeXMath.pangoMarkup(#"\frac{a+b}{2}"#, size: 10).contains("(𝑎\u{205F}+\u{205F}𝑏)/2"))
    }

    @Test func unknownCommandsAndBadSyntaxReportTheirOffset() {
        #expect(throws: TeXMathError(offset: 4, message: "unknown command \\foo")) { try TeXMath.validate(#"a + \foo{b}"#) }
        // A close supported command is suggested (edit distance ≤ 2, under half the name's length).
        #expect(throws: TeXMathError(offset: 0, message: "unknown command \\alpah", suggestion: "\\alpha")) {
            try TeXMath.validate(#"\alpah"#)
        }
        #expect(throws: TeXMathError(offset: 2, message: "unknown command \\Sgima", suggestion: "\\Sigma")) {
            try TeXMath.validate(#"x \Sgima"#)
        }
        #expect(throws: TeXMathError(offset: 3, message: "double superscript")) { try TeXMath.validate("x^2^3") }
        #expect(throws: TeXMathError.self) { try TeXMath.validate(#"\left( x"#) }
        #expect(throws: TeXMathError.self) { try TeXMath.validate("{x") }
        #expect(throws: TeXMathError.self) { try TeXMath.validate("a & b") }
        #expect(throws: TeXMathError.self) { try TeXMath.validate(#"\sqrt[3]{x}"#) }
    }
}

// MARK: - Markdown

@Suite struct MarkdownTests {
    private func parse(_ text: String) -> (blocks: [MarkdownBlock], diagnostics: [RenderDiagnostic]) {
        var parser = MarkdownParser(origin: Report.SourceLocation(file: "chapters/x.md", line: 10, column: 1))
        let blocks = parser.parseBlocks(text)
        return (blocks, parser.diagnostics)
    }

    @Test func mathIsProtectedFromMarkdownButNotFromCode() throws {
        let (blocks, diagnostics) = parse("Here $a_i * b_j$ and `$x_1$` cost $5 and $6.\n\n```\n$y_1$\n```\n")
        #expect(diagnostics.isEmpty)
        guard case .paragraph(let inlines)? = blocks.first else {
            Issue.record("expected a paragraph, got \(blocks)")
            return
        }
        guard case .math(let formula) = inlines[1] else {
            Issue.record("expected math, got \(inlines)")
            return
        }
        #expect(formula.source == "a_i * b_j")
        guard case .code(let code) = inlines[3] else {
            Issue.record("expected a code span, got \(inlines)")
            return
        }
        #expect(code == "$x_1$")
        #expect(inlines.plainText().hasSuffix("cost $5 and $6."))
        guard case .code(_, let block)? = blocks.last else {
            Issue.record("expected a code block")
            return
        }
        #expect(block == "$y_1$")
    }

    @Test func htmlCommentsAreDroppedAndRawHTMLStaysText() {
        let (blocks, _) = parse("Text <!-- note --> and <b>bold</b>.\n\n<!-- a block comment -->\n\n<div>raw</div>\n")
        #expect(blocks.count == 2)
        if case .paragraph(let inlines) = blocks[0] {
            #expect(inlines.plainText() == "Text  and <b>bold</b>.")
        }
        if case .code(let language, let text) = blocks[1] {
            #expect(language == "html" && text == "<div>raw</div>")
        }
    }

    @Test func displayMathSplitsItsParagraph() {
        let (blocks, _) = parse("Before\n$$\n\\frac{a}{b}\n$$\nafter.")
        #expect(blocks.count == 3)
        if case .math(let formula) = blocks[1] {
            #expect(formula.display && formula.source == "\\frac{a}{b}")
        } else {
            Issue.record("expected display math in the middle, got \(blocks)")
        }
    }

    @Test func headingAttributesReferencesAndCitations() {
        let (blocks, diagnostics) = parse("## Setup {#sec:setup}\n\n# Notes {-}\n\n# Set {0, 1}\n\nSee @fig:a, @tab:b-c. [@lde2023; @kirichenko2020] and @kirichenko2020 say; mail a@fig:x.")
        #expect(diagnostics.isEmpty)
        guard blocks.count == 4, case .heading(let setup) = blocks[0], case .heading(let notes) = blocks[1],
              case .heading(let braces) = blocks[2], case .paragraph(let inlines) = blocks[3] else {
            Issue.record("unexpected blocks \(blocks)")
            return
        }
        #expect(setup.label == "sec:setup" && setup.numbered && setup.content.plainText() == "Setup")
        #expect(notes.label == nil && !notes.numbered && notes.content.plainText() == "Notes")
        #expect(braces.numbered && braces.content.plainText() == "Set {0, 1}")
        let text = inlines.plainText(resolve: { "<\($0)>" }, cite: { keys, narrative in "\(narrative ? "N" : "P")\(keys)" })
        #expect(text == "See <fig:a>, <tab:b-c>. P[\"lde2023\", \"kirichenko2020\"] and N[\"kirichenko2020\"] say; mail a@fig:x.")
    }

    @Test func mathAndCitationErrorsPointAtTheChapterLine() {
        let (_, diagnostics) = parse("First line.\nSecond $x + \\nope$ and [@kirichenko2021].")
        #expect(diagnostics.map(\.description) == [
            "chapters/x.md:11:13: error: unknown command \\nope",
            "chapters/x.md:11:24: error: unknown citation key 'kirichenko2021'; did you mean 'kirichenko2020'?",
        ])
    }

    @Test func checkReportsWhatTheRenderersWouldReject() {
        let check = MarkdownCheck("# Intro {#sec:intro}\n\nSee @fig:a and $\\alpha + \\beta_{$ there.",
                                  origin: Report.SourceLocation(file: "chapters/01.md", line: 3, column: 1))
        #expect(check.sectionLabels == ["sec:intro"])
        #expect(check.references.map(\.id) == ["fig:a"])
        #expect(check.references.first?.location?.description == "chapters/01.md:5:5")
        #expect(check.diagnostics.map(\.description) == ["chapters/01.md:5:33: error: missing '}'"])
    }

    @Test func tableCellsAreInlineEvenWhenTheyLookLikeBlocks() {
        var parser = MarkdownParser(origin: nil)
        let inlines = parser.parseInlines("-0.5")
        #expect(inlines.plainText() == "-0.5")
        var parser2 = MarkdownParser(origin: nil)
        #expect(parser2.parseInlines("1. *first*").plainText() == "1. first")
    }
}

// MARK: - PreparedDocument (numbering and references)

@Suite struct PreparedDocumentTests {
    @Test func sectionsFiguresAndTablesAreNumberedAcrossTheBook() throws {
        let book = try PreparedDocument(try RenderFixture.document())
        #expect(book.headings.map { $0.number ?? "-" } == ["1", "1.1", "2", "-"])
        #expect(book.label(for: "sec:method") == "Section 1.1")
        #expect(book.label(for: "fig:hist") == "Figure 1")
        #expect(book.label(for: "fig:again") == "Figure 2")
        #expect(book.label(for: "tab:auroc") == "Table 1")
        #expect(book.citedKeys == ["lde2023", "kirichenko2020"])
        #expect(book.citationText(["kirichenko2020"], narrative: false) == "(Kirichenko et al., 2020)")
        #expect(book.citationText(["lde2023"], narrative: true) == "Cook et al. (2023)")
    }

    @Test func unknownReferencesAreReportedWithTheirLocation() throws {
        var document = try RenderFixture.document()
        document.chapters[1].blocks[0] = .markdown("# Results\n\nSee @fig:hits and @sec:nowhere.", line: 5)
        expectDiagnostics([
            "chapters/02-results.md:7:5: error: reference to unknown id 'fig:hits'; did you mean 'fig:hist'?",
            "chapters/02-results.md:7:19: error: reference to unknown id 'sec:nowhere'",
        ]) {
            _ = try PreparedDocument(document)
        }
    }

    @Test func duplicateIdsAreReported() throws {
        var document = try RenderFixture.document()
        document.chapters[1].blocks.append(document.chapters[0].blocks[1])
        expectDiagnostics(["error: duplicate id 'fig:hist'"]) {
            _ = try PreparedDocument(document)
        }
    }
}

// MARK: - HTML

@Suite struct HTMLRenderTests {
    @Test func snapshot() throws {
        let html = try HTMLRenderer().render(try RenderFixture.document())
        try expectSnapshot(html, named: "report.html")
    }

    @Test func structure() throws {
        let html = try HTMLRenderer().render(try RenderFixture.document())
        #expect(html.contains("<p class=\"profile-badge smoke\">profile: smoke — not results</p>"))
        #expect(html.contains("<h1 class=\"title\">FlowOOD: why flows fail &amp; how latents help</h1>"))
        #expect(html.contains("<h2 id=\"sec:intro\"><span class=\"secnum\">1</span> Introduction</h2>"))
        #expect(html.contains("<h3 id=\"sec:method\"><span class=\"secnum\">1.1</span> Method</h3>"))
        #expect(html.contains("<h3 id=\"sec-notes\">Notes</h3>"))
        #expect(html.contains("<a class=\"ref\" href=\"#fig:hist\">Figure 1</a> shows"))
        #expect(html.contains("<a class=\"ref\" href=\"#sec:method\">Section 1.1</a>"))
        #expect(html.contains("(<a class=\"cite\" href=\"#ref-kirichenko2020\">Kirichenko et al., 2020</a>)"))
        #expect(html.contains("<li id=\"ref-kirichenko2020\">Kirichenko, P., Izmailov, P., and Wilson, A. G. (2020)."))
        #expect(html.contains("<figure class=\"figure\" id=\"fig:hist\">\n<img src=\"figures/fig-hist.svg\""))
        #expect(html.contains("<figcaption><span class=\"caption-label\">Figure 1:</span> Log-likelihoods <math"))
        #expect(html.contains("<img src=\"figures/fig-again.svg\""))
        #expect(html.contains("<th class=\"num\" scope=\"col\">Noise &lt;x&gt;</th>"))
        #expect(html.contains("<td class=\"num has-note\" title=\"95% CI [0.10, 0.14]\">0.12 ± 0.02</td>"))
        #expect(html.contains("<aside class=\"claim reproduced\" id=\"claim:fail\">"))
        #expect(html.contains("<aside class=\"claim not-reproduced\" id=\"claim:lde\">"))
        #expect(html.contains("Check: AUROC 0.97 &gt; 0.99."))
        #expect(html.contains("<p class=\"claim-check\">Paper: Figure 1a. Our evidence: <a href="))
        #expect(html.contains("<p class=\"verdict\">✗ Not reproduced</p>"))
        #expect(html.contains("<dt>Cache key</dt><dd><code>3f2a9c0d1e7b5a4c</code></dd>"))
        // A claim box says where its verdict's numbers come from.
        let box = html.components(separatedBy: "<aside class=\"claim reproduced\" id=\"claim:fail\">").dropFirst().first?
            .components(separatedBy: "</aside>").first ?? ""
        #expect(box.contains("<dt>Source</dt><dd>chapters/01-intro.md:30:1</dd>"))
        #expect(box.contains("<dt>Code version</dt><dd><code>render-claim-1, evaluate-2</code></dd>"))
        #expect(html.contains("<mfrac>"))
        #expect(html.contains("<code>$not math$</code>"))
        #expect(html.contains("a price of $5 stays text"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") && !html.contains("src=\"/"))
    }

    @Test func paperProfileHasAQuietBadge() throws {
        let html = try HTMLRenderer().render(try RenderFixture.document(profile: "paper"))
        #expect(html.contains("<p class=\"profile-badge\">profile: paper</p>"))
        #expect(!html.contains("not results"))
    }
}

// MARK: - PDF

@Suite struct PDFRenderTests {
    @Test func textPagesAndDeterminism() throws {
        let document = try RenderFixture.document(extraParagraphs: 30)
        let pdf = try PDFRenderer().render(document)
        // FLOWOOD_RENDER_SAMPLE=/tmp/sample keeps the rendered fixture for a look.
        if let keep = ProcessInfo.processInfo.environment["FLOWOOD_RENDER_SAMPLE"] {
            try ReportWriter.write(try RenderFixture.document(histogramFiles: [:], extraParagraphs: 30),
                                   to: URL(fileURLWithPath: keep), projectRoot: URL(fileURLWithPath: "/"))
        }
        #expect(pdf.starts(with: Data("%PDF-".utf8)))
        #expect(try PDFRenderer().render(document) == pdf, "identical documents must give identical bytes")
        // The outline (bookmarks) lists the sections by number.
        let raw = String(decoding: pdf, as: UTF8.self)
        for title in ["(Abstract)", "(1 Introduction)", "(1.1 Method)", "(2 Results)", "(Notes)", "(References)"] {
            #expect(raw.contains("/Title \(title)"), "outline entry \(title)")
        }
        try withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("report.pdf")
            try pdf.write(to: file)
            let info = squeezed(try run("pdfinfo", [file.path]))
            #expect(info.contains("Title: FlowOOD: why flows fail & how latents help"))
            #expect(info.contains("CreationDate: Sat Jan 1 00:00:00 2000 UTC"))
            let pages = info.components(separatedBy: "Pages: ").dropFirst().first
                .flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
            #expect(pages >= 3, "\(pages) pages")
            let text = squeezed(try run("pdftotext", ["-layout", file.path, "-"]))
            for fragment in ["profile: smoke — not results", "Abstract", "1 Introduction", "1.1 Method", "2 Results", "Notes",
                             "Figure 1:", "Figure 2:", "Table 1:", "REPRODUCED", "NOT REPRODUCED", "References",
                             "Kirichenko et al., 2020", "see Table 1", "Section 1.1", "Cook et al. (2023)"] {
                #expect(text.contains(fragment), "PDF text lacks '\(fragment)'")
            }
            // Every page ends with its number in the footer.
            for page in 1...pages {
                let pageText = try run("pdftotext", ["-f", "\(page)", "-l", "\(page)", "-layout", file.path, "-"])
                let lines = pageText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
                #expect(lines.last?.hasSuffix("\(page)") == true, "page \(page) ends with '\(lines.last ?? "")'")
                if page > 1 {
                    #expect(lines.first?.contains("FlowOOD: why flows fail") == true, "running head on page \(page)")
                }
            }
        }
    }

    @Test func longTablesContinueOnTheNextPageAndLetterPaperWorks() throws {
        var document = try RenderFixture.document(profile: "paper")
        let rows = (1...90).map { ["detector \($0)", String(format: "0.%03d", $0)] }
        let long = TableBlock(id: "tab:long", header: ["Detector", "AUROC"], rows: rows, numeric: [false, true],
                              caption: "Many rows.", provenance: RenderFixture.provenance("@ClaimsLedger(id: \"tab:long\")", line: 30))
        document.chapters[1].blocks.append(.table(long))
        let pdf = try PDFRenderer(paper: .letter).render(document)
        if let keep = ProcessInfo.processInfo.environment["FLOWOOD_RENDER_SAMPLE"] {
            try pdf.write(to: URL(fileURLWithPath: keep + "-long-table-letter.pdf"))
        }
        try withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("report.pdf")
            try pdf.write(to: file)
            #expect(squeezed(try run("pdfinfo", [file.path])).contains("Page size: 612 x 792 pts (letter)"))
            let text = squeezed(try run("pdftotext", ["-layout", file.path, "-"]))
            #expect(text.contains("Table 2: Many rows."))
            #expect(text.contains("Table 2 (continued)"))
            #expect(text.contains("detector 1 0.001") && text.contains("detector 90 0.090"))
            #expect(!text.contains("not results"))
        }
    }

    @Test func paginatorDefersFloatsAndKeepsHeadingsWithText() {
        func line(_ h: Double = 10, keep: Bool = false) -> FlowItem {
            let item = FlowItem(height: h) { _, _, _ in }
            item.keepWithNext = keep
            return item
        }
        let float = line(60)
        float.isFloat = true
        let heading = line(12, keep: true)
        // 8 lines fill 80 of 120; the 60-pt float (+14 separation) waits for page 2 while text continues.
        let items = (0..<8).map { _ in line() } + [float] + [line(), heading, line(keep: true), line()]
        let pages = Paginator(bodyHeight: 120).paginate(items)
        #expect(pages.count == 2)
        #expect(pages[0].count == 9, "8 lines and the line after the float")
        #expect(pages[1].first?.item === float, "the float opens page 2")
        #expect(pages[1].contains { $0.item === heading }, "the heading moved with its two lines")
    }
}

// MARK: - Writer

@Suite struct ReportWriterTests {
    @Test func writesAtomicallyAndKeepsThePreviousReportOnFailure() throws {
        try withTemporaryDirectory { root in
            let figures = root.appendingPathComponent("figures")
            try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true)
            let svg = try RenderFixture.histogram().svgData()
            try svg.write(to: figures.appendingPathComponent("fig-hist.svg"))
            let target = root.appendingPathComponent("build/report")
            let document = try RenderFixture.document(histogramFiles: ["svg": "figures/fig-hist.svg"])
            try ReportWriter.write(document, to: target, projectRoot: root)
            let files = try FileManager.default.contentsOfDirectory(atPath: target.path).sorted()
            #expect(files == ["figures", "index.html", "report.pdf"])
            let copied = try FileManager.default.contentsOfDirectory(atPath: target.appendingPathComponent("figures").path).sorted()
            #expect(copied == ["fig-again.svg", "fig-hist.svg"])
            #expect(FileManager.default.contents(atPath: target.appendingPathComponent("figures/fig-hist.svg").path) == svg)

            // A missing figure file fails before anything is replaced.
            let broken = try RenderFixture.document(histogramFiles: ["svg": "figures/missing.svg"])
            #expect(throws: RenderError.self) { try ReportWriter.write(broken, to: target, projectRoot: root) }
            let after = try FileManager.default.contentsOfDirectory(atPath: target.appendingPathComponent("figures").path).sorted()
            #expect(after == copied, "the previous report is intact")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("build").path)
            #expect(leftovers == ["report"], "no temporary directories left: \(leftovers)")

            // Rewriting replaces the directory.
            try ReportWriter.write(try RenderFixture.document(profile: "paper"), to: target, projectRoot: root)
            let html = try String(contentsOf: target.appendingPathComponent("index.html"), encoding: .utf8)
            #expect(html.contains("profile: paper"))
        }
    }
}
