import Plot

/// Writes ``MathNode`` trees as Pango markup for inline math in PDF paragraphs.
///
/// The formula is one span in Latin Modern Math that forbids line breaks; letters use the
/// Mathematical Alphanumeric Symbols (𝑥, ℝ, 𝒩); sub- and superscripts are spans with an absolute
/// size and rise (nested scripts compute their rise from their parent's); TeX's spacing between
/// ordinary symbols, operators, binary operators and relations is inserted as Unicode spaces.
/// Deviations (linear layout inside a line): `\frac{a}{b}` is written `a/b` (with brackets around
/// compound parts), `\sqrt{x}` is `√x` or `√(x + y)`, a sub- and superscript on the same base
/// follow each other instead of being stacked.
enum PangoMathWriter {
    static let mathFamily = "Latin Modern Math"
    static let textFamily = "Latin Modern Roman"

    struct Context {
        /// Size of the surrounding text (points).
        var baseSize: Double
        /// Size at this level (points).
        var size: Double
        /// Baseline rise at this level (points).
        var rise: Double
        /// 0 = text, 1 = script, 2 = scriptscript.
        var level: Int
    }

    static func markup(_ node: MathNode, size: Double) -> String {
        let context = Context(baseSize: size, size: size, rise: 0, level: 0)
        return "<span font_family=\"\(mathFamily)\" allow_breaks=\"false\">\(write(node, context))</span>"
    }

    static func write(_ node: MathNode, _ ctx: Context) -> String {
        switch node {
        case .identifier(let s, let style):
            return escapeMarkup(MathAlphabet.styled(s, style))
        case .number(let digits):
            return escapeMarkup(digits)
        case .symbol(let s, _):
            return escapeMarkup(s)
        case .largeOperator(let s, _):
            return s
        case .function(let name, _):
            return escapeMarkup(name)
        case .row(let nodes):
            return row(nodes, ctx)
        case .fraction(let a, let b):
            return part(a, ctx) + "/" + part(b, ctx)
        case .root(let a):
            // Latin Modern Math's radical hangs below the baseline (it is built to be extended);
            // DejaVu Serif's sits on it like text.
            return "<span font_family=\"DejaVu Serif\">√</span>" + part(a, ctx)
        case .scripts(let base, let sub, let sup):
            var out = write(base, ctx)
            if let sub { out += script(sub, ctx, up: false) }
            if let sup { out += script(sup, ctx, up: true) }
            return out
        case .fenced(let open, let close, let body):
            return escapeMarkup(open) + write(body, ctx) + escapeMarkup(close)
        case .text(let s):
            return "<span font_family=\"\(textFamily)\">\(escapeMarkup(s))</span>"
        case .space(let em):
            return space(em: em)
        case .accent(let base, let accent):
            let combining: String
            switch accent {
            case "^": combining = "\u{0302}"
            case "¯": combining = "\u{0304}"
            default: combining = "\u{0303}"
            }
            return write(base, ctx) + combining
        }
    }

    /// A fraction's numerator or denominator, bracketed unless it is one unit.
    private static func part(_ node: MathNode, _ ctx: Context) -> String {
        node.isSimple ? write(node, ctx) : "(" + write(node, ctx) + ")"
    }

    private static func script(_ node: MathNode, _ ctx: Context, up: Bool) -> String {
        var inner = ctx
        inner.level = min(ctx.level + 1, 2)
        inner.size = ctx.baseSize * (inner.level == 1 ? 0.7 : 0.5)
        inner.rise = ctx.rise + (up ? 0.38 * ctx.size : -0.2 * ctx.size)
        let size = Int((inner.size * 1024).rounded())
        let rise = Int((inner.rise * 1024).rounded())
        return "<span size=\"\(size)\" rise=\"\(rise)\">\(write(node, inner))</span>"
    }

    /// A row with TeX's inter-atom spacing (text style; none in scripts except around operators).
    private static func row(_ nodes: [MathNode], _ ctx: Context) -> String {
        var out = ""
        var previous: MathClass?
        for node in nodes {
            if case .space = node {
                out += write(node, ctx)
                continue
            }
            var mathClass = node.mathClass
            if mathClass == .bin, previous == nil || [.bin, .rel, .open, .punct, .op].contains(previous!) {
                mathClass = .ord
            }
            if let previous {
                let em = MathSpacing.between(previous, mathClass, script: ctx.level > 0)
                if em > 0 { out += space(em: em) }
            }
            out += write(node, ctx)
            previous = mathClass
        }
        return out
    }

    /// Unicode spaces approximating `em`: thin (1/6), medium (4/18), thick (1/4), quad (1).
    private static func space(em: Double) -> String {
        if em <= 0 { return "" }
        if em >= 2 { return "\u{2003}\u{2003}" }
        if em >= 1 { return "\u{2003}" }
        if em >= 0.25 { return "\u{2005}" }
        if em >= 0.2 { return "\u{205F}" }
        return "\u{2006}"
    }
}

/// TeX's spacing between neighbouring atoms (TeXbook ch. 18), in em.
enum MathSpacing {
    static let thin = 3.0 / 18
    static let medium = 4.0 / 18
    static let thick = 5.0 / 18

    /// The space between an atom of class `left` and one of class `right`; in script styles only
    /// the thin spaces around operators remain.
    static func between(_ left: MathClass, _ right: MathClass, script: Bool) -> Double {
        let value: Double
        switch (left, right) {
        case (.ord, .op), (.op, .ord), (.op, .op), (.close, .op): value = thin
        case (.ord, .bin), (.bin, .ord), (.bin, .op), (.bin, .open), (.close, .bin): value = script ? 0 : medium
        case (.ord, .rel), (.rel, .ord), (.rel, .op), (.rel, .open), (.close, .rel), (.op, .rel):
            value = script ? 0 : thick
        case (.punct, _): value = script ? 0 : thin
        default: value = 0
        }
        return value
    }
}
