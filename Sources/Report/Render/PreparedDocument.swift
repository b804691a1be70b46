import Foundation

/// A ``ReportDocument`` prepared for rendering, shared by the HTML and PDF renderers: every
/// Markdown text parsed, sections, figures and tables numbered in reading order across the
/// book, and every cross-reference and citation checked.
///
/// Numbering: `#` → 1, 2, …; `##` → 1.1; `###` → 1.1.1 (deeper headings and `{-}` headings are
/// unnumbered); figures and tables each count from 1 over the whole book.
struct PreparedDocument {
    /// A numbered thing a reference can point at.
    struct Target {
        enum Kind { case section, figure, table }
        var kind: Kind
        /// "3", "2.1"; empty for an unnumbered section.
        var number: String
        /// The HTML id.
        var anchor: String
        /// The section title (used for references to unnumbered sections).
        var title: String

        /// "Figure 3", "Table 2", "Section 2.1" (or the title of an unnumbered section).
        var label: String {
            switch kind {
            case .figure: "Figure \(number)"
            case .table: "Table \(number)"
            case .section: number.isEmpty ? "“\(title)”" : "Section \(number)"
            }
        }
    }

    struct Heading {
        var level: Int
        /// "2.1", or nil when unnumbered.
        var number: String?
        var content: [Inline]
        var anchor: String
    }

    struct FigureItem {
        var block: FigureBlock
        var number: Int
        var caption: [Inline]
    }

    struct TableItem {
        var block: TableBlock
        var number: Int
        var caption: [Inline]
        var header: [[Inline]]
        var rows: [[[Inline]]]
    }

    struct ClaimItem {
        var block: ClaimBlock
        var text: [Inline]
        var comment: [MarkdownBlock]
    }

    enum Item {
        case heading(Heading)
        case block(MarkdownBlock)
        case figure(FigureItem)
        case table(TableItem)
        case claim(ClaimItem)
    }

    struct Chapter {
        var file: String
        var items: [Item]
    }

    let document: ReportDocument
    private(set) var abstract: [MarkdownBlock] = []
    private(set) var chapters: [Chapter] = []
    private(set) var targets: [String: Target] = [:]
    /// Every heading in order (contents, PDF outline).
    private(set) var headings: [Heading] = []
    /// Cited keys, in Bibliography order.
    private(set) var citedKeys: [String] = []

    /// Parses and numbers `document`.
    ///
    /// - Throws: ``RenderError/invalidDocument(_:)`` listing every bad formula, unknown reference
    ///   or citation key, duplicate id and bad heading attribute.
    init(_ document: ReportDocument) throws {
        self.document = document
        var diagnostics: [RenderDiagnostic] = []
        var references: [(id: String, location: SourceLocation?, context: String?)] = []
        var usedAnchors: Set<String> = []
        var cited: Set<String> = []

        func collect(_ parser: MarkdownParser, context: String?) {
            diagnostics += parser.diagnostics.map { d in
                var d = d
                if let context { d.message += " (in \(context))" }
                return d
            }
            references += parser.references.map { ($0.id, $0.location, context) }
        }
        func inlines(_ text: String, at origin: SourceLocation?, context: String) -> [Inline] {
            var parser = MarkdownParser(origin: origin, exactPositions: false)
            let result = parser.parseInlines(text)
            collect(parser, context: context)
            return result
        }
        func blocks(_ text: String, at origin: SourceLocation?, exact: Bool, context: String?) -> [MarkdownBlock] {
            var parser = MarkdownParser(origin: origin, exactPositions: exact)
            let result = parser.parseBlocks(text)
            collect(parser, context: context)
            return result
        }
        func define(_ id: String, _ target: Target, at location: SourceLocation?) {
            if targets[id] != nil {
                diagnostics.append(RenderDiagnostic(location: location, message: "duplicate id '\(id)'"))
                return
            }
            targets[id] = target
        }
        func uniqueAnchor(_ base: String) -> String {
            var anchor = base
            var k = 2
            while usedAnchors.contains(anchor) {
                anchor = "\(base)-\(k)"
                k += 1
            }
            usedAnchors.insert(anchor)
            return anchor
        }

        abstract = blocks(document.abstract, at: nil, exact: false, context: "the abstract")

        var counters = [0, 0, 0]
        var figureCount = 0
        var tableCount = 0
        for chapter in document.chapters {
            var items: [Item] = []
            for block in chapter.blocks {
                switch block {
                case .markdown(let text, let line):
                    let origin = SourceLocation(file: chapter.file, line: line, column: 1)
                    for parsed in blocks(text, at: origin, exact: true, context: nil) {
                        guard case .heading(let h) = parsed else {
                            items.append(.block(parsed))
                            continue
                        }
                        var number: String?
                        if h.numbered, h.level <= 3 {
                            counters[h.level - 1] += 1
                            for k in h.level..<3 { counters[k] = 0 }
                            number = counters[0..<h.level].map(String.init).joined(separator: ".")
                        }
                        let title = h.content.plainText()
                        let anchor = uniqueAnchor(h.label ?? (number.map { "sec-" + $0.replacingOccurrences(of: ".", with: "-") }
                            ?? "sec-" + Self.slug(title)))
                        let heading = Heading(level: h.level, number: number, content: h.content, anchor: anchor)
                        if let label = h.label {
                            define(label, Target(kind: .section, number: number ?? "", anchor: anchor, title: title),
                                   at: origin)
                        }
                        headings.append(heading)
                        items.append(.heading(heading))
                    }
                case .figure(let figure):
                    figureCount += 1
                    let location = figure.provenance.location
                    define(figure.id, Target(kind: .figure, number: String(figureCount), anchor: uniqueAnchor(figure.id), title: ""),
                           at: location)
                    let caption = inlines(figure.caption, at: location, context: "the caption of \(figure.id)")
                    items.append(.figure(FigureItem(block: figure, number: figureCount, caption: caption)))
                case .table(let table):
                    tableCount += 1
                    let location = table.provenance.location
                    define(table.id, Target(kind: .table, number: String(tableCount), anchor: uniqueAnchor(table.id), title: ""),
                           at: location)
                    let caption = inlines(table.caption, at: location, context: "the caption of \(table.id)")
                    let header = table.header.map { inlines($0, at: location, context: "a header cell of \(table.id)") }
                    let rows = table.rows.map { row in row.map { inlines($0, at: location, context: "a cell of \(table.id)") } }
                    items.append(.table(TableItem(block: table, number: tableCount, caption: caption, header: header, rows: rows)))
                case .claim(let claim):
                    _ = uniqueAnchor(claim.id)
                    let text = inlines(claim.text, at: nil, context: claim.id)
                    let comment = blocks(claim.comment, at: nil, exact: false, context: claim.id)
                    references.append((claim.evidence, nil, "the evidence of \(claim.id)"))
                    items.append(.claim(ClaimItem(block: claim, text: text, comment: comment)))
                }
            }
            chapters.append(Chapter(file: chapter.file, items: items))
        }

        for reference in references where targets[reference.id] == nil {
            let known = targets.keys.sorted()
            let close = known.map { ($0, Bibliography.editDistance($0, reference.id)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
            var message = "reference to unknown id '\(reference.id)'"
            if let context = reference.context { message += " (in \(context))" }
            if let close { message += "; did you mean '\(close.0)'?" }
            diagnostics.append(RenderDiagnostic(location: reference.location, message: message))
        }

        // Citations, for the References section.
        func visit(_ inlines: [Inline]) {
            for inline in inlines {
                switch inline {
                case .citation(let keys, _): cited.formUnion(keys)
                case .emphasis(let c), .strong(let c), .link(_, _, let c): visit(c)
                default: break
                }
            }
        }
        func visit(_ blocks: [MarkdownBlock]) {
            for block in blocks {
                switch block {
                case .paragraph(let c): visit(c)
                case .heading(let h): visit(h.content)
                case .list(_, _, _, let items): items.forEach(visit)
                case .quote(let inner): visit(inner)
                case .table(_, let header, let rows): (header + rows.flatMap { $0 }).forEach(visit)
                case .code, .math, .rule: break
                }
            }
        }
        visit(abstract)
        for chapter in chapters {
            for item in chapter.items {
                switch item {
                case .heading(let h): visit(h.content)
                case .block(let b): visit([b])
                case .figure(let f): visit(f.caption)
                case .table(let t): visit(t.caption); (t.header + t.rows.flatMap { $0 }).forEach(visit)
                case .claim(let c): visit(c.text); visit(c.comment)
                }
            }
        }
        citedKeys = Bibliography.entries.map(\.key).filter(cited.contains)

        if !diagnostics.isEmpty {
            throw RenderError.invalidDocument(diagnostics)
        }
    }

    /// The text a reference shows: "Figure 3".
    func label(for id: String) -> String {
        targets[id]?.label ?? id
    }

    /// "Kirichenko et al., 2020; Cook et al., 2023" or, narrative, "Kirichenko et al. (2020)".
    func citationText(_ keys: [String], narrative: Bool) -> String {
        let entries = keys.compactMap(Bibliography.entry)
        if narrative { return entries.map(\.narrative).joined(separator: "; ") }
        return "(" + entries.map(\.parenthetical).joined(separator: "; ") + ")"
    }

    /// Plain text of inline content with references and citations resolved.
    func plainText(_ inlines: [Inline]) -> String {
        inlines.plainText(resolve: label(for:), cite: citationText)
    }

    /// "Figure 3"-style label for a heading: "2.1 Title" or "Title".
    func headingText(_ heading: Heading) -> String {
        let title = plainText(heading.content)
        return heading.number.map { "\($0) \(title)" } ?? title
    }

    /// A lowercase ASCII slug of `text` for anchors: "Related work" → "related-work".
    static func slug(_ text: String) -> String {
        var out = ""
        var dash = false
        for c in text.lowercased().unicodeScalars {
            if (c >= "a" && c <= "z") || (c >= "0" && c <= "9") {
                if dash, !out.isEmpty { out += "-" }
                out.unicodeScalars.append(c)
                dash = false
            } else {
                dash = true
            }
        }
        return out.isEmpty ? "section" : out
    }
}
