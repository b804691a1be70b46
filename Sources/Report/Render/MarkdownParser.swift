import Foundation
@preconcurrency import CCmarkGFM

/// Parses chapter Markdown with cmark-gfm (tables extension, no smart punctuation) into
/// ``MarkdownBlock``s.
///
/// Math is protected before cmark sees it: `$$…$$` and `$…$` spans outside code (fenced and
/// indented code blocks found by a first cmark pass, backtick code spans found by scanning) are
/// replaced by private-use placeholders, so `_`, `*`, `\{` and `|` inside formulas survive; the
/// placeholders become ``Inline/math`` nodes again, and a paragraph holding display math is split
/// around it. An inline `$` opens math only when followed by a non-space and closes only when
/// preceded by a non-space and not followed by a digit (so "costs $5 and $6" stays text).
/// Cross-references (`@fig:x`, `@tab:x`, `@sec:x`) and citations (`[@key]`, `[@a; @b]`, bare
/// `@key` for a bibliography key) are recognised in text nodes.
///
/// Problems (bad math, unknown citation keys, bad heading attributes) are collected in
/// ``diagnostics`` with their chapter locations; parsing goes on.
struct MarkdownParser {
    /// The chapter file, the line of the text's first line and the column of its first character.
    let origin: SourceLocation?
    private(set) var diagnostics: [RenderDiagnostic] = []
    /// Every cross-reference seen, with its location, for checking once the whole book is known.
    private(set) var references: [(id: String, location: SourceLocation?)] = []

    private var source: [Unicode.Scalar] = []
    private var sourceText = ""
    private var lineStarts: [Int] = [0]
    private var protected: [ProtectedMath] = []

    /// False when `origin` is only roughly where the text is (a caption: the directive's
    /// location); every diagnostic then points at `origin`.
    let exactPositions: Bool

    init(origin: SourceLocation?, exactPositions: Bool = true) {
        self.origin = origin
        self.exactPositions = exactPositions
    }

    // MARK: - Entry points

    /// Parses a run of chapter Markdown into blocks.
    mutating func parseBlocks(_ text: String) -> [MarkdownBlock] {
        let protectedText = prepare(text)
        let document = CMarkDocument(protectedText)
        return blocks(of: document.root)
    }

    /// Parses inline Markdown (a caption, a table cell): block syntax at the start of the text
    /// (`1.`, `-`, `#`) is not interpreted; several paragraphs are joined by line breaks.
    mutating func parseInlines(_ text: String) -> [Inline] {
        let protectedText = prepare(text)
        // A zero-width space in front makes any first line a paragraph line ("-0.5" is not a list).
        let document = CMarkDocument("&#8203;" + protectedText)
        var inlines = flatten(blocks(of: document.root))
        if case .text(let first)? = inlines.first, first.hasPrefix("\u{200B}") {
            let rest = String(first.dropFirst())
            if rest.isEmpty { inlines.removeFirst() } else { inlines[0] = .text(rest) }
        }
        return inlines
    }

    // MARK: - Math protection

    private struct ProtectedMath {
        var source: String
        var display: Bool
        /// Offset of the formula's first scalar in the original text.
        var contentOffset: Int
        var formula: Formula?
    }

    private static let placeholderStart: Unicode.Scalar = "\u{E000}"
    private static let placeholderEnd: Unicode.Scalar = "\u{E001}"

    /// Records the text for locations, replaces math by placeholders and parses each formula.
    private mutating func prepare(_ text: String) -> String {
        sourceText = text
        source = Array(text.unicodeScalars)
        lineStarts = [0]
        for (i, c) in source.enumerated() where c == "\n" { lineStarts.append(i + 1) }
        protected = []
        let codeLines = CMarkDocument(text).codeBlockLines()
        let out = protectMath(codeLines: codeLines)
        for k in protected.indices {
            do {
                let node = try TeXMath.parse(protected[k].source)
                protected[k].formula = Formula(source: protected[k].source, node: node, display: protected[k].display)
            } catch let error as TeXMathError {
                diagnose(at: protected[k].contentOffset + error.offset, error.message, kind: .math,
                         suggestion: error.suggestion)
            } catch {
                diagnose(at: protected[k].contentOffset, "\(error)", kind: .math)
            }
        }
        return out
    }

    private mutating func protectMath(codeLines: Set<Int>) -> String {
        var out = String.UnicodeScalarView()
        let s = source
        let n = s.count
        var i = 0
        var line = 1
        func isBlankLine(at index: Int) -> Bool {
            // True when the line starting at `index` holds only spaces and tabs.
            var j = index
            while j < n, s[j] == " " || s[j] == "\t" { j += 1 }
            return j == n || s[j] == "\n"
        }
        while i < n {
            let c = s[i]
            if c == "\n" {
                out.append(c)
                line += 1
                i += 1
                continue
            }
            if codeLines.contains(line) {
                out.append(c)
                i += 1
                continue
            }
            if c == "\\", i + 1 < n, s[i + 1] != "\n" {
                out.append(c)
                out.append(s[i + 1])
                i += 2
                continue
            }
            if c == "`" {
                var run = 0
                while i + run < n, s[i + run] == "`" { run += 1 }
                // Find a closing run of exactly `run` backticks before the paragraph ends.
                var j = i + run
                var close: Int?
                while j < n {
                    if s[j] == "\n", isBlankLine(at: j + 1) { break }
                    if s[j] == "`" {
                        var k = 0
                        while j + k < n, s[j + k] == "`" { k += 1 }
                        if k == run {
                            close = j + k
                            break
                        }
                        j += k
                        continue
                    }
                    j += 1
                }
                let end = close ?? i + run
                for k in i..<end {
                    out.append(s[k])
                    if s[k] == "\n" { line += 1 }
                }
                i = end
                continue
            }
            if c == "$" {
                if i + 1 < n, s[i + 1] == "$" {
                    var j = i + 2
                    var close: Int?
                    while j + 1 < n {
                        if s[j] == "\\" { j += 2; continue }
                        if s[j] == "$", s[j + 1] == "$" { close = j; break }
                        j += 1
                    }
                    guard let close else {
                        diagnose(at: i, "display math opened with $$ is not closed", kind: .math)
                        out.append(c)
                        out.append(c)
                        i += 2
                        continue
                    }
                    let content = String(String.UnicodeScalarView(s[(i + 2)..<close]))
                    appendPlaceholder(&out, ProtectedMath(source: content.trimmingCharacters(in: .whitespacesAndNewlines),
                                                          display: true, contentOffset: i + 2 + leadingWhitespace(s, from: i + 2, to: close)))
                    for k in i..<(close + 2) where s[k] == "\n" { line += 1 }
                    i = close + 2
                    continue
                }
                if i + 1 < n, !s[i + 1].properties.isWhitespace {
                    var j = i + 1
                    var close: Int?
                    while j < n {
                        if s[j] == "\n", isBlankLine(at: j + 1) { break }
                        if s[j] == "\\" { j += 2; continue }
                        if s[j] == "$" {
                            let before = s[j - 1]
                            let afterIsDigit = j + 1 < n && s[j + 1].properties.numericType != nil && s[j + 1].isASCII
                            if !before.properties.isWhitespace && !afterIsDigit { close = j }
                            break
                        }
                        j += 1
                    }
                    if let close {
                        let content = String(String.UnicodeScalarView(s[(i + 1)..<close]))
                        appendPlaceholder(&out, ProtectedMath(source: content, display: false, contentOffset: i + 1))
                        for k in i..<(close + 1) where s[k] == "\n" { line += 1 }
                        i = close + 1
                        continue
                    }
                }
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    private func leadingWhitespace(_ s: [Unicode.Scalar], from: Int, to: Int) -> Int {
        var k = from
        while k < to, s[k].properties.isWhitespace { k += 1 }
        return k - from
    }

    private mutating func appendPlaceholder(_ out: inout String.UnicodeScalarView, _ math: ProtectedMath) {
        out.append(Self.placeholderStart)
        out.append(contentsOf: String(protected.count).unicodeScalars)
        out.append(Self.placeholderEnd)
        protected.append(math)
    }

    /// Puts the original `$…$` text back into strings that are not parsed further (URLs, HTML).
    private func restoreRaw(_ text: String) -> String {
        guard text.unicodeScalars.contains(Self.placeholderStart) else { return text }
        var out = ""
        var scalars = text.unicodeScalars[...]
        while let c = scalars.first {
            scalars = scalars.dropFirst()
            if c == Self.placeholderStart, let end = scalars.firstIndex(of: Self.placeholderEnd),
               let k = Int(String(String.UnicodeScalarView(scalars[..<end]))), protected.indices.contains(k) {
                let d = protected[k].display ? "$$" : "$"
                out += d + protected[k].source + d
                scalars = scalars[scalars.index(after: end)...]
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    // MARK: - Locations and diagnostics

    /// The chapter location of scalar `offset` of the text.
    func location(ofOffset offset: Int) -> SourceLocation? {
        guard let origin else { return nil }
        guard exactPositions else { return origin }
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        let column = offset - lineStarts[low] + 1
        return SourceLocation(file: origin.file, line: origin.line + low,
                              column: low == 0 ? origin.column + column - 1 : column)
    }

    /// The location of the first occurrence of `token` in the text (or of the text itself).
    func location(of token: String) -> SourceLocation? {
        guard let range = sourceText.range(of: token) else { return location(ofOffset: 0) }
        return location(ofOffset: sourceText.unicodeScalars.distance(from: sourceText.startIndex, to: range.lowerBound))
    }

    private mutating func diagnose(at offset: Int, _ message: String, kind: RenderDiagnostic.Kind = .markup,
                                   suggestion: String? = nil) {
        diagnostics.append(RenderDiagnostic(location: location(ofOffset: offset), message: message, kind: kind,
                                            suggestion: suggestion))
    }

    private mutating func diagnose(token: String, _ message: String, kind: RenderDiagnostic.Kind = .markup) {
        diagnostics.append(RenderDiagnostic(location: location(of: token), message: message, kind: kind))
    }

    // MARK: - Blocks

    private mutating func blocks(of node: OpaquePointer) -> [MarkdownBlock] {
        var out: [MarkdownBlock] = []
        for child in CMarkDocument.children(of: node) {
            let type = cmark_node_get_type(child)
            switch type {
            case CMARK_NODE_PARAGRAPH:
                out += paragraphBlocks(inlines(of: child))
            case CMARK_NODE_HEADING:
                out.append(.heading(heading(child)))
            case CMARK_NODE_CODE_BLOCK:
                var text = CMarkDocument.literal(child)
                if text.hasSuffix("\n") { text.removeLast() }
                let info = CMarkDocument.string(cmark_node_get_fence_info(child))
                out.append(.code(language: String(info.split(separator: " ").first ?? ""), text: text))
            case CMARK_NODE_HTML_BLOCK:
                // Comments are the author's notes; other raw HTML is shown as code (the
                // renderers never pass HTML through).
                var text = restoreRaw(CMarkDocument.literal(child))
                if text.hasSuffix("\n") { text.removeLast() }
                if !text.trimmingCharacters(in: .whitespaces).hasPrefix("<!--") {
                    out.append(.code(language: "html", text: text))
                }
            case CMARK_NODE_LIST:
                let ordered = cmark_node_get_list_type(child) == CMARK_ORDERED_LIST
                let items = CMarkDocument.children(of: child).map { blocks(of: $0) }
                out.append(.list(ordered: ordered, start: Int(cmark_node_get_list_start(child)),
                                 tight: cmark_node_get_list_tight(child) != 0, items: items))
            case CMARK_NODE_BLOCK_QUOTE:
                out.append(.quote(blocks(of: child)))
            case CMARK_NODE_THEMATIC_BREAK:
                out.append(.rule)
            default:
                if type == flowood_node_table() {
                    out.append(table(child))
                } else {
                    out += blocks(of: child)
                }
            }
        }
        return out
    }

    /// A paragraph, split around display math.
    private func paragraphBlocks(_ inlines: [Inline]) -> [MarkdownBlock] {
        var out: [MarkdownBlock] = []
        var current: [Inline] = []
        func flush() {
            let trimmed = trimBreaks(current)
            if !trimmed.isEmpty { out.append(.paragraph(trimmed)) }
            current = []
        }
        for inline in inlines {
            if case .math(let formula) = inline, formula.display {
                flush()
                out.append(.math(formula))
            } else {
                current.append(inline)
            }
        }
        flush()
        return out
    }

    private func trimBreaks(_ inlines: [Inline]) -> [Inline] {
        func isBlank(_ inline: Inline) -> Bool {
            switch inline {
            case .softBreak, .lineBreak: true
            case .text(let s): s.allSatisfy(\.isWhitespace)
            default: false
            }
        }
        var slice = inlines[...]
        while let first = slice.first, isBlank(first) { slice = slice.dropFirst() }
        while let last = slice.last, isBlank(last) { slice = slice.dropLast() }
        return Array(slice)
    }

    /// A heading; a trailing `{…}` whose tokens are all attributes (`#label`, `-`, `.unnumbered`)
    /// is removed from the text. A heading that merely ends in braces (`{0, 1}`) keeps them.
    private mutating func heading(_ node: OpaquePointer) -> MarkdownHeading {
        var content = inlines(of: node)
        var label: String?
        var numbered = true
        if case .text(let last)? = content.last, let open = last.lastIndex(of: "{"),
           last.trimmingCharacters(in: .whitespaces).hasSuffix("}") {
            let inside = last[last.index(after: open)...].trimmingCharacters(in: .whitespaces).dropLast()
            let tokens = inside.split(separator: " ")
            if !tokens.isEmpty, tokens.allSatisfy({ $0.hasPrefix("#") || $0.hasPrefix("-") || $0.hasPrefix(".") }) {
                for token in tokens {
                    if token == "-" || token == ".unnumbered" {
                        numbered = false
                    } else if token.hasPrefix("#"), token.count > 1 {
                        label = String(token.dropFirst())
                    } else {
                        diagnose(token: String(token), "unknown heading attribute '\(token)'; use {#sec:name} or {-}")
                    }
                }
                let before = String(last[..<open]).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
                content.removeLast()
                if !before.isEmpty { content.append(.text(before)) }
            }
        }
        return MarkdownHeading(level: Int(cmark_node_get_heading_level(node)), content: content, label: label,
                               numbered: numbered)
    }

    private mutating func table(_ node: OpaquePointer) -> MarkdownBlock {
        let columns = Int(cmark_gfm_extensions_get_table_columns(node))
        var alignments: [ColumnAlignment] = Array(repeating: .none, count: columns)
        if let raw = cmark_gfm_extensions_get_table_alignments(node) {
            for k in 0..<columns {
                switch raw[k] {
                case UInt8(ascii: "l"): alignments[k] = .left
                case UInt8(ascii: "c"): alignments[k] = .center
                case UInt8(ascii: "r"): alignments[k] = .right
                default: alignments[k] = .none
                }
            }
        }
        var header: [[Inline]] = []
        var rows: [[[Inline]]] = []
        for row in CMarkDocument.children(of: node) {
            var cells = CMarkDocument.children(of: row).map { inlines(of: $0) }
            while cells.count < columns { cells.append([]) }
            if cmark_gfm_extensions_get_table_row_is_header(row) != 0 {
                header = cells
            } else {
                rows.append(cells)
            }
        }
        return .table(alignments: alignments, header: header, rows: rows)
    }

    /// All inline content of `blocks` in order (for captions and cells).
    private func flatten(_ blocks: [MarkdownBlock]) -> [Inline] {
        var out: [Inline] = []
        func add(_ inlines: [Inline]) {
            if !out.isEmpty, !inlines.isEmpty { out.append(.lineBreak) }
            out += inlines
        }
        for block in blocks {
            switch block {
            case .paragraph(let inlines): add(inlines)
            case .heading(let heading): add(heading.content)
            case .code(_, let text): add([.code(text)])
            case .math(var formula):
                formula.display = false
                add([.math(formula)])
            case .list(_, _, _, let items): for item in items { add(flatten(item)) }
            case .quote(let inner): add(flatten(inner))
            case .table(_, let header, let rows):
                for row in [header] + rows { add(Array(row.joined(separator: [.text(" ")]))) }
            case .rule: break
            }
        }
        return out
    }

    // MARK: - Inlines

    private mutating func inlines(of node: OpaquePointer) -> [Inline] {
        var out: [Inline] = []
        var pending = ""
        func flush(_ parser: inout MarkdownParser) {
            if !pending.isEmpty { out += parser.splitText(pending) }
            pending = ""
        }
        for child in CMarkDocument.children(of: node) {
            let type = cmark_node_get_type(child)
            switch type {
            case CMARK_NODE_TEXT:
                pending += CMarkDocument.literal(child)
            case CMARK_NODE_HTML_INLINE:
                let html = restoreRaw(CMarkDocument.literal(child))
                if !html.hasPrefix("<!--") { pending += html }
            default:
                flush(&self)
                switch type {
                case CMARK_NODE_SOFTBREAK: out.append(.softBreak)
                case CMARK_NODE_LINEBREAK: out.append(.lineBreak)
                case CMARK_NODE_CODE: out.append(.code(restoreRaw(CMarkDocument.literal(child))))
                case CMARK_NODE_EMPH: out.append(.emphasis(inlines(of: child)))
                case CMARK_NODE_STRONG: out.append(.strong(inlines(of: child)))
                case CMARK_NODE_LINK, CMARK_NODE_IMAGE:
                    out.append(.link(url: restoreRaw(CMarkDocument.string(cmark_node_get_url(child))),
                                     title: restoreRaw(CMarkDocument.string(cmark_node_get_title(child))),
                                     inlines(of: child)))
                default: out += inlines(of: child)
                }
            }
        }
        flush(&self)
        return out
    }

    private static func isKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
    }

    private static let referencePrefixes: Set<String> = ["fig", "tab", "sec"]

    /// Splits text into plain text, math, references and citations.
    private mutating func splitText(_ text: String) -> [Inline] {
        let s = Array(text.unicodeScalars)
        var out: [Inline] = []
        var buffer = String.UnicodeScalarView()
        func flush() {
            if !buffer.isEmpty { out.append(.text(String(buffer))) }
            buffer = String.UnicodeScalarView()
        }
        /// Reads `prefix:name` or `key` starting at `start`; returns the id and the end index.
        func readID(from start: Int) -> (String, Int)? {
            var j = start
            var id = String.UnicodeScalarView()
            while j < s.count, Self.isKeyCharacter(s[j]) { id.append(s[j]); j += 1 }
            if j + 1 < s.count, s[j] == ":", Self.isKeyCharacter(s[j + 1]) {
                id.append(":")
                j += 1
                while j < s.count, Self.isKeyCharacter(s[j]) { id.append(s[j]); j += 1 }
            }
            // Ids do not end in a hyphen (a dash after a reference is punctuation).
            while let last = id.last, last == "-" { id.removeLast(); j -= 1 }
            return id.isEmpty ? nil : (String(id), j)
        }
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == Self.placeholderStart, let end = s[i...].firstIndex(of: Self.placeholderEnd),
               let k = Int(String(String.UnicodeScalarView(s[(i + 1)..<end]))), protected.indices.contains(k) {
                flush()
                if let formula = protected[k].formula {
                    out.append(.math(formula))
                } else {
                    // Already diagnosed; keep the source visible.
                    out.append(.code(protected[k].source))
                }
                i = end + 1
                continue
            }
            if c == "[", i + 1 < s.count, s[i + 1] == "@" {
                // [@a; @b] — keys separated by ';' or ','.
                var j = i + 1
                var ids: [String] = []
                var closed = false
                while j < s.count, s[j] == "@", let (id, end) = readID(from: j + 1) {
                    ids.append(id)
                    j = end
                    while j < s.count, s[j] == " " { j += 1 }
                    if j < s.count, s[j] == "]" { closed = true; j += 1; break }
                    guard j < s.count, s[j] == ";" || s[j] == "," else { break }
                    j += 1
                    while j < s.count, s[j] == " " { j += 1 }
                }
                if closed {
                    flush()
                    let token = String(String.UnicodeScalarView(s[i..<j]))
                    let refs = ids.filter { $0.contains(":") }
                    let keys = ids.filter { !$0.contains(":") }
                    for id in refs { noteReference(id, token: token) }
                    out += refs.enumerated().flatMap { n, id in n > 0 ? [Inline.text(", "), .reference(id)] : [.reference(id)] }
                    if !keys.isEmpty {
                        for key in keys where Bibliography.entry(key) == nil {
                            diagnose(token: token, "unknown citation key '\(key)'\(Bibliography.suggestion(for: key))", kind: .citation)
                        }
                        if !refs.isEmpty { out.append(.text(" ")) }
                        out.append(.citation(keys, narrative: false))
                    }
                    i = j
                    continue
                }
            }
            if c == "@", i == 0 || !(Self.isKeyCharacter(s[i - 1]) || s[i - 1] == "." || s[i - 1] == "@"),
               let (id, end) = readID(from: i + 1) {
                if let colon = id.firstIndex(of: ":"), Self.referencePrefixes.contains(String(id[..<colon])) {
                    flush()
                    noteReference(id, token: "@" + id)
                    out.append(.reference(id))
                    i = end
                    continue
                }
                if !id.contains(":"), Bibliography.entry(id) != nil {
                    flush()
                    out.append(.citation([id], narrative: true))
                    i = end
                    continue
                }
            }
            buffer.append(c)
            i += 1
        }
        flush()
        return out.filter {
            if case .text(let t) = $0 { return !t.isEmpty }
            return true
        }
    }

    private mutating func noteReference(_ id: String, token: String) {
        references.append((id, location(of: token)))
    }
}

// MARK: - cmark-gfm

/// A parsed cmark-gfm document (tables extension on, smart punctuation off); frees its tree.
final class CMarkDocument {
    let root: OpaquePointer

    /// Registers the GFM extensions once per process (cmark's own guard is not thread-safe).
    private static let registered: Bool = {
        cmark_gfm_core_extensions_ensure_registered()
        return true
    }()

    init(_ text: String) {
        _ = Self.registered
        let parser = cmark_parser_new(CMARK_OPT_DEFAULT)!
        defer { cmark_parser_free(parser) }
        if let table = cmark_find_syntax_extension("table") {
            cmark_parser_attach_syntax_extension(parser, table)
        }
        var bytes = Array(text.utf8)
        bytes.append(0)
        bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) {
                cmark_parser_feed(parser, $0, buffer.count - 1)
            }
        }
        root = cmark_parser_finish(parser)!
    }

    deinit {
        cmark_node_free(root)
    }

    static func children(of node: OpaquePointer) -> [OpaquePointer] {
        var out: [OpaquePointer] = []
        var child = cmark_node_first_child(node)
        while let c = child {
            out.append(c)
            child = cmark_node_next(c)
        }
        return out
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    static func literal(_ node: OpaquePointer) -> String {
        string(cmark_node_get_literal(node))
    }

    /// 1-based line numbers covered by code blocks (fenced or indented), anywhere in the tree.
    func codeBlockLines() -> Set<Int> {
        var lines = Set<Int>()
        func visit(_ node: OpaquePointer) {
            let type = cmark_node_get_type(node)
            if type == CMARK_NODE_CODE_BLOCK {
                let start = Int(cmark_node_get_start_line(node))
                let end = Int(cmark_node_get_end_line(node))
                if start > 0, end >= start { lines.formUnion(start...end) }
                return
            }
            for child in Self.children(of: node) { visit(child) }
        }
        visit(root)
        return lines
    }
}
