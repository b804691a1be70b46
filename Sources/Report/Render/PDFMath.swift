import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo
import Plot

/// A laid-out piece of display math: a box with a width and a height above (ascent) and below
/// (descent) its baseline, holding glyph runs, rules and radical signs at offsets from its
/// origin (left end of the baseline; y grows downwards).
struct MathBox {
    enum Primitive {
        /// Glyphs; drawn with the run's baseline at the item's y, scaled vertically by `scaleY`
        /// (and horizontally by `scaleX`) about the math axis when stretched.
        case text(TextLayout, scaleX: Double, scaleY: Double, pivot: Double)
        /// A filled rectangle `width` × `thickness` centred on the item's y.
        case rule(width: Double, thickness: Double)
        /// A polyline with a stroke width per segment.
        case path([(x: Double, y: Double)], widths: [Double])
    }

    var width = 0.0
    var ascent = 0.0
    var descent = 0.0
    var items: [(x: Double, y: Double, primitive: Primitive)] = []

    /// Appends `other` with its origin at (x, y) of this box.
    mutating func add(_ other: MathBox, x: Double, y: Double) {
        for item in other.items {
            items.append((item.x + x, item.y + y, item.primitive))
        }
    }

    /// Draws the box with its origin at (x, baseline).
    func draw(_ cr: OpaquePointer, x: Double, baseline: Double) {
        for item in items {
            let px = x + item.x
            let py = baseline + item.y
            switch item.primitive {
            case .text(let run, let scaleX, let scaleY, let pivot):
                if scaleX == 1, scaleY == 1 {
                    run.draw(cr, x: px, y: py - run.baseline)
                } else {
                    cairo_save(cr)
                    cairo_translate(cr, px, py + pivot)
                    cairo_scale(cr, scaleX, scaleY)
                    run.draw(cr, x: 0, y: -pivot - run.baseline)
                    cairo_restore(cr)
                }
            case .rule(let width, let thickness):
                cairo_rectangle(cr, px, py - thickness / 2, width, thickness)
                cairo_fill(cr)
            case .path(let points, let widths):
                cairo_save(cr)
                cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND)
                cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
                for k in 0..<(points.count - 1) {
                    cairo_set_line_width(cr, widths[k])
                    cairo_move_to(cr, px + points[k].x, py + points[k].y)
                    cairo_line_to(cr, px + points[k + 1].x, py + points[k + 1].y)
                    cairo_stroke(cr)
                }
                cairo_restore(cr)
            }
        }
    }
}

/// Lays out ``MathNode`` trees as boxes the way TeX does for display math, simplified:
/// four styles (display, text, script, scriptscript at 100/100/70/50 %), the math axis at
/// 0.25 em, fraction rules of 0.04 em centred on the axis, limits above and below `\sum` in
/// display style, `\left…\right` delimiters stretched to their contents, radicals drawn as paths,
/// TeX's inter-atom spacing. Glyphs come from Latin Modern Math.
struct MathLayouter {
    let text: PDFText
    /// Size of the surrounding text (the display style's size), points.
    let baseSize: Double

    enum Style: Int {
        case display, text, script, scriptScript

        var isScript: Bool { self == .script || self == .scriptScript }
        /// The style of a fraction's numerator and denominator.
        var fractionStyle: Style {
            switch self {
            case .display: .text
            case .text: .script
            case .script, .scriptScript: .scriptScript
            }
        }
        /// The style of sub- and superscripts.
        var scriptStyle: Style {
            switch self {
            case .display, .text: .script
            case .script, .scriptScript: .scriptScript
            }
        }
    }

    func size(_ style: Style) -> Double {
        switch style {
        case .display, .text: baseSize
        case .script: baseSize * 0.7
        case .scriptScript: baseSize * 0.5
        }
    }

    /// Lays out a display formula.
    func layout(_ node: MathNode) -> MathBox {
        box(node, .display)
    }

    private func glyphs(_ markup: String, family: String = PDFFonts.math, size: Double) -> MathBox {
        let run = text.layout(markup, PDFText.Style(family: family, size: size))
        var box = MathBox()
        box.width = run.width
        // Vertical extent from the ink, so fractions and scripts sit tight like TeX's.
        box.ascent = max(0, run.baseline - run.inkTop)
        box.descent = max(0, run.inkBottom - run.baseline)
        if run.inkBottom <= run.inkTop { // spaces, empty
            box.ascent = 0
            box.descent = 0
        }
        box.items.append((0, 0, .text(run, scaleX: 1, scaleY: 1, pivot: 0)))
        return box
    }

    private func box(_ node: MathNode, _ style: Style) -> MathBox {
        let s = size(style)
        switch node {
        case .identifier(let name, let mathStyle):
            return glyphs(escapeMarkup(MathAlphabet.styled(name, mathStyle)), size: s)
        case .number(let digits):
            return glyphs(escapeMarkup(digits), size: s)
        case .symbol(let symbol, _):
            return glyphs(escapeMarkup(symbol), size: s)
        case .function(let name, _):
            return glyphs(escapeMarkup(name), family: PDFFonts.serif, size: s)
        case .text(let content):
            return glyphs(escapeMarkup(content), family: PDFFonts.serif, size: s)
        case .space(let em):
            var b = MathBox()
            b.width = em * s
            return b
        case .largeOperator(let symbol, _):
            return largeOperator(symbol, style)
        case .row(let nodes):
            return row(nodes, style)
        case .fraction(let numerator, let denominator):
            return fraction(numerator, denominator, style)
        case .root(let content):
            return root(content, style)
        case .scripts(let base, let sub, let sup):
            return scripts(base, sub, sup, style)
        case .fenced(let open, let close, let body):
            return fenced(open, close, body, style)
        case .accent(let base, let accent):
            return self.accent(base, accent, style)
        }
    }

    private func row(_ nodes: [MathNode], _ style: Style) -> MathBox {
        var out = MathBox()
        var previous: MathClass?
        let s = size(style)
        for node in nodes {
            if case .space = node {
                let b = box(node, style)
                out.width += b.width
                continue
            }
            var mathClass = node.mathClass
            if mathClass == .bin, previous == nil || [.bin, .rel, .open, .punct, .op].contains(previous!) {
                mathClass = .ord
            }
            if let previous {
                out.width += MathSpacing.between(previous, mathClass, script: style.isScript) * s
            }
            let b = box(node, style)
            out.add(b, x: out.width, y: 0)
            out.width += b.width
            out.ascent = max(out.ascent, b.ascent)
            out.descent = max(out.descent, b.descent)
            previous = mathClass
        }
        return out
    }

    private func axis(_ style: Style) -> Double { 0.25 * size(style) }

    private func fraction(_ numerator: MathNode, _ denominator: MathNode, _ style: Style) -> MathBox {
        let s = size(style)
        let inner = style.fractionStyle
        let num = box(numerator, inner)
        let den = box(denominator, inner)
        let thickness = 0.04 * s
        let gap = style == .display ? 3 * thickness : thickness
        let a = axis(style)
        let numShift = max(style == .display ? 0.68 * s : 0.40 * s, a + thickness / 2 + gap + num.descent)
        let denShift = max(style == .display ? 0.69 * s : 0.35 * s, den.ascent + gap + thickness / 2 - a)
        let pad = 0.12 * s
        var out = MathBox()
        out.width = max(num.width, den.width) + 2 * pad
        out.add(num, x: (out.width - num.width) / 2, y: -numShift)
        out.add(den, x: (out.width - den.width) / 2, y: denShift)
        out.items.append((pad / 2, -a, .rule(width: out.width - pad, thickness: thickness)))
        out.ascent = numShift + num.ascent
        out.descent = denShift + den.descent
        return out
    }

    private func root(_ content: MathNode, _ style: Style) -> MathBox {
        let s = size(style)
        let body = box(content, style)
        let thickness = 0.04 * s
        let gap = (style == .display ? 0.2 : 0.12) * s
        let top = -(max(body.ascent, 0.45 * s) + gap + thickness / 2)
        let bottom = max(body.descent, 0.1 * s) + 0.05 * s
        let height = bottom - top
        let signWidth = min(0.55 * s + 0.08 * height, 1.0 * s)
        let tickY = top + 0.6 * height
        let points: [(x: Double, y: Double)] = [
            (0, tickY + 0.06 * s), (0.25 * signWidth, tickY - 0.02 * s), (0.55 * signWidth, bottom),
            (signWidth, top), (signWidth + body.width + 0.1 * s, top),
        ]
        var out = MathBox()
        out.items.append((0.05 * s, 0, .path(points, widths: [thickness, 2.2 * thickness, thickness, thickness])))
        out.add(body, x: 0.05 * s + signWidth + 0.05 * s, y: 0)
        out.width = 0.05 * s + signWidth + body.width + 0.15 * s
        out.ascent = -top + thickness
        out.descent = bottom + thickness
        return out
    }

    private func largeOperator(_ symbol: String, _ style: Style) -> MathBox {
        let s = size(style)
        let scale = style == .display ? (symbol == "∫" ? 1.8 : 1.4) : 1.0
        var b = glyphs(symbol, size: s * scale)
        // Centre the glyph on the math axis.
        let shift = (b.ascent - b.descent) / 2 - axis(style)
        b.items = b.items.map { ($0.x, $0.y + shift, $0.primitive) }
        b.ascent -= shift
        b.descent += shift
        return b
    }

    private func isLimitsOperator(_ node: MathNode, _ style: Style) -> Bool {
        guard style == .display else { return false }
        switch node {
        case .largeOperator(_, let limits), .function(_, let limits): return limits
        default: return false
        }
    }

    private func scripts(_ baseNode: MathNode, _ subNode: MathNode?, _ supNode: MathNode?, _ style: Style) -> MathBox {
        let s = size(style)
        let base = box(baseNode, style)
        let inner = style.scriptStyle
        let sub = subNode.map { box($0, inner) }
        let sup = supNode.map { box($0, inner) }
        var out = MathBox()
        if isLimitsOperator(baseNode, style) {
            let width = max(base.width, sub?.width ?? 0, sup?.width ?? 0)
            out.width = width
            out.add(base, x: (width - base.width) / 2, y: 0)
            out.ascent = base.ascent
            out.descent = base.descent
            let gap = 0.15 * s
            if let sup {
                let y = -(base.ascent + gap + sup.descent)
                out.add(sup, x: (width - sup.width) / 2, y: y)
                out.ascent = -y + sup.ascent
            }
            if let sub {
                let y = base.descent + gap + sub.ascent
                out.add(sub, x: (width - sub.width) / 2, y: y)
                out.descent = y + sub.descent
            }
            return out
        }
        out.add(base, x: 0, y: 0)
        out.ascent = base.ascent
        out.descent = base.descent
        let scriptSize = size(inner)
        var supShift = sup.map { max(0.42 * s, base.ascent - 0.3 * scriptSize, $0.descent + 0.25 * s) } ?? 0
        var subShift = sub.map { max(0.2 * s, base.descent + 0.05 * s, $0.ascent - 0.4 * s) } ?? 0
        if let sub, let sup {
            subShift = max(subShift, 0.25 * s)
            // Keep at least 0.16 em between the superscript's bottom and the subscript's top.
            let clearance = (supShift - sup.descent) - (sub.ascent - subShift)
            if clearance < 0.16 * s {
                let extra = 0.16 * s - clearance
                supShift += extra / 2
                subShift += extra / 2
            }
        }
        // A little italic correction for superscripts on italic letters; the slanted integral
        // sign takes its subscript in under its foot.
        var italic = 0.0
        var subKern = 0.0
        if case .identifier(_, .italic) = baseNode { italic = 0.06 * s }
        if case .largeOperator("∫", _) = baseNode {
            italic = style == .display ? 0.12 * s : 0.05 * s
            subKern = style == .display ? -0.3 * s : -0.1 * s
        }
        var width = base.width
        if let sup {
            out.add(sup, x: base.width + italic, y: -supShift)
            out.ascent = max(out.ascent, supShift + sup.ascent)
            width = max(width, base.width + italic + sup.width)
        }
        if let sub {
            out.add(sub, x: base.width + subKern, y: subShift)
            out.descent = max(out.descent, subShift + sub.descent)
            width = max(width, base.width + subKern + sub.width)
        }
        out.width = width + 0.05 * s
        return out
    }

    private func fenced(_ open: String, _ close: String, _ body: MathNode, _ style: Style) -> MathBox {
        let s = size(style)
        let content = box(body, style)
        let a = axis(style)
        // Half the height the delimiters must cover around the axis.
        let half = max(content.ascent - a, content.descent + a, 0.5 * s) + 0.1 * s
        var out = MathBox()
        func delimiter(_ d: String) -> MathBox {
            guard !d.isEmpty else {
                var b = MathBox()
                b.width = 0.12 * s
                return b
            }
            let run = text.layout(escapeMarkup(d), PDFText.Style(family: PDFFonts.math, size: s))
            let inkHeight = max(run.inkBottom - run.inkTop, 0.01)
            let scaleY = max(1, 2 * half / inkHeight)
            let scaleX = min(1 + 0.12 * (scaleY - 1), 1.5)
            var b = MathBox()
            b.width = run.width * scaleX
            // Place the glyph so its ink centre sits on the axis, then stretch about that point.
            let inkCentre = (run.inkTop + run.inkBottom) / 2 - run.baseline // below baseline, points
            let y = -a - inkCentre
            b.items.append((0, y, .text(run, scaleX: scaleX, scaleY: scaleY, pivot: inkCentre)))
            b.ascent = a + half
            b.descent = half - a
            return b
        }
        let left = delimiter(open)
        let right = delimiter(close)
        out.add(left, x: 0, y: 0)
        out.add(content, x: left.width, y: 0)
        out.add(right, x: left.width + content.width, y: 0)
        out.width = left.width + content.width + right.width
        out.ascent = max(left.ascent, content.ascent, right.ascent)
        out.descent = max(left.descent, content.descent, right.descent)
        return out
    }

    private func accent(_ baseNode: MathNode, _ accent: String, _ style: Style) -> MathBox {
        let s = size(style)
        let base = box(baseNode, style)
        let mark = accent == "¯" ? "\u{00AF}" : (accent == "^" ? "\u{02C6}" : "\u{02DC}")
        let run = text.layout(escapeMarkup(mark), PDFText.Style(family: PDFFonts.math, size: s))
        var italic = 0.0
        if case .identifier(_, .italic) = baseNode { italic = 0.08 * s }
        var out = base
        let inkBottomBelowBaseline = run.inkBottom - run.baseline
        let y = -(base.ascent + 0.06 * s) - inkBottomBelowBaseline
        let inkCentre = (run.inkLeft + run.inkRight) / 2
        out.items.append((base.width / 2 + italic - inkCentre, y, .text(run, scaleX: 1, scaleY: 1, pivot: 0)))
        out.ascent = max(base.ascent, -y + run.baseline - run.inkTop)
        return out
    }
}
