/// One problem found while preparing a document for rendering (bad math, an unknown reference
/// or citation), with the chapter location when it is known.
public struct RenderDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// What kind of text the problem is in (the chapter checker reports citations itself).
    public enum Kind: Sendable, Hashable {
        case math, citation, markup
    }

    /// Where the problem is; nil for text without a source position (e.g. the abstract).
    public var location: SourceLocation?
    /// What is wrong.
    public var message: String
    public var kind: Kind
    /// A close valid name for an unknown one (e.g. `\\alpha` for `\\alpah`), shown as "did you mean".
    public var suggestion: String?

    /// A diagnostic at `location` (nil when the text has no source position).
    public init(location: SourceLocation?, message: String, kind: Kind = .markup, suggestion: String? = nil) {
        self.location = location
        self.message = message
        self.kind = kind
        self.suggestion = suggestion
    }

    /// `chapters/02-failure.md:41:23: error: unknown command \foo; did you mean '\fo'?`.
    public var description: String {
        let text = message + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        if let location { return "\(location): error: \(text)" }
        return "error: \(text)"
    }

    /// The same problem as a chapter ``Diagnostic`` (the suggestion becomes a note), or nil
    /// without a location.
    var chapterDiagnostic: Diagnostic? {
        guard let location else { return nil }
        return Diagnostic(message, at: location, notes: suggestion.map { [.init("did you mean '\($0)'?")] } ?? [])
    }
}

/// Why a report could not be rendered or written.
public enum RenderError: Error, Sendable, CustomStringConvertible {
    /// Problems in the document's Markdown, all of them, in reading order.
    case invalidDocument([RenderDiagnostic])
    /// A figure could not be drawn or its file could not be used.
    case figure(id: String, reason: String)
    /// Cairo reported an error while producing the PDF.
    case cairo(String)
    /// A file or directory could not be written.
    case write(path: String, reason: String)

    /// One `error:` line per problem (diagnostics carry `file:line:column`).
    public var description: String {
        switch self {
        case .invalidDocument(let diagnostics):
            diagnostics.map(\.description).joined(separator: "\n")
        case .figure(let id, let reason):
            "error: figure \(id): \(reason)"
        case .cairo(let reason):
            "error: PDF rendering failed: \(reason)"
        case .write(let path, let reason):
            "error: cannot write \(path): \(reason)"
        }
    }
}
