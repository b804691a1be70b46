import Plot

/// A place in a chapter: the file as written in diagnostics (`chapters/02-failure.md`),
/// 1-based line and 1-based column counted in Unicode scalars.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// Where a figure or table came from, shown on hover (HTML) so a reader can trace every number.
public struct Provenance: Sendable, Hashable {
    /// The directive's source text, verbatim.
    public var directive: String
    public var location: SourceLocation
    /// The cache key of the node that produced it (hex SHA-256).
    public var cacheKey: String
    /// The seeds involved, if any.
    public var seeds: [Int]
    /// The code version of the node kind (`Experiments.codeVersion`).
    public var codeVersion: String

    public init(directive: String, location: SourceLocation, cacheKey: String, seeds: [Int], codeVersion: String) {
        self.directive = directive
        self.location = location
        self.cacheKey = cacheKey
        self.seeds = seeds
        self.codeVersion = codeVersion
    }
}

/// A rendered figure: the drawing (vector, drawn directly onto PDF pages), its caption, files
/// that already exist for it (copied into the report's `figures/`), and the formats the report
/// writer draws it in.
public struct FigureBlock: Sendable {
    /// File formats the writer can draw a figure in.
    public enum Format: String, Sendable, CaseIterable {
        /// 300 dpi.
        case png, svg, pdf
    }

    /// "fig:name".
    public var id: String
    public var figure: Figure
    /// Caption as Markdown (inline constructs and math only).
    public var caption: String
    /// Existing files by extension ("png", "svg", "pdf"): absolute or project-relative paths.
    public var files: [String: String]
    /// Formats the writer draws into the report's `figures/` as `fig-name.<ext>` (the id with
    /// ':' replaced by '-'), besides `files`; `ReportWriter` can publish them to the project.
    public var formats: [Format]
    public var provenance: Provenance

    public init(id: String, figure: Figure, caption: String, files: [String: String] = [:], formats: [Format] = [],
                provenance: Provenance) {
        self.id = id
        self.figure = figure
        self.caption = caption
        self.files = files
        self.formats = formats
        self.provenance = provenance
    }
}

/// A rendered table. Cells are inline Markdown (emphasis, code, math); `notes` holds an optional
/// hover text per cell (e.g. the bootstrap CI), same shape as `rows` or empty.
public struct TableBlock: Sendable {
    /// "tab:name".
    public var id: String
    public var header: [String]
    public var rows: [[String]]
    public var notes: [[String]]
    /// Column alignment: true = right-aligned (numbers).
    public var numeric: [Bool]
    public var caption: String
    public var provenance: Provenance

    public init(id: String, header: [String], rows: [[String]], notes: [[String]] = [], numeric: [Bool],
                caption: String, provenance: Provenance) {
        self.id = id
        self.header = header
        self.rows = rows
        self.notes = notes
        self.numeric = numeric
        self.caption = caption
        self.provenance = provenance
    }
}

/// One piece of a chapter in reading order.
public enum Block: Sendable {
    /// Markdown with inline values already substituted. `line` is the first source line.
    case markdown(String, line: Int)
    case figure(FigureBlock)
    case table(TableBlock)
    /// A claim's verdict box: the claim, the verdict and the comment (Markdown).
    case claim(ClaimBlock)
}

/// The verdict on a claim, computed from our numbers and their uncertainty.
public enum ClaimVerdict: String, Sendable, CaseIterable {
    /// The expectation holds, by more than the uncertainty of the numbers.
    case reproduced
    /// The expectation fails, by more than the uncertainty of the numbers.
    case notReproduced = "not-reproduced"
    /// The difference is within the uncertainty (about two standard errors): our runs cannot tell.
    case inconclusive
    /// A qualitative claim, shown by a figure and not reduced to a number.
    case qualitative

    /// "Reproduced", "Not reproduced", "Inconclusive", "Qualitative".
    public var title: String {
        switch self {
        case .reproduced: "Reproduced"
        case .notReproduced: "Not reproduced"
        case .inconclusive: "Inconclusive"
        case .qualitative: "Qualitative"
        }
    }

    /// "✓", "✗", "≈", "◇".
    public var mark: String {
        switch self {
        case .reproduced: "✓"
        case .notReproduced: "✗"
        case .inconclusive: "≈"
        case .qualitative: "◇"
        }
    }
}

/// A claim checked against our numbers (`@Claim`).
public struct ClaimBlock: Sendable {
    public var id: String
    /// "Kirichenko et al. 2020" or "LDE".
    public var paper: String
    public var text: String
    /// Where the paper shows it, as written in the chapter ("Figure 1a (ImageNet vs CelebA)"); may be empty.
    public var paperEvidence: String
    /// "Figure 3" style reference id of the evidence (`fig:` / `tab:`).
    public var evidence: String
    /// Our number and what was expected, as prose: "AUROC 0.31 < 0.5".
    public var check: String
    public var verdict: ClaimVerdict
    public var comment: String
    /// Where the numbers behind the verdict come from (nil for a hand-made document).
    public var provenance: Provenance?

    public init(id: String, paper: String, text: String, paperEvidence: String = "", evidence: String, check: String,
                verdict: ClaimVerdict, comment: String, provenance: Provenance? = nil) {
        self.id = id
        self.paper = paper
        self.text = text
        self.paperEvidence = paperEvidence
        self.evidence = evidence
        self.check = check
        self.verdict = verdict
        self.comment = comment
        self.provenance = provenance
    }
}

/// One chapter file.
public struct ChapterDocument: Sendable {
    /// Path as written in diagnostics, e.g. "chapters/02-failure.md".
    public var file: String
    public var blocks: [Block]

    public init(file: String, blocks: [Block]) {
        self.file = file
        self.blocks = blocks
    }
}

/// Everything the HTML and PDF renderers need; no experiment code runs after this exists.
public struct ReportDocument: Sendable {
    public var title: String
    public var subtitle: String?
    public var authors: String?
    /// Markdown.
    public var abstract: String
    /// "paper" or "smoke"; printed on the title page.
    public var profile: String
    /// e.g. "flowood 0.1.0 (git abc1234)"; no dates (outputs are deterministic).
    public var generator: String
    public var chapters: [ChapterDocument]

    public init(title: String, subtitle: String?, authors: String?, abstract: String, profile: String,
                generator: String, chapters: [ChapterDocument]) {
        self.title = title
        self.subtitle = subtitle
        self.authors = authors
        self.abstract = abstract
        self.profile = profile
        self.generator = generator
        self.chapters = chapters
    }
}
