import Foundation

/// Renders a ``ReportDocument`` as one self-contained `index.html`: inline CSS, MathML for math,
/// no scripts and no external assets except the figure files under `figures/` beside it
/// (``FigureAssets``), so it works when opened from `file://`.
///
/// Layout: title block (with a prominent badge for the smoke profile), abstract, contents,
/// numbered sections, figures (`<figure id="fig:x">` with an `<img>` and "Figure N: …"), tables
/// (real `<table>`s, numeric columns right-aligned, per-cell notes as `title=` hovers), claim
/// verdict boxes, a `<details>` provenance element under every figure and table, and a
/// References section for the cited works. The output is deterministic: no dates, no absolute paths.
///
/// ```swift
/// let html = try HTMLRenderer().render(document)
/// ```
public struct HTMLRenderer: Sendable {
    /// A renderer (it has no settings).
    public init() {}

    /// The page for `document`.
    ///
    /// - Throws: ``RenderError/invalidDocument(_:)`` for bad math, unknown references or citations.
    public func render(_ document: ReportDocument) throws -> String {
        render(try PreparedDocument(document))
    }

    func render(_ book: PreparedDocument) -> String {
        var writer = HTMLWriter(book: book)
        return writer.page()
    }
}

/// Where a figure's image lives in the report directory.
enum FigureAssets {
    /// The file the HTML shows: the SVG if the figure has one, else the PNG, else an SVG the
    /// writer draws from the figure (`figures/fig-name.svg`). Relative to the report directory.
    static func htmlPath(for figure: FigureBlock) -> String {
        if let svg = figure.files["svg"] { return "figures/" + basename(svg) }
        if let png = figure.files["png"] { return "figures/" + basename(png) }
        return "figures/" + generatedName(for: figure)
    }

    /// True when the HTML image has to be drawn by the writer.
    static func needsGeneratedSVG(_ figure: FigureBlock) -> Bool {
        figure.files["svg"] == nil && figure.files["png"] == nil
    }

    /// The formats the writer draws: the figure's `formats` (those without a given file), and
    /// SVG when the HTML would otherwise have no image.
    static func drawnFormats(_ figure: FigureBlock) -> [FigureBlock.Format] {
        var formats = figure.formats.filter { figure.files[$0.rawValue] == nil }
        if needsGeneratedSVG(figure), !formats.contains(.svg) { formats.append(.svg) }
        return FigureBlock.Format.allCases.filter(formats.contains)
    }

    /// Every file of the figure in the report directory, by extension (`figures/fig-name.png`, ...).
    static func links(for figure: FigureBlock) -> [String: String] {
        var links = figure.files.mapValues { "figures/" + basename($0) }
        for format in figure.formats where links[format.rawValue] == nil {
            links[format.rawValue] = "figures/" + generatedName(for: figure, format: format)
        }
        return links
    }

    /// `fig:roc-mnist` → `fig-roc-mnist.svg` (or another format's extension).
    static func generatedName(for figure: FigureBlock, format: FigureBlock.Format = .svg) -> String {
        fileStem(for: figure.id) + "." + format.rawValue
    }

    /// `fig:roc-mnist` → `fig-roc-mnist`: ids name files with '-' for ':' (and for anything else
    /// that is not a letter, digit, '-' or '_').
    static func fileStem(for id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    static func basename(_ path: String) -> String {
        URL(fileURLWithPath: path).lastPathComponent
    }
}

/// Builds the page text.
private struct HTMLWriter {
    let book: PreparedDocument
    var out = ""

    init(book: PreparedDocument) {
        self.book = book
    }

    mutating func page() -> String {
        let document = book.document
        out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<meta name=\"generator\" content=\"\(HTML.escape(document.generator))\">\n"
        out += "<title>\(HTML.escape(document.title))</title>\n<style>\n\(Self.css)</style>\n</head>\n<body>\n"
        titleBlock()
        if !book.abstract.isEmpty {
            out += "<section class=\"abstract\" id=\"abstract\">\n<h2>Abstract</h2>\n"
            blocks(book.abstract)
            out += "</section>\n"
        }
        contents()
        out += "<main>\n"
        for chapter in book.chapters {
            out += "<section class=\"chapter\" data-file=\"\(HTML.escape(chapter.file))\">\n"
            for item in chapter.items { self.item(item) }
            out += "</section>\n"
        }
        references()
        out += "</main>\n<footer class=\"colophon\">\(HTML.escape(document.generator)) · profile: \(HTML.escape(document.profile))</footer>\n"
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: - Front matter

    private mutating func titleBlock() {
        let document = book.document
        out += "<header class=\"title-block\">\n"
        if document.profile == "smoke" {
            out += "<p class=\"profile-badge smoke\">profile: smoke — not results</p>\n"
        } else {
            out += "<p class=\"profile-badge\">profile: \(HTML.escape(document.profile))</p>\n"
        }
        out += "<h1 class=\"title\">\(HTML.escape(document.title))</h1>\n"
        if let subtitle = document.subtitle, !subtitle.isEmpty {
            out += "<p class=\"subtitle\">\(HTML.escape(subtitle))</p>\n"
        }
        if let authors = document.authors, !authors.isEmpty {
            out += "<p class=\"authors\">\(HTML.escape(authors))</p>\n"
        }
        out += "<p class=\"generator\">\(HTML.escape(document.generator))</p>\n"
        out += "</header>\n"
    }

    private mutating func contents() {
        let entries = book.headings.filter { $0.level <= 2 }
        guard !entries.isEmpty else { return }
        out += "<nav class=\"toc\" aria-label=\"Contents\">\n<h2>Contents</h2>\n<ul>\n"
        for heading in entries {
            let number = heading.number.map { "<span class=\"secnum\">\($0)</span> " } ?? ""
            out += "<li class=\"toc-l\(heading.level)\"><a href=\"#\(HTML.escape(heading.anchor))\">\(number)\(inline(heading.content, links: false))</a></li>\n"
        }
        if !book.citedKeys.isEmpty {
            out += "<li class=\"toc-l1\"><a href=\"#references\">References</a></li>\n"
        }
        out += "</ul>\n</nav>\n"
    }

    private mutating func references() {
        guard !book.citedKeys.isEmpty else { return }
        out += "<section class=\"references\" id=\"references\">\n<h2>References</h2>\n<ul class=\"bibliography\">\n"
        for key in book.citedKeys {
            guard let entry = Bibliography.entry(key) else { continue }
            out += "<li id=\"ref-\(HTML.escape(key))\">\(HTML.escape(entry.authorList)) (\(entry.year)). "
            out += "\(HTML.escape(entry.title)). <em>\(HTML.escape(entry.venue))</em>. "
            out += "<a href=\"\(HTML.escape(entry.url))\">\(HTML.escape(entry.url))</a>"
            if let note = entry.note { out += ". \(HTML.escape(note))" }
            out += "</li>\n"
        }
        out += "</ul>\n</section>\n"
    }

    // MARK: - Items

    private mutating func item(_ item: PreparedDocument.Item) {
        switch item {
        case .heading(let heading):
            let tag = "h\(min(heading.level + 1, 6))"
            let number = heading.number.map { "<span class=\"secnum\">\($0)</span> " } ?? ""
            out += "<\(tag) id=\"\(HTML.escape(heading.anchor))\">\(number)\(inline(heading.content))</\(tag)>\n"
        case .block(let block):
            blocks([block])
        case .figure(let figure):
            figureItem(figure)
        case .table(let table):
            tableItem(table)
        case .claim(let claim):
            claimItem(claim)
        }
    }

    private mutating func figureItem(_ item: PreparedDocument.FigureItem) {
        let figure = item.block
        let anchor = book.targets[figure.id]?.anchor ?? figure.id
        let label = "Figure \(item.number)"
        let alt = "\(label): \(book.plainText(item.caption))"
        let width = Int((figure.figure.width * 4 / 3).rounded())
        let height = Int((figure.figure.height * 4 / 3).rounded())
        out += "<figure class=\"figure\" id=\"\(HTML.escape(anchor))\">\n"
        out += "<img src=\"\(HTML.escape(FigureAssets.htmlPath(for: figure)))\" alt=\"\(HTML.escape(alt))\" width=\"\(width)\" height=\"\(height)\">\n"
        out += "<figcaption><span class=\"caption-label\">\(label):</span> \(inline(item.caption))</figcaption>\n"
        provenance(figure.provenance, files: FigureAssets.links(for: figure))
        out += "</figure>\n"
    }

    private mutating func tableItem(_ item: PreparedDocument.TableItem) {
        let table = item.block
        let anchor = book.targets[table.id]?.anchor ?? table.id
        out += "<figure class=\"table\" id=\"\(HTML.escape(anchor))\">\n"
        out += "<figcaption><span class=\"caption-label\">Table \(item.number):</span> \(inline(item.caption))</figcaption>\n"
        out += "<div class=\"table-wrap\"><table class=\"data\">\n"
        let columns = max(item.header.count, item.rows.map(\.count).max() ?? 0)
        func numeric(_ column: Int) -> Bool { column < table.numeric.count && table.numeric[column] }
        if !item.header.isEmpty {
            out += "<thead><tr>"
            for column in 0..<columns {
                let cell = column < item.header.count ? item.header[column] : []
                out += "<th\(numeric(column) ? " class=\"num\"" : "") scope=\"col\">\(inline(cell))</th>"
            }
            out += "</tr></thead>\n"
        }
        out += "<tbody>\n"
        for (r, row) in item.rows.enumerated() {
            out += "<tr>"
            for column in 0..<columns {
                let cell = column < row.count ? row[column] : []
                let note = r < table.notes.count && column < table.notes[r].count ? table.notes[r][column] : ""
                var classes: [String] = []
                if numeric(column) { classes.append("num") }
                if !note.isEmpty { classes.append("has-note") }
                let classAttribute = classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
                let title = note.isEmpty ? "" : " title=\"\(HTML.escape(note))\""
                out += "<td\(classAttribute)\(title)>\(inline(cell))</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table></div>\n"
        provenance(table.provenance, files: [:])
        out += "</figure>\n"
    }

    private mutating func claimItem(_ item: PreparedDocument.ClaimItem) {
        let claim = item.block
        let status = claim.verdict.rawValue
        let verdict = "\(claim.verdict.mark) \(claim.verdict.title)"
        out += "<aside class=\"claim \(status)\" id=\"\(HTML.escape(claim.id))\">\n"
        out += "<p class=\"verdict\">\(verdict)</p>\n"
        out += "<p class=\"claim-text\"><span class=\"claim-paper\">\(HTML.escape(claim.paper)):</span> \(inline(item.text))</p>\n"
        let evidence = book.targets[claim.evidence].map { "<a href=\"#\(HTML.escape($0.anchor))\">\(HTML.escape($0.label))</a>" }
            ?? HTML.escape(claim.evidence)
        let paper = claim.paperEvidence.isEmpty ? "" : "Paper: \(HTML.escape(claim.paperEvidence)). "
        out += "<p class=\"claim-check\">\(paper)Our evidence: \(evidence). Check: \(HTML.escape(claim.check)).</p>\n"
        if !item.comment.isEmpty {
            out += "<div class=\"claim-comment\">\n"
            blocks(item.comment)
            out += "</div>\n"
        }
        if let provenance = claim.provenance { self.provenance(provenance, files: [:]) }
        out += "</aside>\n"
    }

    private mutating func provenance(_ provenance: Provenance, files: [String: String]) {
        out += "<details class=\"provenance\"><summary>Provenance</summary>\n<dl>\n"
        out += "<dt>Directive</dt><dd><pre><code>\(HTML.escape(provenance.directive))</code></pre></dd>\n"
        out += "<dt>Source</dt><dd>\(HTML.escape(provenance.location.description))</dd>\n"
        out += "<dt>Cache key</dt><dd><code>\(HTML.escape(provenance.cacheKey))</code></dd>\n"
        let seeds = provenance.seeds.isEmpty ? "none" : provenance.seeds.map(String.init).joined(separator: ", ")
        out += "<dt>Seeds</dt><dd>\(seeds)</dd>\n"
        out += "<dt>Code version</dt><dd><code>\(HTML.escape(provenance.codeVersion))</code></dd>\n"
        if !files.isEmpty {
            let links = files.keys.sorted().map { ext in
                let path = files[ext]!
                return "<a href=\"\(HTML.escape(path))\">\(HTML.escape(ext.uppercased()))</a>"
            }
            out += "<dt>Files</dt><dd>\(links.joined(separator: " · "))</dd>\n"
        }
        out += "</dl>\n</details>\n"
    }

    // MARK: - Markdown

    private mutating func blocks(_ blocks: [MarkdownBlock], tight: Bool = false) {
        for block in blocks {
            switch block {
            case .paragraph(let content):
                out += tight ? "\(inline(content))\n" : "<p>\(inline(content))</p>\n"
            case .heading(let heading):
                // Headings inside an abstract or a claim comment are not part of the outline.
                out += "<p class=\"minor-heading\"><strong>\(inline(heading.content))</strong></p>\n"
            case .code(let language, let text):
                let classAttribute = language.isEmpty ? "" : " class=\"language-\(HTML.escape(language))\""
                out += "<pre><code\(classAttribute)>\(HTML.escape(text))</code></pre>\n"
            case .math(let formula):
                out += MathMLWriter.math(formula.node, source: formula.source, display: true) + "\n"
            case .list(let ordered, let start, let isTight, let items):
                if ordered {
                    out += start == 1 ? "<ol>\n" : "<ol start=\"\(start)\">\n"
                } else {
                    out += "<ul>\n"
                }
                for item in items {
                    out += "<li>"
                    self.blocks(item, tight: isTight)
                    out += "</li>\n"
                }
                out += ordered ? "</ol>\n" : "</ul>\n"
            case .quote(let inner):
                out += "<blockquote>\n"
                self.blocks(inner)
                out += "</blockquote>\n"
            case .table(let alignments, let header, let rows):
                out += "<div class=\"table-wrap\"><table class=\"markdown\">\n"
                func style(_ column: Int) -> String {
                    switch column < alignments.count ? alignments[column] : .none {
                    case .none: ""
                    case .left: " class=\"left\""
                    case .center: " class=\"center\""
                    case .right: " class=\"num\""
                    }
                }
                if !header.isEmpty {
                    out += "<thead><tr>"
                    for (c, cell) in header.enumerated() { out += "<th\(style(c))>\(inline(cell))</th>" }
                    out += "</tr></thead>\n"
                }
                out += "<tbody>\n"
                for row in rows {
                    out += "<tr>"
                    for (c, cell) in row.enumerated() { out += "<td\(style(c))>\(inline(cell))</td>" }
                    out += "</tr>\n"
                }
                out += "</tbody>\n</table></div>\n"
            case .rule:
                out += "<hr>\n"
            }
        }
    }

    /// Inline content; with `links` false (inside a contents link) references are plain text.
    private func inline(_ inlines: [Inline], links: Bool = true) -> String {
        var out = ""
        for inline in inlines {
            switch inline {
            case .text(let s):
                out += HTML.escape(s)
            case .emphasis(let c):
                out += "<em>\(self.inline(c, links: links))</em>"
            case .strong(let c):
                out += "<strong>\(self.inline(c, links: links))</strong>"
            case .code(let s):
                out += "<code>\(HTML.escape(s))</code>"
            case .link(let url, let title, let c):
                let content = self.inline(c, links: false)
                if !links || !Self.isSafeURL(url) {
                    out += content
                } else {
                    let titleAttribute = title.isEmpty ? "" : " title=\"\(HTML.escape(title))\""
                    out += "<a href=\"\(HTML.escape(url))\"\(titleAttribute)>\(content)</a>"
                }
            case .softBreak:
                out += "\n"
            case .lineBreak:
                out += "<br>\n"
            case .math(let formula):
                out += MathMLWriter.math(formula.node, source: formula.source, display: false)
            case .reference(let id):
                let label = HTML.escape(book.label(for: id))
                if links, let target = book.targets[id] {
                    out += "<a class=\"ref\" href=\"#\(HTML.escape(target.anchor))\">\(label)</a>"
                } else {
                    out += label
                }
            case .citation(let keys, let narrative):
                let entries = keys.compactMap(Bibliography.entry)
                let parts = entries.map { entry -> String in
                    let text = HTML.escape(narrative ? entry.narrative : entry.parenthetical)
                    return links ? "<a class=\"cite\" href=\"#ref-\(HTML.escape(entry.key))\">\(text)</a>" : text
                }
                out += narrative ? parts.joined(separator: "; ") : "(" + parts.joined(separator: "; ") + ")"
            }
        }
        return out
    }

    /// Links to `javascript:` and other script-capable schemes are shown as text only.
    private static func isSafeURL(_ url: String) -> Bool {
        let lower = url.trimmingCharacters(in: .whitespaces).lowercased()
        return !(lower.hasPrefix("javascript:") || lower.hasPrefix("vbscript:") || lower.hasPrefix("data:"))
    }

    // MARK: - Style

    static let css = """
    :root { --text: #1a1a1a; --muted: #5c5c5c; --rule: #d0d0d0; --accent: #1f4e8c;
      --ok: #1e7b34; --ok-bg: #eef8f0; --bad: #b3261e; --bad-bg: #fdf0ef; --neutral-bg: #f2f2f2; }
    html { font-size: 17px; }
    body { margin: 0 auto; max-width: 44rem; padding: 2rem 1.25rem 4rem; color: var(--text); background: #fff;
      font-family: "Latin Modern Roman", "CMU Serif", Cambria, Georgia, serif; line-height: 1.5;
      text-rendering: optimizeLegibility; }
    h1, h2, h3, h4, h5 { line-height: 1.25; font-weight: 700; }
    h2 { font-size: 1.45rem; margin: 2.4rem 0 0.8rem; }
    h3 { font-size: 1.2rem; margin: 1.8rem 0 0.6rem; }
    h4, h5, h6 { font-size: 1.05rem; margin: 1.4rem 0 0.5rem; }
    .secnum { margin-right: 0.5em; }
    p { margin: 0.7rem 0; text-align: justify; hyphens: auto; }
    a { color: var(--accent); text-decoration: none; }
    a:hover { text-decoration: underline; }
    code { font-family: "Latin Modern Mono", "DejaVu Sans Mono", monospace; font-size: 0.92em; }
    pre { background: #f6f6f4; border: 1px solid #e4e4e0; padding: 0.6rem 0.8rem; overflow-x: auto; line-height: 1.35; }
    blockquote { margin: 1rem 0; padding: 0 1rem; border-left: 3px solid var(--rule); color: var(--muted); }
    math { font-family: "Latin Modern Math", "STIX Two Math", math; }
    math[display="block"] { margin: 0.9rem 0; overflow-x: auto; overflow-y: hidden; }
    .title-block { text-align: center; margin-bottom: 2rem; }
    .title { font-size: 2rem; margin: 0.6rem 0 0.4rem; }
    .subtitle { font-size: 1.2rem; margin: 0.2rem 0; text-align: center; }
    .authors { font-size: 1.05rem; text-align: center; }
    .generator { color: var(--muted); font-size: 0.85rem; text-align: center; }
    .profile-badge { display: inline-block; margin: 0; padding: 0.15rem 0.7rem; border: 1px solid var(--rule);
      border-radius: 1rem; color: var(--muted); font-size: 0.85rem; text-align: center; }
    .profile-badge.smoke { display: block; padding: 0.6rem 1rem; border: 2px solid var(--bad); border-radius: 0.3rem;
      background: var(--bad-bg); color: var(--bad); font-weight: 700; font-size: 1.1rem; letter-spacing: 0.02em; }
    .abstract { margin: 0 2.5rem 2rem; font-size: 0.95rem; }
    .abstract h2 { font-size: 1rem; text-align: center; margin: 0 0 0.4rem; }
    .toc { border-top: 1px solid var(--rule); border-bottom: 1px solid var(--rule); padding: 0.5rem 0 1rem; }
    .toc h2 { font-size: 1.1rem; margin: 0.6rem 0; }
    .toc ul { list-style: none; padding: 0; margin: 0; }
    .toc li { margin: 0.15rem 0; }
    .toc .toc-l2 { padding-left: 1.8rem; font-size: 0.95rem; }
    figure { margin: 1.8rem 0; }
    figure.figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
    figcaption { font-size: 0.92rem; margin: 0.5rem 0; text-align: justify; }
    .caption-label { font-weight: 700; }
    .table-wrap { overflow-x: auto; }
    table { border-collapse: collapse; margin: 0.4rem auto; font-size: 0.92rem; }
    table.data, table.markdown { border-top: 2px solid var(--text); border-bottom: 2px solid var(--text); }
    thead th { border-bottom: 1px solid var(--text); }
    th, td { padding: 0.25rem 0.7rem; text-align: left; vertical-align: baseline; }
    th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
    th.center, td.center { text-align: center; }
    td.has-note { text-decoration: underline dotted var(--muted); cursor: help; }
    details.provenance { margin: 0.4rem 0 0; font-size: 0.8rem; color: var(--muted); }
    details.provenance summary { cursor: pointer; }
    details.provenance dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.8rem; margin: 0.4rem 0; }
    details.provenance dt { font-weight: 700; }
    details.provenance dd { margin: 0; min-width: 0; }
    details.provenance pre { margin: 0; white-space: pre-wrap; word-break: break-all; }
    details.provenance code { word-break: break-all; }
    .claim { margin: 1.5rem 0; padding: 0.6rem 1rem; border-left: 5px solid; border-radius: 0.2rem; }
    .claim.reproduced { border-color: var(--ok); background: var(--ok-bg); }
    .claim.not-reproduced { border-color: var(--bad); background: var(--bad-bg); }
    .claim.inconclusive, .claim.qualitative { border-color: var(--muted); background: var(--neutral-bg); }
    .claim .verdict { margin: 0 0 0.3rem; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; font-size: 0.85rem; }
    .claim.reproduced .verdict { color: var(--ok); }
    .claim.not-reproduced .verdict { color: var(--bad); }
    .claim.inconclusive .verdict, .claim.qualitative .verdict { color: var(--muted); }
    .claim-paper { font-weight: 700; }
    .claim-check { font-size: 0.92rem; }
    .bibliography { list-style: none; padding: 0; }
    .bibliography li { margin: 0.5rem 0; padding-left: 1.5rem; text-indent: -1.5rem; }
    .colophon { margin-top: 3rem; color: var(--muted); font-size: 0.8rem; text-align: center; }
    @media print { details.provenance { display: none; } }

    """
}
