/// Finds the references in a chapter's prose (Markdown runs and directive bodies) that the book
/// checks: cross-references `@fig:x` / `@tab:x` / `@sec:x`, citations `[@key]` (also
/// `[@a; @b]`), inline values `{{metric:target}}` and heading labels `{#sec:x}`.
///
/// Code is skipped: fenced blocks, indented blocks (four spaces or a tab after a blank line) and
/// code spans. An `@` right after a letter or digit (an e-mail address) is not a reference.
struct ProseScanner {
    struct Occurrence: Sendable, Hashable {
        var text: String
        var location: SourceLocation
    }

    var crossReferences: [Occurrence] = []
    var citations: [Occurrence] = []
    /// The text between `{{` and `}}`, trimmed.
    var inlineValues: [Occurrence] = []
    /// `sec:x` of headings ending in `{#sec:x}`, located at the `{`.
    var headingLabels: [Occurrence] = []
    var diagnostics: [Diagnostic] = []

    static let crossReferencePrefixes = ["fig:", "tab:", "sec:"]

    /// Scans `text` whose first line is line `firstLine` of `file`; `headings` says whether `#`
    /// lines are headings (false inside directive bodies).
    mutating func scan(_ text: String, file: String, firstLine: Int, headings: Bool) {
        var fence: (marker: Character, length: Int)?
        var previousBlank = true
        var inIndentedCode = false
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let scalars = Array(line.unicodeScalars)
            let lineNumber = firstLine + offset
            let blank = scalars.allSatisfy { $0 == " " || $0 == "\t" }
            defer { previousBlank = blank }
            if let marker = Self.fenceMarker(line) {
                if let open = fence {
                    if marker.marker == open.marker, marker.length >= open.length { fence = nil }
                } else {
                    fence = marker
                }
                continue
            }
            if fence != nil { continue }
            let indented = line.hasPrefix("    ") || line.hasPrefix("\t")
            if blank { continue }
            if indented, previousBlank || inIndentedCode {
                inIndentedCode = true
                continue
            }
            inIndentedCode = false
            if headings { scanHeading(scalars, file: file, line: lineNumber) }
            scanInline(scalars, file: file, line: lineNumber)
        }
    }

    static func fenceMarker(_ line: Substring) -> (marker: Character, length: Int)? {
        let trimmed = line.drop { $0 == " " }
        guard line.count - trimmed.count <= 3, let first = trimmed.first, first == "`" || first == "~" else { return nil }
        let length = trimmed.prefix { $0 == first }.count
        return length >= 3 ? (first, length) : nil
    }

    private mutating func scanHeading(_ line: [Unicode.Scalar], file: String, line number: Int) {
        guard line.first == "#" else { return }
        let text = String(String.UnicodeScalarView(line)).trimmingTrailingWhitespace
        guard text.hasSuffix("}"), let open = text.unicodeScalars.lastIndex(of: "{") else { return }
        let attribute = String(text.unicodeScalars[open...])
        guard attribute.hasPrefix("{#") else { return }
        let column = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: open) + 1
        let label = String(attribute.dropFirst(2).dropLast())
        let location = SourceLocation(file: file, line: number, column: column)
        let name = label.hasPrefix("sec:") ? label.dropFirst(4) : ""
        if name.isEmpty || !name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) {
            diagnostics.append(Diagnostic("heading label '{#\(label)}' must look like '{#sec:name}' (lower-case letters, digits and '-')",
                                          at: location))
            return
        }
        headingLabels.append(Occurrence(text: label, location: location))
    }

    private mutating func scanInline(_ line: [Unicode.Scalar], file: String, line number: Int) {
        func at(_ index: Int) -> SourceLocation { SourceLocation(file: file, line: number, column: index + 1) }
        func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s))
        }
        func isKeyScalar(_ s: Unicode.Scalar) -> Bool { isWordScalar(s) || s == "-" || s == "_" || s == ":" }

        var index = 0
        var inCitation = false
        while index < line.count {
            let c = line[index]
            if c == "`" {
                // A code span: skip to a backtick run of the same length (or the end of the line).
                var run = 0
                while index + run < line.count, line[index + run] == "`" { run += 1 }
                var probe = index + run
                var closed = false
                while probe < line.count {
                    if line[probe] == "`" {
                        var other = 0
                        while probe + other < line.count, line[probe + other] == "`" { other += 1 }
                        if other == run { closed = true; probe += other; break }
                        probe += other
                    } else {
                        probe += 1
                    }
                }
                index = closed ? probe : index + run
                continue
            }
            if c == "{", index + 1 < line.count, line[index + 1] == "{" {
                var end = index + 2
                while end + 1 < line.count, !(line[end] == "}" && line[end + 1] == "}") { end += 1 }
                guard end + 1 < line.count else {
                    diagnostics.append(Diagnostic("unclosed '{{': an inline value is '{{metric:target}}' on one line",
                                                  at: at(index)))
                    return
                }
                let content = String(String.UnicodeScalarView(line[(index + 2)..<end])).trimmingWhitespace
                inlineValues.append(Occurrence(text: content, location: at(index)))
                index = end + 2
                continue
            }
            if c == "[", index + 1 < line.count, line[index + 1] == "@" {
                inCitation = true
                index += 1
                continue
            }
            if c == "]" { inCitation = false }
            if c == "@", index == 0 || !isWordScalar(line[index - 1]) {
                var end = index + 1
                while end < line.count, isKeyScalar(line[end]) { end += 1 }
                // A sentence may end right after a reference: "see @fig:x." or "@fig:x:".
                while end > index + 1, line[end - 1] == ":" || line[end - 1] == "-" { end -= 1 }
                let token = String(String.UnicodeScalarView(line[(index + 1)..<end]))
                if Self.crossReferencePrefixes.contains(where: token.hasPrefix) {
                    crossReferences.append(Occurrence(text: token, location: at(index)))
                } else if inCitation, !token.isEmpty {
                    citations.append(Occurrence(text: token, location: at(index)))
                } else if let colon = token.firstIndex(of: ":"), token.first.map({ $0.isLowercase }) ?? false {
                    let prefix = String(token[...colon])
                    diagnostics.append(Diagnostic(
                        "unknown cross-reference '@\(token)': references start with @fig:, @tab: or @sec:",
                        at: at(index), suggesting: prefix, from: Self.crossReferencePrefixes, quote: { "'@\($0)'" }))
                }
                index = max(end, index + 1)
                continue
            }
            index += 1
        }
    }
}
