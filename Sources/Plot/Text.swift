import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo

/// Text for titles, axis labels, legends and tick labels, held as Pango markup.
///
/// String literals are markup, so authors can write sub- and superscripts, italics and Greek:
/// `"log <i>p</i>(<b>x</b>)"`, `"σ<sub>max</sub>"`, `"𝒩(0, <i>I</i>)"`, `"10<sup>−3</sup>"`.
/// Values interpolated into a literal are *data* and are escaped:
/// `"\(datasetName) (test)"` shows `datasetName` verbatim even if it contains `<` or `&`.
/// Use ``plain(_:)`` for a whole data string. Markup is checked when the figure is drawn;
/// invalid markup throws ``PlotError/invalidMarkup(_:reason:)`` instead of silently drawing nothing.
public struct Label: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The Pango markup.
    public var markup: String

    /// A label from Pango markup, used as written.
    public init(markup: String) {
        self.markup = markup
    }

    /// A label showing `text` verbatim (escaped with `g_markup_escape_text`).
    public static func plain(_ text: String) -> Label {
        Label(markup: escapeMarkup(text))
    }

    /// A string literal is markup.
    public init(stringLiteral value: String) {
        markup = value
    }

    /// A literal with interpolations: literal segments are markup, interpolated strings are escaped.
    public init(stringInterpolation: StringInterpolation) {
        markup = stringInterpolation.markup
    }

    /// The label's markup (for messages).
    public var description: String { markup }

    /// Builds a ``Label`` from a literal: literal parts are markup, interpolated values are data.
    public struct StringInterpolation: StringInterpolationProtocol {
        var markup = ""

        /// Reserves space; part of the protocol.
        public init(literalCapacity: Int, interpolationCount: Int) {
            markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        /// Appends markup written in the literal.
        public mutating func appendLiteral(_ literal: String) {
            markup += literal
        }

        /// Appends a data string, escaped.
        public mutating func appendInterpolation(_ text: String) {
            markup += escapeMarkup(text)
        }

        /// Appends another label's markup unchanged.
        public mutating func appendInterpolation(_ label: Label) {
            markup += label.markup
        }

        /// Appends an integer, with U+2212 as the minus sign.
        public mutating func appendInterpolation<T: BinaryInteger>(_ value: T) {
            markup += String(value).replacingOccurrences(of: "-", with: "\u{2212}")
        }

        /// Appends a number with a fixed number of decimals and U+2212 as the minus sign.
        public mutating func appendInterpolation(_ value: Double, decimals: Int) {
            markup += formatNumber(value, decimals: decimals)
        }
    }
}

/// Escapes `&`, `<`, `>`, `'` and `"` so that `text` can be placed inside Pango markup.
///
/// Uses GLib's `g_markup_escape_text`, the escaping Pango's parser expects.
public func escapeMarkup(_ text: String) -> String {
    text.withCString { pointer in
        guard let escaped = g_markup_escape_text(pointer, -1) else { return text }
        defer { g_free(escaped) }
        return String(cString: escaped)
    }
}

/// Formats `value` with `decimals` digits after the point and a true minus sign (U+2212);
/// a value that rounds to zero is written without a sign.
///
/// - Parameters:
///   - value: a finite number.
///   - decimals: digits after the decimal point, 0…15.
public func formatNumber(_ value: Double, decimals: Int) -> String {
    let d = Swift.min(Swift.max(decimals, 0), 15)
    var text = String(format: "%.\(d)f", value)
    if text.hasPrefix("-") {
        if text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            text.removeFirst()
        } else {
            text = "\u{2212}" + text.dropFirst()
        }
    }
    return text
}

/// Checks that `label` is well-formed Pango markup.
///
/// - Throws: ``PlotError/invalidMarkup(_:reason:)`` with Pango's parser message.
func validateMarkup(_ label: Label) throws {
    var error: UnsafeMutablePointer<GError>?
    let ok = label.markup.withCString { pango_parse_markup($0, -1, 0, nil, nil, nil, &error) }
    if ok == 0 {
        let reason = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error"
        if let error { g_error_free(error) }
        throw PlotError.invalidMarkup(label.markup, reason: reason)
    }
}

/// The roles text plays in a figure; each has its own size and weight in the ``Theme``.
enum TextRole {
    case tick, label, legend, title
}

/// Where a point of a text box is anchored: horizontal and vertical alignment.
struct TextAnchor {
    /// 0 = left edge, 0.5 = centre, 1 = right edge.
    var horizontal: Double
    /// 0 = top, 0.5 = middle, 1 = bottom.
    var vertical: Double

    static let topCenter = TextAnchor(horizontal: 0.5, vertical: 0)
    static let topLeft = TextAnchor(horizontal: 0, vertical: 0)
    static let topRight = TextAnchor(horizontal: 1, vertical: 0)
    static let centerLeft = TextAnchor(horizontal: 0, vertical: 0.5)
    static let centerRight = TextAnchor(horizontal: 1, vertical: 0.5)
    static let center = TextAnchor(horizontal: 0.5, vertical: 0.5)
    static let bottomCenter = TextAnchor(horizontal: 0.5, vertical: 1)
}

/// A laid-out piece of text: a `PangoLayout` and its logical size in points.
final class TextBlock {
    let layout: OpaquePointer
    /// Logical width and height in points.
    let width: Double
    let height: Double

    init(layout: OpaquePointer) {
        self.layout = layout
        var ink = PangoRectangle(), logical = PangoRectangle()
        pango_layout_get_extents(layout, &ink, &logical)
        let scale = Double(PANGO_SCALE)
        width = Double(logical.width) / scale
        height = Double(logical.height) / scale
    }

    deinit {
        g_object_unref(UnsafeMutableRawPointer(layout))
    }
}

/// Lays out and draws Pango text on one Cairo context, in user units of points.
///
/// Resolution is fixed at 72 dpi (1 pt = 1 user unit), metric hinting is off and glyph
/// positions are not rounded, so the same figure has the same layout in PNG, SVG and PDF.
final class TextEngine {
    let cr: OpaquePointer
    let context: OpaquePointer
    let theme: Theme
    private var fonts: [Double: OpaquePointer] = [:]

    init(cr: OpaquePointer, theme: Theme) {
        self.cr = cr
        self.theme = theme
        context = pango_cairo_create_context(cr)
        pango_cairo_context_set_resolution(context, 72)
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        pango_cairo_context_set_font_options(context, options)
        cairo_font_options_destroy(options)
        pango_context_set_round_glyph_positions(context, 0)
    }

    deinit {
        for font in fonts.values { pango_font_description_free(font) }
        g_object_unref(UnsafeMutableRawPointer(context))
    }

    func size(of role: TextRole) -> Double {
        switch role {
        case .tick: theme.tickFontSize
        case .label, .legend: theme.fontSize
        case .title: theme.titleFontSize
        }
    }

    private func font(size: Double) -> OpaquePointer {
        if let font = fonts[size] { return font }
        let font = pango_font_description_new()!
        pango_font_description_set_family(font, theme.familyList)
        pango_font_description_set_absolute_size(font, size * Double(PANGO_SCALE))
        fonts[size] = font
        return font
    }

    /// Lays out `label` in the role's font. The markup must have been validated.
    func block(_ label: Label, _ role: TextRole) -> TextBlock {
        let size = size(of: role)
        let layout = pango_layout_new(context)!
        pango_layout_set_font_description(layout, font(size: size))
        pango_layout_set_markup(layout, TextEngine.explicitScripts(label.markup, size: size), -1)
        return TextBlock(layout: layout)
    }

    /// Rewrites `<sub>` and `<sup>` as spans with an absolute size (70 %) and rise.
    ///
    /// Pango 1.50 derives the size of `<sub>`/`<sup>` from font metrics in device space, so
    /// under a scaled matrix (PNG at 300 dpi) subscripts come out several times too large.
    static func explicitScripts(_ markup: String, size: Double) -> String {
        guard markup.contains("<su") else { return markup }
        let scaled = Int((size * 0.7 * Double(PANGO_SCALE)).rounded())
        let down = Int((size * 0.2 * Double(PANGO_SCALE)).rounded())
        let up = Int((size * 0.38 * Double(PANGO_SCALE)).rounded())
        return markup
            .replacingOccurrences(of: "<sub>", with: "<span size=\"\(scaled)\" rise=\"-\(down)\">")
            .replacingOccurrences(of: "<sup>", with: "<span size=\"\(scaled)\" rise=\"\(up)\">")
            .replacingOccurrences(of: "</sub>", with: "</span>")
            .replacingOccurrences(of: "</sup>", with: "</span>")
    }

    /// Height of one line of text in the role's font.
    func lineHeight(_ role: TextRole) -> Double {
        block("0", role).height
    }

    /// Draws `block` so that its `anchor` point sits at (x, y), rotated by `angle` radians
    /// (counter-clockwise on the page) about that point.
    func draw(_ block: TextBlock, x: Double, y: Double, anchor: TextAnchor, angle: Double = 0, color: Color) {
        cairo_save(cr)
        cairo_translate(cr, x, y)
        if angle != 0 { cairo_rotate(cr, -angle) }
        cairo_translate(cr, -anchor.horizontal * block.width, -anchor.vertical * block.height)
        cairo_set_source_rgba(cr, color.red, color.green, color.blue, color.alpha)
        pango_cairo_update_layout(cr, block.layout)
        cairo_move_to(cr, 0, 0)
        pango_cairo_show_layout(cr, block.layout)
        cairo_restore(cr)
    }
}
