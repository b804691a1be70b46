/// The report's TeX math subset: parsing, validation and conversion to MathML (HTML) and to
/// Pango markup (inline math in the PDF). Display math in the PDF is laid out as boxes from the
/// same tree (``MathNode``), see `PDFMath.swift`.
///
/// Supported (docs/report-design.md): letters, digits, `\alpha`…`\omega` (with `\varepsilon`,
/// `\vartheta`, `\varphi`, `\varrho`, `\varsigma`, `\varpi`), `\Alpha`…`\Omega`, operators
/// (`+ - * / = < > , ; : ! ' | ( ) [ ]`, `\sum \prod \int \log \exp \partial \nabla \infty \le \ge
/// \ne \approx \sim \cdot \times \in \mapsto \to \odot` and a few neighbours such as `\leq \pm
/// \ldots \min \max \arg`), `\mathbb{..}` `\mathcal{..}` `\mathrm{..}` `\mathbf{..}`
/// `\boldsymbol{..}` `\operatorname{..}`, `\frac{a}{b}`, `\sqrt{..}`, `_`, `^`, `{}` groups,
/// `\left( … \right)` with `( ) [ ] \{ \} | \| \langle \rangle .`, `\text{..}`, accents `\hat
/// \bar \tilde`, spacing `\, \: \; \! \quad \qquad ~`.
/// Deviation from TeX: no alignment (`&`, `\\`), no optional root index, no macros.
///
/// ```swift
/// try TeXMath.validate(#"\log p(\mathbf{x}) = \log p_Z(z) + \log\left|\det J\right|"#)
/// let html = try TeXMath.mathML(#"\frac{1}{2}"#, display: true)
/// ```
public enum TeXMath {
    /// Parses `tex` and throws for anything outside the subset.
    ///
    /// - Throws: ``TeXMathError`` with the offset (in Unicode scalars from the start of `tex`) of
    ///   the offending command or character, so a caller can report `file:line:column`.
    public static func validate(_ tex: String) throws {
        _ = try parse(tex)
    }

    /// MathML for `tex`: `<math display="block|inline">` with a `semantics` element whose
    /// annotation keeps the TeX source.
    ///
    /// - Parameters:
    ///   - tex: the formula (without `$` delimiters).
    ///   - display: true for display math (`$$…$$`).
    /// - Throws: ``TeXMathError``.
    public static func mathML(_ tex: String, display: Bool) throws -> String {
        MathMLWriter.math(try parse(tex), source: tex, display: display)
    }

    /// Pango markup for `tex` set inline in running text of `size` points: math italic letters,
    /// sub- and superscripts as raised spans, fractions as `a/b`, roots as `√` with an overline.
    /// The result is one `<span>` that forbids line breaks inside the formula.
    ///
    /// - Parameters:
    ///   - tex: the formula.
    ///   - size: the size of the surrounding text in points (scripts are 70 % / 50 % of it).
    /// - Throws: ``TeXMathError``.
    public static func pangoMarkup(_ tex: String, size: Double) throws -> String {
        PangoMathWriter.markup(try parse(tex), size: size)
    }

    /// Parses `tex` into a row of math nodes.
    static func parse(_ tex: String) throws -> MathNode {
        var parser = TeXParser(tex)
        return try parser.parseFormula()
    }
}

/// A formula outside the supported TeX subset.
public struct TeXMathError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Offset of the problem in Unicode scalars from the start of the formula (0-based).
    public var offset: Int
    /// What is wrong, e.g. "unknown command \\foo".
    public var message: String
    /// For an unknown command, the closest supported one (edit distance ≤ 2), e.g. `\\alpha`.
    public var suggestion: String?

    /// An error at `offset` (Unicode scalars from the formula's start).
    public init(offset: Int, message: String, suggestion: String? = nil) {
        self.offset = offset
        self.message = message
        self.suggestion = suggestion
    }

    /// "unknown command \\foo (at offset 4)".
    public var description: String { "\(message) (at offset \(offset))" }
}

// MARK: - The tree

/// TeX's atom classes, which decide the spacing between neighbours.
enum MathClass: Sendable, Hashable {
    case ord, op, bin, rel, open, close, punct
}

/// How letters are drawn.
enum MathStyle: Sendable, Hashable {
    /// Math italic (TeX's default for Latin and lowercase Greek letters).
    case italic
    /// Upright (`\mathrm`, uppercase Greek, operator names).
    case upright
    /// Bold upright (`\mathbf`).
    case bold
    /// Bold italic (`\boldsymbol`).
    case boldItalic
    /// Double-struck (`\mathbb`).
    case doubleStruck
    /// Script (`\mathcal`).
    case script
}

/// A parsed formula.
indirect enum MathNode: Sendable, Hashable {
    /// Letters: one letter normally; a run of upright letters from `\mathrm{..}` is merged.
    case identifier(String, MathStyle)
    /// Digits and decimal points.
    case number(String)
    /// An operator or other symbol with its class (`+` bin, `=` rel, `(` open, `∞` ord, …).
    case symbol(String, MathClass)
    /// `\sum`, `\prod`, `\int`: large operators; `limits` puts scripts above and below in display.
    case largeOperator(String, limits: Bool)
    /// An upright operator name: `\log`, `\operatorname{..}`; `limits` for `\min`, `\max`, ….
    case function(String, limits: Bool)
    case row([MathNode])
    case fraction(MathNode, MathNode)
    case root(MathNode)
    case scripts(base: MathNode, sub: MathNode?, sup: MathNode?)
    /// `\left … \right`; an empty delimiter is `.`.
    case fenced(open: String, close: String, MathNode)
    /// `\text{..}` in the body font.
    case text(String)
    /// Horizontal space in em (may be negative).
    case space(Double)
    /// An accent over its base (`\hat` → "^").
    case accent(MathNode, String)

    /// The class that decides spacing around this node.
    var mathClass: MathClass {
        switch self {
        case .symbol(_, let c): c
        case .largeOperator, .function: .op
        case .scripts(let base, _, _): base.mathClass == .op ? .op : (base.mathClass == .close ? .close : .ord)
        case .fenced: .ord
        default: .ord
        }
    }

    /// True for a node that reads as one unit (no brackets needed around it in `a/b`).
    var isSimple: Bool {
        switch self {
        case .identifier, .number, .fenced, .text: true
        case .symbol(_, let c): c == .ord
        case .scripts(let base, _, _): base.isSimple
        case .accent(let base, _): base.isSimple
        case .row(let nodes): nodes.count == 1 && nodes[0].isSimple
        case .root, .function, .largeOperator: false
        case .fraction, .space: false
        }
    }
}

// MARK: - Vocabulary

enum TeXVocabulary {
    /// Greek letters: command → (character, italic by default).
    static let greek: [String: (String, Bool)] = {
        var table: [String: (String, Bool)] = [:]
        let lower = ["alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
                     "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
                     "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "omicron": "ο", "pi": "π", "varpi": "ϖ",
                     "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ",
                     "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω"]
        for (name, char) in lower { table[name] = (char, true) }
        let upper = ["Alpha": "Α", "Beta": "Β", "Gamma": "Γ", "Delta": "Δ", "Epsilon": "Ε", "Zeta": "Ζ",
                     "Eta": "Η", "Theta": "Θ", "Iota": "Ι", "Kappa": "Κ", "Lambda": "Λ", "Mu": "Μ", "Nu": "Ν",
                     "Xi": "Ξ", "Omicron": "Ο", "Pi": "Π", "Rho": "Ρ", "Sigma": "Σ", "Tau": "Τ",
                     "Upsilon": "Υ", "Phi": "Φ", "Chi": "Χ", "Psi": "Ψ", "Omega": "Ω"]
        for (name, char) in upper { table[name] = (char, false) }
        return table
    }()

    /// Symbol commands: command → (character, class).
    static let symbols: [String: (String, MathClass)] = [
        // relations
        "le": ("≤", .rel), "leq": ("≤", .rel), "ge": ("≥", .rel), "geq": ("≥", .rel), "ne": ("≠", .rel),
        "neq": ("≠", .rel), "approx": ("≈", .rel), "sim": ("∼", .rel), "in": ("∈", .rel), "notin": ("∉", .rel),
        "mapsto": ("↦", .rel), "to": ("→", .rel), "rightarrow": ("→", .rel), "leftarrow": ("←", .rel),
        "Rightarrow": ("⇒", .rel), "equiv": ("≡", .rel), "propto": ("∝", .rel), "subset": ("⊂", .rel),
        "subseteq": ("⊆", .rel), "ll": ("≪", .rel), "gg": ("≫", .rel), "mid": ("∣", .rel),
        // binary operators
        "cdot": ("⋅", .bin), "times": ("×", .bin), "odot": ("⊙", .bin), "pm": ("±", .bin), "mp": ("∓", .bin),
        "circ": ("∘", .bin), "cup": ("∪", .bin), "cap": ("∩", .bin), "oplus": ("⊕", .bin), "otimes": ("⊗", .bin),
        // ordinary symbols
        "partial": ("∂", .ord), "nabla": ("∇", .ord), "infty": ("∞", .ord), "ldots": ("…", .ord),
        "cdots": ("⋯", .ord), "dots": ("…", .ord), "forall": ("∀", .ord), "exists": ("∃", .ord),
        "emptyset": ("∅", .ord), "top": ("⊤", .ord), "ell": ("ℓ", .ord), "prime": ("′", .ord),
        // delimiters usable without \left
        "langle": ("⟨", .open), "rangle": ("⟩", .close), "lvert": ("|", .open), "rvert": ("|", .close),
        "lVert": ("‖", .open), "rVert": ("‖", .close), "lfloor": ("⌊", .open), "rfloor": ("⌋", .close),
        "lceil": ("⌈", .open), "rceil": ("⌉", .close),
    ]

    /// Large operators: command → (character, limits above/below in display).
    static let largeOperators: [String: (String, Bool)] = [
        "sum": ("∑", true), "prod": ("∏", true), "int": ("∫", false),
    ]

    /// Operator names set upright; the Bool is "limits in display" (`\min_x`).
    static let functions: [String: Bool] = [
        "log": false, "exp": false, "ln": false, "sin": false, "cos": false, "tan": false, "tanh": false,
        "det": false, "dim": false, "arg": false, "Pr": true, "min": true, "max": true, "sup": true,
        "inf": true, "lim": true,
    ]

    /// Spacing commands in em.
    static let spaces: [String: Double] = [
        ",": 3.0 / 18, ":": 4.0 / 18, ";": 5.0 / 18, "!": -3.0 / 18, " ": 0.25, "quad": 1, "qquad": 2,
    ]

    /// Accents: command → the accent character.
    static let accents: [String: String] = ["hat": "^", "bar": "¯", "tilde": "~"]

    /// Font commands: command → the style of the letters inside.
    static let styles: [String: MathStyle] = [
        "mathbb": .doubleStruck, "mathcal": .script, "mathrm": .upright, "mathbf": .bold,
        "boldsymbol": .boldItalic, "mathit": .italic,
    ]

    /// Single plain characters as operators.
    static func plainSymbol(_ c: Unicode.Scalar) -> (String, MathClass)? {
        switch c {
        case "+": ("+", .bin)
        case "-": ("−", .bin)
        case "*": ("∗", .bin)
        case "=", "<", ">", ":": (String(c), .rel)
        case ",", ";": (String(c), .punct)
        case "(", "[": (String(c), .open)
        case ")", "]": (String(c), .close)
        case "|": ("|", .ord)
        case "/", "!", "?", ".": (String(c), .ord)
        case "'": ("′", .ord)
        default: nil
        }
    }

    /// Delimiters after `\left` / `\right` given as single characters.
    static func delimiter(_ c: Unicode.Scalar) -> String? {
        switch c {
        case "(", ")", "[", "]", "|", "/": String(c)
        case ".": ""
        default: nil
        }
    }

    /// Every command that may stand anywhere in a formula (for "did you mean" suggestions),
    /// sorted so that ties between equally close names are broken the same way on every run.
    static let commandNames: [String] = {
        var names = Set(greek.keys).union(symbols.keys).union(largeOperators.keys).union(functions.keys)
            .union(spaces.keys).union(accents.keys).union(styles.keys)
        names.formUnion(["frac", "dfrac", "tfrac", "sqrt", "text", "textrm", "mbox", "operatorname", "left"])
        return names.filter { $0.unicodeScalars.allSatisfy { $0.properties.isAlphabetic } }.sorted()
    }()

    /// The supported command closest to `name` by edit distance (case-sensitive: `\\Alpha` and
    /// `\\alpha` differ), if at most 2 and less than half of `name`'s length (so `\\nope` does
    /// not suggest `\\ne`); ties go to the alphabetically first.
    static func closestCommand(to name: String) -> String? {
        let limit = min(2, (name.unicodeScalars.count - 1) / 2)
        var best: (name: String, distance: Int)?
        for candidate in commandNames where candidate != name {
            let distance = editDistance(name, candidate)
            if distance <= limit, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.name
    }

    /// Delimiters given as commands.
    static let delimiterCommands: [String: String] = [
        "{": "{", "}": "}", "|": "‖", "langle": "⟨", "rangle": "⟩", "lvert": "|", "rvert": "|",
        "lVert": "‖", "rVert": "‖", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉",
    ]
}

// MARK: - Parser

/// Recursive-descent parser over the formula's Unicode scalars.
struct TeXParser {
    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
    }

    /// The whole formula as one row.
    mutating func parseFormula() throws -> MathNode {
        let nodes = try parseRow(closer: .end)
        return .row(nodes)
    }

    private enum Closer {
        case end, brace, right
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private func error(_ message: String, at offset: Int? = nil) -> TeXMathError {
        TeXMathError(offset: offset ?? index, message: message)
    }

    private mutating func skipSpace() {
        while let c = current, c.properties.isWhitespace { index += 1 }
    }

    /// Reads the command name after a backslash at `index` (letters, or one other character).
    private mutating func readCommand() throws -> String {
        precondition(current == "\\")
        index += 1
        guard let first = current else { throw error("a backslash at the end of the formula", at: index - 1) }
        if isASCIILetter(first) {
            var name = ""
            while let c = current, isASCIILetter(c) {
                name.unicodeScalars.append(c)
                index += 1
            }
            return name
        }
        index += 1
        return String(first)
    }

    private func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    private func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    /// Atoms up to the closer; each atom followed by its scripts.
    private mutating func parseRow(closer: Closer) throws -> [MathNode] {
        var nodes: [MathNode] = []
        while true {
            skipSpace()
            guard let c = current else {
                switch closer {
                case .end: return nodes
                case .brace: throw error("missing '}'")
                case .right: throw error("\\left without \\right")
                }
            }
            if c == "}" {
                if closer == .brace {
                    index += 1
                    return nodes
                }
                throw error("unmatched '}'")
            }
            if c == "\\", closer == .right, peekCommand() == "right" {
                return nodes
            }
            if c == "\\", peekCommand() == "right" {
                throw error("\\right without \\left")
            }
            if c == "^" || c == "_" {
                // Scripts with no base (`^2` at the start of a group); after an atom they were
                // consumed by attachScripts already.
                nodes.append(try attachScripts(to: .row([])))
                continue
            }
            let atom = try parseAtom()
            nodes.append(try attachScripts(to: atom))
        }
    }

    /// The command name at `index` without consuming it.
    private func peekCommand() -> String? {
        guard current == "\\" else { return nil }
        var copy = self
        return try? copy.readCommand()
    }

    /// Parses `^x`, `_x` and `'` following an atom.
    private mutating func attachScripts(to base: MathNode) throws -> MathNode {
        var sub: MathNode?
        var sup: MathNode?
        var primes = ""
        while true {
            skipSpace()
            guard let c = current else { break }
            if c == "'" {
                primes += "′"
                index += 1
                continue
            }
            guard c == "^" || c == "_" else { break }
            let start = index
            index += 1
            let argument = try parseArgument(for: c == "^" ? "superscript" : "subscript")
            if c == "^" {
                guard sup == nil else { throw error("double superscript", at: start) }
                sup = argument
            } else {
                guard sub == nil else { throw error("double subscript", at: start) }
                sub = argument
            }
        }
        // ′ is already a raised glyph: it follows its base instead of becoming a superscript.
        let primed = primes.isEmpty ? base : .row([base, .symbol(primes, .ord)])
        if sub == nil && sup == nil { return primed }
        return .scripts(base: primed, sub: sub, sup: sup)
    }

    /// One argument: a `{group}`, a single letter or digit, or a command with its arguments.
    private mutating func parseArgument(for what: String) throws -> MathNode {
        skipSpace()
        guard let c = current else { throw error("missing \(what)") }
        if c == "{" {
            index += 1
            let nodes = try parseRow(closer: .brace)
            return nodes.count == 1 ? nodes[0] : .row(nodes)
        }
        if isDigit(c) {
            index += 1
            return .number(String(c))
        }
        if c == "}" || c == "^" || c == "_" { throw error("missing \(what)") }
        return try parseAtom()
    }

    /// The braced raw text after `\text`, `\operatorname` (nested braces balanced).
    private mutating func parseRawGroup(for command: String) throws -> String {
        skipSpace()
        guard current == "{" else { throw error("\\\(command) needs a {…} argument") }
        let open = index
        index += 1
        var depth = 1
        var text = ""
        while let c = current {
            if c == "\\" {
                let start = index
                index += 1
                guard let next = current else { break }
                if "{}$%&_#\\".unicodeScalars.contains(next) {
                    text.unicodeScalars.append(next == "\\" ? " " : next)
                    index += 1
                    continue
                }
                throw error("commands are not supported inside \\\(command){…}", at: start)
            }
            if c == "{" { depth += 1 }
            if c == "}" {
                depth -= 1
                if depth == 0 {
                    index += 1
                    return text
                }
            }
            text.unicodeScalars.append(c)
            index += 1
        }
        throw error("missing '}' for \\\(command)", at: open)
    }

    /// A delimiter after `\left` or `\right`.
    private mutating func parseDelimiter(after command: String) throws -> String {
        skipSpace()
        guard let c = current else { throw error("missing delimiter after \\\(command)") }
        let start = index
        if c == "\\" {
            let name = try readCommand()
            if let d = TeXVocabulary.delimiterCommands[name] { return d }
            throw error("\\\(name) is not a delimiter for \\\(command)", at: start)
        }
        if let d = TeXVocabulary.delimiter(c) {
            index += 1
            return d
        }
        throw error("'\(c)' is not a delimiter for \\\(command)", at: start)
    }

    /// One atom without scripts.
    private mutating func parseAtom() throws -> MathNode {
        skipSpace()
        guard let c = current else { throw error("unexpected end of formula") }
        let start = index
        if c == "{" {
            index += 1
            let nodes = try parseRow(closer: .brace)
            return .row(nodes)
        }
        if isASCIILetter(c) {
            index += 1
            return .identifier(String(c), .italic)
        }
        if isDigit(c) || (c == "." && index + 1 < scalars.count && isDigit(scalars[index + 1])) {
            var number = ""
            while let d = current, isDigit(d) || (d == "." && index + 1 < scalars.count && isDigit(scalars[index + 1])) {
                number.unicodeScalars.append(d)
                index += 1
            }
            return .number(number)
        }
        if c == "~" {
            index += 1
            return .space(0.25)
        }
        if c == "\\" {
            return try parseCommand(start: start)
        }
        if let (symbol, mathClass) = TeXVocabulary.plainSymbol(c) {
            index += 1
            return .symbol(symbol, mathClass)
        }
        if c == "&" { throw error("alignment ('&') is not supported") }
        if c == "#" || c == "%" || c == "$" { throw error("unexpected '\(c)' in math") }
        if c.value < 0x80 { throw error("unexpected '\(c)' in math") }
        // Any other Unicode character (σ, ∑ typed directly) is taken as a symbol of its own.
        index += 1
        if c.properties.isAlphabetic { return .identifier(String(c), .italic) }
        return .symbol(String(c), .ord)
    }

    private mutating func parseCommand(start: Int) throws -> MathNode {
        let name = try readCommand()
        if let (char, italic) = TeXVocabulary.greek[name] {
            return .identifier(char, italic ? .italic : .upright)
        }
        if let (char, mathClass) = TeXVocabulary.symbols[name] { return .symbol(char, mathClass) }
        if let (char, limits) = TeXVocabulary.largeOperators[name] { return .largeOperator(char, limits: limits) }
        if let limits = TeXVocabulary.functions[name] { return .function(name, limits: limits) }
        if let em = TeXVocabulary.spaces[name] { return .space(em) }
        if let accent = TeXVocabulary.accents[name] {
            return .accent(try parseArgument(for: "argument of \\\(name)"), accent)
        }
        if let style = TeXVocabulary.styles[name] {
            return Self.restyle(try parseArgument(for: "argument of \\\(name)"), style)
        }
        switch name {
        case "frac", "dfrac", "tfrac":
            let numerator = try parseArgument(for: "numerator of \\\(name)")
            let denominator = try parseArgument(for: "denominator of \\\(name)")
            return .fraction(numerator, denominator)
        case "sqrt":
            skipSpace()
            if current == "[" { throw error("\\sqrt[n]{…} (root index) is not supported") }
            return .root(try parseArgument(for: "argument of \\sqrt"))
        case "text", "textrm", "mbox":
            return .text(try parseRawGroup(for: name))
        case "operatorname":
            let text = try parseRawGroup(for: name)
            return .function(text, limits: false)
        case "left":
            let open = try parseDelimiter(after: "left")
            let body = try parseRow(closer: .right)
            _ = try readCommand() // \right
            let close = try parseDelimiter(after: "right")
            return .fenced(open: open, close: close, .row(body))
        case "{": return .symbol("{", .open)
        case "}": return .symbol("}", .close)
        case "|": return .symbol("‖", .ord)
        case "$", "%", "&", "_", "#": return .symbol(name, .ord)
        case "\\": throw error("line breaks (\\\\) are not supported", at: start)
        default:
            var failure = error("unknown command \\\(name)", at: start)
            failure.suggestion = TeXVocabulary.closestCommand(to: name).map { "\\" + $0 }
            throw failure
        }
    }

    /// Applies a font command to the letters (and, for double-struck/bold, digits) inside.
    static func restyle(_ node: MathNode, _ style: MathStyle) -> MathNode {
        switch node {
        case .identifier(let s, _):
            return .identifier(s, style)
        case .number(let digits) where style == .doubleStruck || style == .bold:
            return .row(digits.unicodeScalars.map { .identifier(String($0), style) })
        case .row(let nodes):
            let restyled = nodes.map { restyle($0, style) }
            return .row(style == .upright ? mergeUprightLetters(restyled) : restyled)
        case .scripts(let base, let sub, let sup):
            return .scripts(base: restyle(base, style), sub: sub, sup: sup)
        case .accent(let base, let accent):
            return .accent(restyle(base, style), accent)
        default:
            return node
        }
    }

    /// `\mathrm{softmax}` reads as one word: merge neighbouring upright letters into one identifier.
    private static func mergeUprightLetters(_ nodes: [MathNode]) -> [MathNode] {
        var out: [MathNode] = []
        for node in nodes {
            if case .identifier(let s, .upright) = node, case .identifier(let previous, .upright)? = out.last,
               s.unicodeScalars.allSatisfy({ $0.isASCII }), previous.unicodeScalars.allSatisfy({ $0.isASCII }) {
                out[out.count - 1] = .identifier(previous + s, .upright)
            } else {
                out.append(node)
            }
        }
        return out
    }
}
