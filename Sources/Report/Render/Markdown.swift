/// The renderers' own Markdown tree: the subset the chapters use, with math, cross-references
/// and citations recognised. Built by ``MarkdownParser`` from cmark-gfm's tree.

/// A formula: its TeX source and parsed tree.
struct Formula: Sendable {
    var source: String
    var node: MathNode
    /// `$$…$$`.
    var display: Bool
}

/// Inline content.
indirect enum Inline: Sendable {
    case text(String)
    case emphasis([Inline])
    case strong([Inline])
    case code(String)
    case link(url: String, title: String, [Inline])
    case softBreak
    case lineBreak
    case math(Formula)
    /// `@fig:x`, `@tab:x`, `@sec:x`: the id.
    case reference(String)
    /// `[@a; @b]` (parenthetical) or a bare `@a` (narrative, "Kirichenko et al. (2020)").
    case citation([String], narrative: Bool)
}

/// Column alignment in a Markdown table.
enum ColumnAlignment: Sendable {
    case none, left, center, right
}

/// A heading as written: `## Text {#sec:label}` or `# Abstract {-}`.
struct MarkdownHeading: Sendable {
    /// 1 for `#`, 2 for `##`, …
    var level: Int
    var content: [Inline]
    /// The `{#sec:…}` label, if any.
    var label: String?
    /// False for `{-}` / `{.unnumbered}`.
    var numbered: Bool
}

/// Block content.
indirect enum MarkdownBlock: Sendable {
    case paragraph([Inline])
    case heading(MarkdownHeading)
    case code(language: String, text: String)
    case math(Formula)
    /// Items are lists of blocks; `start` is the first number of an ordered list.
    case list(ordered: Bool, start: Int, tight: Bool, items: [[MarkdownBlock]])
    case quote([MarkdownBlock])
    case table(alignments: [ColumnAlignment], header: [[Inline]], rows: [[[Inline]]])
    case rule
}

extension Array where Element == Inline {
    /// The text without markup (for alt texts, PDF bookmarks, running heads).
    func plainText(resolve: (String) -> String = { $0 }, cite: ([String], Bool) -> String = { keys, _ in keys.joined(separator: "; ") }) -> String {
        var out = ""
        for inline in self {
            switch inline {
            case .text(let s), .code(let s): out += s
            case .emphasis(let c), .strong(let c), .link(_, _, let c): out += c.plainText(resolve: resolve, cite: cite)
            case .softBreak, .lineBreak: out += " "
            case .math(let f): out += f.source
            case .reference(let id): out += resolve(id)
            case .citation(let keys, let narrative): out += cite(keys, narrative)
            }
        }
        return out
    }
}
