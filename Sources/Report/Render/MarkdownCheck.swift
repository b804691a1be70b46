/// What the renderers will find in a run of chapter Markdown, for checking chapters before any
/// experiment runs: math outside the TeX subset and unknown citation keys (as diagnostics with
/// `file:line:column`), the cross-references used and the section labels defined.
///
/// ```swift
/// let check = MarkdownCheck(text, origin: SourceLocation(file: "chapters/02-failure.md", line: 14, column: 1))
/// diagnostics += check.diagnostics
/// ```
public struct MarkdownCheck: Sendable {
    /// A `@fig:x` / `@tab:x` / `@sec:x` reference and where it is.
    public struct Reference: Sendable, Hashable {
        /// The id after `@`, e.g. `fig:roc`.
        public var id: String
        /// Where the reference is written.
        public var location: SourceLocation?
    }

    /// Bad formulas, unknown citation keys, bad heading attributes.
    public private(set) var diagnostics: [RenderDiagnostic]
    /// Every cross-reference, in order.
    public private(set) var references: [Reference]
    /// The `{#sec:…}` labels of headings in the text.
    public private(set) var sectionLabels: [String]

    /// Parses `markdown` as the renderers do.
    ///
    /// - Parameters:
    ///   - markdown: the text (inline values already substituted or not: `{{…}}` is plain text here).
    ///   - origin: the file, the line of the text's first line and the column of its first character.
    public init(_ markdown: String, origin: SourceLocation) {
        var parser = MarkdownParser(origin: origin)
        let blocks = parser.parseBlocks(markdown)
        diagnostics = parser.diagnostics
        references = parser.references.map { Reference(id: $0.id, location: $0.location) }
        sectionLabels = blocks.compactMap { block in
            if case .heading(let heading) = block { return heading.label }
            return nil
        }
    }
}
