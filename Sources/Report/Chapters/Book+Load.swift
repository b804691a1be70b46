import Foundation

/// One checked chapter: its Markdown runs and validated directives in reading order.
public struct Chapter: Sendable {
    public enum Segment: Sendable {
        /// Markdown lines joined by "\n" (inline values not yet substituted); `line` is the first.
        case markdown(String, line: Int)
        case directive(Directive)
    }

    /// The file as written in diagnostics, e.g. "chapters/02-failure.md".
    public var file: String
    public var segments: [Segment]

    public var directives: [Directive] {
        segments.compactMap { if case .directive(let d) = $0 { d } else { nil } }
    }
}

/// All chapters of the report, parsed and checked (docs/report-design.md): a `Book` exists only
/// when there is no diagnostic at all, so the runner never sees a broken chapter.
public struct Book: Sendable {
    public var chapters: [Chapter]
    public var vocabulary: Vocabulary
    /// The `@Title` (exactly one per book).
    public var title: Directive
    private var byID: [String: Directive]

    /// Every directive of the book in reading order.
    public var directives: [Directive] { chapters.flatMap(\.directives) }

    /// The directive with this `id:`.
    public func directive(withID id: String) -> Directive? { byID[id] }

    /// Reads `directory/*.md` in file-name order and checks them; files are named
    /// `displayDirectory/NAME.md` in diagnostics and provenance (default: `directory` as given;
    /// the CLI passes the directory relative to `--root`, so errors read `chapters/02-failure.md`).
    /// Returns the book, or nil and the diagnostics (sorted by location, with source lines).
    public static func load(directory: String, displayDirectory: String? = nil,
                            vocabulary: Vocabulary = .standard) -> (Book?, [Diagnostic]) {
        func trimmed(_ path: String) -> String { path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path }
        let prefix = trimmed(displayDirectory ?? directory)
        let readPrefix = trimmed(directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".md") }.sorted()
        } catch {
            return (nil, [Diagnostic("cannot read the chapters directory '\(prefix)'",
                                     at: SourceLocation(file: prefix, line: 1, column: 1))])
        }
        if names.isEmpty {
            return (nil, [Diagnostic("no chapters (*.md) in '\(prefix)'", at: SourceLocation(file: prefix, line: 1, column: 1))])
        }
        var sources: [(file: String, text: String)] = []
        var unreadable: [Diagnostic] = []
        for name in names {
            let file = "\(prefix)/\(name)"
            if let data = FileManager.default.contents(atPath: "\(readPrefix)/\(name)"), let text = String(data: data, encoding: .utf8) {
                sources.append((file, text))
            } else {
                unreadable.append(Diagnostic("cannot read this chapter as UTF-8 text", at: SourceLocation(file: file, line: 1, column: 1)))
            }
        }
        let (book, diagnostics) = check(sources, vocabulary: vocabulary)
        return unreadable.isEmpty ? (book, diagnostics) : (nil, (unreadable + diagnostics).sortedByLocation())
    }

    /// Checks chapters given as text, in the given order. `file` is the name used in diagnostics.
    public static func check(_ sources: [(file: String, text: String)],
                             vocabulary: Vocabulary = .standard) -> (Book?, [Diagnostic]) {
        guard !sources.isEmpty else {
            return (nil, [Diagnostic("the book has no chapters", at: SourceLocation(file: "chapters", line: 1, column: 1))])
        }
        var diagnostics: [Diagnostic] = []
        var validator = Validator(vocabulary: vocabulary)
        var prose = ProseScanner()
        var chapters: [Chapter] = []
        var brokenIDs: Set<String> = []
        var titleAttempted = false
        var lines: [String: [String]] = [:]
        var markup: [Diagnostic] = []

        for (file, text) in sources {
            let source = ChapterSource(file: file, text: text)
            lines[file] = source.lines
            let (segments, splitProblems) = source.split()
            diagnostics += splitProblems
            var chapter = Chapter(file: file, segments: [])
            for segment in segments {
                switch segment {
                case .markdown(let markdown, let line):
                    prose.scan(markdown, file: file, firstLine: line, headings: true)
                    markup += Self.markupDiagnostics(markdown, at: SourceLocation(file: file, line: line, column: 1))
                    chapter.segments.append(.markdown(markdown, line: line))
                case .invalid(let text, _):
                    if let id = Self.idText(in: text) { brokenIDs.insert(id) }
                    if text.hasPrefix("@Title(") { titleAttempted = true }
                case .directive(let raw):
                    if raw.name == "Title" { titleAttempted = true }
                    if let body = raw.body, let at = raw.bodyLocation {
                        prose.scan(body, file: file, firstLine: at.line, headings: false)
                        markup += Self.markupDiagnostics(body, at: at)
                    }
                    let (parsed, parseProblems) = DirectiveParser.parse(raw)
                    diagnostics += parseProblems
                    guard let parsed else {
                        if let id = Self.idText(in: raw.arguments) { brokenIDs.insert(id) }
                        continue
                    }
                    if let directive = validator.validate(parsed) {
                        chapter.segments.append(.directive(directive))
                        // A claim's text is Markdown too (shown in its box and the ledger); it
                        // starts one column after the opening quote.
                        if directive.name == "Claim", let text = directive.value("text").string {
                            var at = directive.value("text").location
                            at.column += 1
                            markup += Self.markupDiagnostics(text, at: at)
                        }
                    } else if let id = parsed.arguments.first(where: { $0.label == "id" }),
                              case .string(let text) = id.value.kind {
                        brokenIDs.insert(text)
                    }
                }
            }
            chapters.append(chapter)
        }
        diagnostics += validator.diagnostics
        diagnostics += prose.diagnostics
        // Markup problems (math, heading attributes) where the prose scanner found nothing already.
        let located = Set(diagnostics.map(\.location))
        diagnostics += markup.filter { !located.contains($0.location) }

        let directives = chapters.flatMap(\.directives)
        var checker = BookChecker(vocabulary: vocabulary, directives: directives, prose: prose, brokenIDs: brokenIDs)
        checker.run(titleAttempted: titleAttempted, firstChapter: sources.first?.file)
        diagnostics += checker.diagnostics

        diagnostics = diagnostics.sortedByLocation()
        for index in diagnostics.indices { diagnostics[index].attachSourceLines(from: lines) }
        guard diagnostics.isEmpty, let title = directives.first(where: { $0.name == "Title" }) else {
            return (nil, diagnostics)
        }
        var byID: [String: Directive] = [:]
        for directive in directives { if let id = directive.id { byID[id] = directive } }
        return (Book(chapters: chapters, vocabulary: vocabulary, title: title, byID: byID), [])
    }

    /// What the renderers would reject in a run of Markdown (TeX math outside the subset, bad
    /// heading attributes), as chapter diagnostics; citations are checked by ``ProseScanner``.
    private static func markupDiagnostics(_ markdown: String, at origin: SourceLocation) -> [Diagnostic] {
        MarkdownCheck(markdown, origin: origin).diagnostics.filter { $0.kind != .citation }.compactMap(\.chapterDiagnostic)
    }

    /// The `id: "..."` of a directive whose arguments did not parse, to avoid reporting
    /// references to it as unknown.
    private static func idText(in arguments: String) -> String? {
        var search = arguments.startIndex..<arguments.endIndex
        var found: Range<String.Index>?
        while let range = arguments.range(of: "id:", range: search) {
            if range.lowerBound == arguments.startIndex || !arguments[arguments.index(before: range.lowerBound)].isLetter {
                found = range
                break
            }
            search = range.upperBound..<arguments.endIndex
        }
        guard let range = found else { return nil }
        let rest = arguments[range.upperBound...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        let body = rest.dropFirst().prefix { $0 != "\"" }
        return body.isEmpty ? nil : String(body)
    }
}
