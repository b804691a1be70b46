/// A directive as found in a chapter, before its arguments are parsed: `@Name(arguments)`
/// starting at column 1, optionally followed by ` {` and a body closed by a line `}`.
public struct RawDirective: Sendable, Hashable {
    /// "Train" for `@Train(...)`.
    public var name: String
    /// The text between the outer parentheses, verbatim (may span lines).
    public var arguments: String
    /// Where the `@` is.
    public var location: SourceLocation
    /// The directive verbatim from `@` to the closing `)`.
    public var source: String
    /// The body's Markdown lines joined by "\n", nil without ` {`.
    public var body: String?
    /// The first line of the body (column 1); nil without a body.
    public var bodyLocation: SourceLocation?
    /// The last line the directive occupies (its `)` line, or the body's closing `}` line).
    public var lastLine: Int

    public init(name: String, arguments: String, location: SourceLocation, source: String,
                body: String? = nil, bodyLocation: SourceLocation? = nil, lastLine: Int) {
        self.name = name
        self.arguments = arguments
        self.location = location
        self.source = source
        self.body = body
        self.bodyLocation = bodyLocation
        self.lastLine = lastLine
    }
}

/// One chapter's text split into Markdown runs and directives (see docs/report-design.md,
/// "Chapter syntax").
///
/// A line starting with `@Name(` begins a directive that extends to the matching `)`:
/// parentheses, brackets, braces and string literals (with `\` escapes) are balanced and may span
/// lines; a directive cannot contain a blank line. If the rest of the closing line is `{`, the
/// body runs up to the next line that is exactly `}`. Lines inside fenced code blocks
/// (```` ``` ```` / `~~~`) are never directives. Directive extents are found here, on the source
/// text, because cmark-gfm splits and rewrites directive lines (PLATFORM.md).
public struct ChapterSource: Sendable {
    /// A piece of a chapter in reading order.
    public enum Segment: Sendable, Hashable {
        /// Markdown lines joined by "\n"; `line` is the first one's line number. Runs made only
        /// of blank lines are dropped.
        case markdown(String, line: Int)
        case directive(RawDirective)
        /// The lines of a directive that could not be delimited (reported in the diagnostics).
        case invalid(String, line: Int)
    }

    /// The file as written in diagnostics, e.g. "chapters/02-failure.md".
    public var file: String
    /// The lines of the text without their terminators ("\r\n" and "\n" both end a line).
    public var lines: [String]

    public init(file: String, text: String) {
        self.file = file
        // Split on scalars: "\r\n" is a single Character, so a Character split would miss it.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.last == "\r" ? line.dropLast() : line)
        }
        if lines.last == "" { lines.removeLast() }
        self.lines = lines
    }

    /// The segments of the chapter and the problems found while splitting it. A directive that
    /// cannot be delimited (unclosed bracket or string) is reported and skipped up to the next
    /// blank line.
    public func split() -> (segments: [Segment], diagnostics: [Diagnostic]) {
        var splitter = Splitter(file: file, lines: lines.map { Array($0.unicodeScalars) })
        splitter.run()
        return (splitter.segments, splitter.diagnostics)
    }
}

/// The line-by-line state machine behind ``ChapterSource/split()``.
private struct Splitter {
    let file: String
    let lines: [[Unicode.Scalar]]
    var segments: [ChapterSource.Segment] = []
    var diagnostics: [Diagnostic] = []
    /// Markdown lines waiting to be emitted, with the first one's 0-based index.
    var pending: [String] = []
    var pendingStart = 0

    init(file: String, lines: [[Unicode.Scalar]]) {
        self.file = file
        self.lines = lines
    }

    func location(_ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line + 1, column: column + 1)
    }

    mutating func run() {
        var index = 0
        var fence: (marker: Unicode.Scalar, length: Int)?
        while index < lines.count {
            let line = lines[index]
            if let found = Self.fence(in: line) {
                if let open = fence {
                    if found.marker == open.marker, found.length >= open.length, found.isBare { fence = nil }
                } else {
                    fence = (found.marker, found.length)
                }
                appendMarkdown(index)
                index += 1
                continue
            }
            if fence == nil, let name = Self.directiveName(in: line) {
                flushMarkdown()
                let start = index
                index = directive(named: name, at: start)
                if case .directive(let raw)? = segments.last, raw.location.line == start + 1 { continue }
                segments.append(.invalid((start..<index).map { String(String.UnicodeScalarView(lines[$0])) }
                    .joined(separator: "\n"), line: start + 1))
                continue
            }
            if fence == nil, let name = Self.bareDirectiveName(in: line) {
                diagnostics.append(Diagnostic("directive '@\(name)' needs an argument list: '@\(name)(...)'",
                                              at: location(index, 0)))
            }
            appendMarkdown(index)
            index += 1
        }
        flushMarkdown()
    }

    mutating func appendMarkdown(_ index: Int) {
        if pending.isEmpty { pendingStart = index }
        pending.append(String(String.UnicodeScalarView(lines[index])))
    }

    mutating func flushMarkdown() {
        defer { pending = [] }
        guard pending.contains(where: { !$0.allSatisfy(\.isWhitespace) }) else { return }
        segments.append(.markdown(pending.joined(separator: "\n"), line: pendingStart + 1))
    }

    /// `Name` when the line starts with `@Name(`.
    static func directiveName(in line: [Unicode.Scalar]) -> String? {
        guard line.first == "@", line.count > 2, line[1].properties.isAlphabetic, line[1].isASCII else { return nil }
        var end = 1
        while end < line.count, line[end].isASCII, line[end].properties.isAlphabetic || ("0"..."9").contains(line[end]) {
            end += 1
        }
        guard end < line.count, line[end] == "(" else { return nil }
        return String(String.UnicodeScalarView(line[1..<end]))
    }

    /// `Name` when the line is `@Name`, `@Name {` or `@Name text` with an upper-case name: a
    /// directive whose argument list was forgotten (cross-references are lower-case `@fig:`).
    static func bareDirectiveName(in line: [Unicode.Scalar]) -> String? {
        guard line.first == "@", line.count > 1, ("A"..."Z").contains(line[1]) else { return nil }
        var end = 1
        while end < line.count, line[end].isASCII, line[end].properties.isAlphabetic || ("0"..."9").contains(line[end]) {
            end += 1
        }
        guard end == line.count || line[end] == " " || line[end] == "{" else { return nil }
        return String(String.UnicodeScalarView(line[1..<end]))
    }

    /// A fence line: up to three spaces, then at least three backticks or tildes.
    static func fence(in line: [Unicode.Scalar]) -> (marker: Unicode.Scalar, length: Int, isBare: Bool)? {
        var start = 0
        while start < line.count, start < 3, line[start] == " " { start += 1 }
        guard start < line.count, line[start] == "`" || line[start] == "~" else { return nil }
        let marker = line[start]
        var end = start
        while end < line.count, line[end] == marker { end += 1 }
        guard end - start >= 3 else { return nil }
        let isBare = line[end...].allSatisfy { $0 == " " || $0 == "\t" }
        return (marker, end - start, isBare)
    }

    /// Delimits the directive whose `@` starts line `start` and appends it to `segments`; returns
    /// the index of the first line after it (after its body, or after the skipped lines when it
    /// cannot be delimited: then nothing is appended).
    mutating func directive(named name: String, at start: Int) -> Int {
        let at = location(start, 0)
        var stack: [(bracket: Unicode.Scalar, line: Int, column: Int)] = []
        var line = start
        var column = name.unicodeScalars.count + 1   // the '('
        var stringStart: (line: Int, column: Int)?
        var escaped = false
        let closers: [Unicode.Scalar: Unicode.Scalar] = [")": "(", "]": "[", "}": "{"]

        /// The first line after a failed directive: the next blank line or the next directive.
        func skip(from line: Int) -> Int {
            var next = line + 1
            while next < lines.count, !isBlank(next), Self.directiveName(in: lines[next]) == nil { next += 1 }
            return next
        }

        while true {
            if column >= lines[line].count {
                if let open = stringStart {
                    diagnostics.append(Diagnostic("unclosed string literal", at: location(open.line, open.column)))
                    return skip(from: line)
                }
                let next = line + 1
                if next >= lines.count || isBlank(next) || Self.directiveName(in: lines[next]) != nil {
                    let open = stack.last!
                    diagnostics.append(Diagnostic("unclosed '\(open.bracket)' opened here",
                                                  at: location(open.line, open.column)))
                    return next
                }
                line = next
                column = 0
                continue
            }
            let c = lines[line][column]
            if stringStart != nil {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    stringStart = nil
                }
            } else if c == "\"" {
                stringStart = (line, column)
            } else if c == "(" || c == "[" || c == "{" {
                stack.append((c, line, column))
            } else if let opener = closers[c] {
                if stack.last?.bracket == opener {
                    stack.removeLast()
                    if stack.isEmpty { return finish(name: name, at: at, startLine: start, closeLine: line, closeColumn: column) }
                } else if stack.contains(where: { $0.bracket == opener }), let top = stack.last {
                    diagnostics.append(Diagnostic("unclosed '\(top.bracket)' opened here",
                                                  at: location(top.line, top.column)))
                    return skip(from: line)
                } else {
                    diagnostics.append(Diagnostic("unexpected '\(c)' with no matching '\(opener)'",
                                                  at: location(line, column)))
                    return skip(from: line)
                }
            }
            column += 1
        }
    }

    func isBlank(_ index: Int) -> Bool {
        lines[index].allSatisfy { $0 == " " || $0 == "\t" }
    }

    func text(_ line: Int, from: Int, to: Int) -> String {
        String(String.UnicodeScalarView(lines[line][from..<to]))
    }

    /// Emits the directive closed at (`closeLine`, `closeColumn`) and reads its body if the rest
    /// of that line is `{`.
    mutating func finish(name: String, at: SourceLocation, startLine: Int, closeLine: Int, closeColumn: Int) -> Int {
        let openColumn = name.unicodeScalars.count + 1
        var sourceLines: [String] = []
        var argumentLines: [String] = []
        for line in startLine...closeLine {
            let to = line == closeLine ? closeColumn + 1 : lines[line].count
            sourceLines.append(text(line, from: 0, to: to))
            let argumentFrom = line == startLine ? openColumn + 1 : 0
            let argumentTo = line == closeLine ? closeColumn : lines[line].count
            argumentLines.append(text(line, from: argumentFrom, to: max(argumentFrom, argumentTo)))
        }
        var raw = RawDirective(name: name, arguments: argumentLines.joined(separator: "\n"), location: at,
                               source: sourceLines.joined(separator: "\n"), lastLine: closeLine + 1)
        let rest = lines[closeLine][(closeColumn + 1)...]
        let restText = String(String.UnicodeScalarView(rest)).trimmingWhitespace
        var next = closeLine + 1
        if restText == "{" {
            let braceColumn = rest.firstIndex(of: "{")!
            var end = next
            while end < lines.count, String(String.UnicodeScalarView(lines[end])).trimmingTrailingWhitespace != "}" {
                end += 1
            }
            if end < lines.count {
                raw.body = (next..<end).map { String(String.UnicodeScalarView(lines[$0])) }.joined(separator: "\n")
                raw.bodyLocation = location(next, 0)
                raw.lastLine = end + 1
                next = end + 1
            } else {
                diagnostics.append(Diagnostic("unclosed '{' opened here: a directive's body ends at a line that is exactly '}'",
                                              at: location(closeLine, braceColumn)))
            }
        } else if !restText.isEmpty {
            let column = rest.firstIndex { $0 != " " && $0 != "\t" }!
            diagnostics.append(Diagnostic("unexpected text after the directive; a body starts with ' {' at the end of the line",
                                          at: location(closeLine, column)))
        }
        segments.append(.directive(raw))
        return next
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }

    var trimmingTrailingWhitespace: String {
        let scalars = unicodeScalars
        guard let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[...last])
    }
}
