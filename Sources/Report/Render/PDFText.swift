import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo
import Plot

/// Font families of the PDF report (fallbacks after the commas cover Greek, math and symbols).
enum PDFFonts {
    static let serif = "Latin Modern Roman,Latin Modern Math,DejaVu Serif"
    static let mono = "Latin Modern Mono,DejaVu Sans Mono"
    static let math = "Latin Modern Math,Latin Modern Roman,DejaVu Serif"
}

/// One line of a laid-out paragraph, positioned relative to its layout.
struct TextLine {
    /// The `PangoLayoutLine`, owned by ``layout``.
    let line: UnsafeMutablePointer<PangoLayoutLine>
    /// Keeps the layout (and so the line) alive.
    let layout: TextLayout
    /// Horizontal offset of the line inside the layout (indent, alignment), points.
    let x: Double
    /// Logical extent above and below the baseline, points.
    let ascent: Double
    let descent: Double
    /// Ink extent above and below the baseline, points.
    let inkAscent: Double
    let inkDescent: Double

    /// Draws the line with its baseline at `baseline`, the layout's left edge at `x`.
    func draw(_ cr: OpaquePointer, x: Double, baseline: Double) {
        cairo_move_to(cr, x + self.x, baseline)
        pango_cairo_show_layout_line(cr, line)
    }
}

/// A `PangoLayout` (freed with this object) and its measurements.
final class TextLayout {
    let layout: OpaquePointer
    /// Logical size, points.
    let width: Double
    let height: Double
    /// First baseline from the top, points.
    let baseline: Double
    /// Ink extents relative to the layout's top-left, points.
    let inkTop: Double
    let inkBottom: Double
    let inkLeft: Double
    let inkRight: Double

    init(_ layout: OpaquePointer) {
        self.layout = layout
        var ink = PangoRectangle(), logical = PangoRectangle()
        pango_layout_get_extents(layout, &ink, &logical)
        let scale = Double(PANGO_SCALE)
        width = Double(logical.width) / scale
        height = Double(logical.height) / scale
        baseline = Double(pango_layout_get_baseline(layout)) / scale
        inkTop = Double(ink.y) / scale
        inkBottom = Double(ink.y + ink.height) / scale
        inkLeft = Double(ink.x) / scale
        inkRight = Double(ink.x + ink.width) / scale
    }

    deinit {
        g_object_unref(UnsafeMutableRawPointer(layout))
    }

    /// The layout's lines with their offsets and logical ascent/descent.
    lazy var lines: [TextLine] = {
        var out: [TextLine] = []
        guard let iter = pango_layout_get_iter(layout) else { return out }
        defer { pango_layout_iter_free(iter) }
        let scale = Double(PANGO_SCALE)
        repeat {
            guard let line = pango_layout_iter_get_line_readonly(iter) else { continue }
            var ink = PangoRectangle(), logical = PangoRectangle()
            pango_layout_iter_get_line_extents(iter, &ink, &logical)
            let baseline = Double(pango_layout_iter_get_baseline(iter)) / scale
            let top = Double(logical.y) / scale
            let bottom = Double(logical.y + logical.height) / scale
            let inkTop = Double(ink.y) / scale
            let inkBottom = Double(ink.y + ink.height) / scale
            out.append(TextLine(line: line, layout: self, x: Double(logical.x) / scale,
                                ascent: baseline - top, descent: bottom - baseline,
                                inkAscent: ink.height > 0 ? baseline - inkTop : 0,
                                inkDescent: ink.height > 0 ? inkBottom - baseline : 0))
        } while pango_layout_iter_next_line(iter) != 0
        return out
    }()

    /// Draws the whole layout with its top-left corner at (x, y).
    func draw(_ cr: OpaquePointer, x: Double, y: Double) {
        cairo_move_to(cr, x, y)
        pango_cairo_show_layout(cr, layout)
    }
}

/// Lays out text for the PDF on one Cairo context: 72 dpi (1 pt = 1 unit), no hinting, unrounded
/// glyph positions, so measurements made before drawing hold on every page.
final class PDFText {
    let cr: OpaquePointer
    let context: OpaquePointer
    private var fonts: [String: OpaquePointer] = [:]

    init(cr: OpaquePointer) {
        self.cr = cr
        context = pango_cairo_create_context(cr)
        pango_cairo_context_set_resolution(context, 72)
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        pango_cairo_context_set_font_options(context, options)
        cairo_font_options_destroy(options)
        pango_context_set_round_glyph_positions(context, 0)
        let language = pango_language_from_string("en")
        pango_context_set_language(context, language)
    }

    deinit {
        for font in fonts.values { pango_font_description_free(font) }
        g_object_unref(UnsafeMutableRawPointer(context))
    }

    private func font(family: String, size: Double) -> OpaquePointer {
        let key = "\(family)|\(size)"
        if let font = fonts[key] { return font }
        let font = pango_font_description_new()!
        pango_font_description_set_family(font, family)
        pango_font_description_set_absolute_size(font, size * Double(PANGO_SCALE))
        fonts[key] = font
        return font
    }

    /// How a block of text is set.
    struct Style {
        var family = PDFFonts.serif
        var size = 11.0
        /// Wrap width in points; nil for one unbroken line per paragraph.
        var width: Double?
        var justify = false
        var alignment = PANGO_ALIGN_LEFT
        /// First-line indent (negative for a hanging indent).
        var indent = 0.0
        var wrapCharacters = false
        /// Break only between words, letting a word wider than `width` overflow (for measuring
        /// the narrowest a column can be).
        var wrapWordsOnly = false
    }

    /// Lays out `markup` (Pango markup; invalid markup falls back to the escaped text).
    func layout(_ markup: String, _ style: Style) -> TextLayout {
        let layout = pango_layout_new(context)!
        pango_layout_set_font_description(layout, font(family: style.family, size: style.size))
        if let width = style.width {
            pango_layout_set_width(layout, Int32((width * Double(PANGO_SCALE)).rounded(.down)))
            pango_layout_set_wrap(layout, style.wrapCharacters ? PANGO_WRAP_CHAR : style.wrapWordsOnly ? PANGO_WRAP_WORD : PANGO_WRAP_WORD_CHAR)
        }
        pango_layout_set_justify(layout, style.justify ? 1 : 0)
        pango_layout_set_alignment(layout, style.alignment)
        pango_layout_set_indent(layout, Int32((style.indent * Double(PANGO_SCALE)).rounded()))
        // Latin Modern's line height is 1.42 em; set lines of multi-line layouts (captions,
        // cells) 1.236 em apart like the body text (TeX's 13.6 pt for 11 pt).
        pango_layout_set_line_spacing(layout, 0.872)
        if Self.isValidMarkup(markup) {
            pango_layout_set_markup(layout, markup, -1)
        } else {
            pango_layout_set_text(layout, markup, -1)
        }
        return TextLayout(layout)
    }

    static func isValidMarkup(_ markup: String) -> Bool {
        var error: UnsafeMutablePointer<GError>?
        let ok = markup.withCString { pango_parse_markup($0, -1, 0, nil, nil, nil, &error) }
        if let error { g_error_free(error) }
        return ok != 0
    }
}

/// Writes inline Markdown as Pango markup for the PDF.
struct PangoInlineWriter {
    let book: PreparedDocument

    /// `text` in a span that Pango may not break ("Figure 3", "Kirichenko et al.").
    private func unbreakable(_ text: String) -> String {
        "<span allow_breaks=\"false\">\(escapeMarkup(text))</span>"
    }
    /// Size of the text the inlines sit in (for math scripts and code).
    let size: Double

    func markup(_ inlines: [Inline]) -> String {
        var out = ""
        for inline in inlines {
            switch inline {
            case .text(let s):
                out += escapeMarkup(s)
            case .emphasis(let c):
                out += "<i>\(markup(c))</i>"
            case .strong(let c):
                out += "<b>\(markup(c))</b>"
            case .code(let s):
                let codeSize = Int((size * 0.95 * 1024).rounded())
                out += "<span font_family=\"Latin Modern Mono\" size=\"\(codeSize)\">\(escapeMarkup(s))</span>"
            case .link(_, _, let c):
                out += markup(c)
            case .softBreak:
                out += " "
            case .lineBreak:
                out += "\u{2028}"
            case .math(let formula):
                out += PangoMathWriter.markup(formula.node, size: size)
            case .reference(let id):
                out += unbreakable(book.label(for: id))
            case .citation(let keys, let narrative):
                let entries = keys.compactMap(Bibliography.entry)
                if narrative {
                    out += entries.map { unbreakable($0.shortAuthors) + " (\($0.year))" }.joined(separator: "; ")
                } else {
                    out += "(" + entries.map { unbreakable($0.shortAuthors) + ", \($0.year)" }.joined(separator: "; ") + ")"
                }
            }
        }
        return out
    }
}
