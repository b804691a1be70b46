/// A problem in a chapter, reported at a file:line:column and rendered like a compiler error:
///
/// ```
/// chapters/02-failure.md:41:23: error: unknown argument 'epoch' for @Train
/// @Train(id: "flow", epoch: 3)
///                    ^
/// note: did you mean 'epochs'?
/// ```
///
/// Diagnostics are collected across all chapters and reported together (nothing is thrown one
/// at a time); ``Book/load(directory:)`` sorts them by location and fills in the source lines.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Extra information under an error: a suggestion (no location) or a second place in the
    /// book (for example where a duplicate id was first defined).
    public struct Note: Sendable, Hashable {
        public var message: String
        public var location: SourceLocation?
        /// The text of the note's line, filled in by the book (nil until then).
        public var sourceLine: String?

        public init(_ message: String, at location: SourceLocation? = nil) {
            self.message = message
            self.location = location
        }
    }

    public var location: SourceLocation
    public var message: String
    public var notes: [Note]
    /// The text of the line at `location`, filled in by the book; without it only the first
    /// line of the rendering is printed.
    public var sourceLine: String?

    public init(_ message: String, at location: SourceLocation, notes: [Note] = []) {
        self.message = message
        self.location = location
        self.notes = notes
    }

    /// An error with a "did you mean" note when `name` is within edit distance 2 of a candidate.
    public init(_ message: String, at location: SourceLocation, suggesting name: String,
                from candidates: some Sequence<String>, quote: (String) -> String = { "'\($0)'" }) {
        self.init(message, at: location)
        if let match = closestMatch(to: name, in: candidates) {
            notes.append(Note("did you mean \(quote(match))?"))
        }
    }

    /// The full rendering: the error line, the source line and a caret under the column, then
    /// the notes (a located note gets its own source line and caret).
    public var description: String {
        var lines = ["\(location): error: \(message)"]
        if let sourceLine {
            lines.append(sourceLine)
            lines.append(Self.caret(under: location.column, in: sourceLine))
        }
        for note in notes {
            if let at = note.location {
                lines.append("\(at): note: \(note.message)")
                if let line = note.sourceLine {
                    lines.append(line)
                    lines.append(Self.caret(under: at.column, in: line))
                }
            } else {
                lines.append("note: \(note.message)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Spaces up to `column` (tabs copied so the caret lines up in a terminal), then `^`.
    static func caret(under column: Int, in line: String) -> String {
        var prefix = ""
        for (index, scalar) in line.unicodeScalars.enumerated() where index < column - 1 {
            prefix.unicodeScalars.append(scalar == "\t" ? "\t" : " ")
        }
        let missing = max(0, column - 1 - line.unicodeScalars.count)
        return prefix + String(repeating: " ", count: missing) + "^"
    }

    /// Sets `sourceLine` of the diagnostic and its located notes from the chapter texts, keyed by
    /// file as written in locations.
    mutating func attachSourceLines(from files: [String: [String]]) {
        func line(_ at: SourceLocation) -> String? {
            guard let lines = files[at.file], at.line >= 1, at.line <= lines.count else { return nil }
            return lines[at.line - 1]
        }
        sourceLine = line(location)
        for index in notes.indices {
            if let at = notes[index].location { notes[index].sourceLine = line(at) }
        }
    }
}

extension Array where Element == Diagnostic {
    /// Sorted by location (file, line, column), then message, so the report reads top to bottom.
    func sortedByLocation() -> [Diagnostic] {
        sorted { ($0.location, $0.message) < ($1.location, $1.message) }
    }
}

/// The candidate closest to `name` by edit distance (case-insensitive), if that distance is at
/// most 2 and the candidate differs from `name`; ties go to the earlier candidate.
func closestMatch(to name: String, in candidates: some Sequence<String>) -> String? {
    var best: (candidate: String, distance: Int)?
    let lowered = name.lowercased()
    for candidate in candidates where candidate != name {
        let distance = editDistance(lowered, candidate.lowercased())
        if distance <= 2, distance < (best?.distance ?? Int.max) {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Levenshtein distance (insertions, deletions, substitutions) over Unicode scalars.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
