import Foundation

/// An sRGB colour with straight (not premultiplied) alpha, each component in [0, 1].
public struct Color: Sendable, Hashable {
    /// Red, green, blue and opacity, each in [0, 1].
    public var red, green, blue, alpha: Double

    /// A colour from its components (clamped to [0, 1]).
    ///
    /// - Parameters:
    ///   - red: sRGB red in [0, 1].
    ///   - green: sRGB green in [0, 1].
    ///   - blue: sRGB blue in [0, 1].
    ///   - alpha: opacity in [0, 1]; 1 is opaque.
    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = Swift.min(Swift.max(red, 0), 1)
        self.green = Swift.min(Swift.max(green, 0), 1)
        self.blue = Swift.min(Swift.max(blue, 0), 1)
        self.alpha = Swift.min(Swift.max(alpha, 0), 1)
    }

    /// A colour from a 24-bit `0xRRGGBB` value, as written in palettes and CSS.
    ///
    /// - Parameters:
    ///   - hex: the colour as `0xRRGGBB`.
    ///   - alpha: opacity in [0, 1].
    public init(hex: UInt32, alpha: Double = 1) {
        self.init(red: Double((hex >> 16) & 0xFF) / 255, green: Double((hex >> 8) & 0xFF) / 255,
                  blue: Double(hex & 0xFF) / 255, alpha: alpha)
    }

    /// The same colour with opacity `alpha`.
    public func opacity(_ alpha: Double) -> Color {
        Color(red: red, green: green, blue: blue, alpha: alpha)
    }

    /// Black, `#000000`.
    public static let black = Color(hex: 0x000000)
    /// White, `#FFFFFF`.
    public static let white = Color(hex: 0xFFFFFF)
    /// Mid grey, `#808080`, for reference lines such as the chance diagonal of a ROC plot.
    public static let grey = Color(hex: 0x808080)
    /// Fully transparent black.
    public static let clear = Color(red: 0, green: 0, blue: 0, alpha: 0)

    /// The colour as 8-bit `(r, g, b)` rounded from the components.
    var bytes: (UInt8, UInt8, UInt8) {
        (UInt8((red * 255).rounded()), UInt8((green * 255).rounded()), UInt8((blue * 255).rounded()))
    }
}

/// An ordered list of categorical colours; series take them in order and wrap around.
///
/// The built-in palettes are designed to stay distinguishable under the common colour-vision
/// deficiencies (deuteranopia, protanopia, tritanopia) and in greyscale print together with
/// markers or dashes.
public struct Palette: Sendable, Hashable {
    /// The colours, in the order series receive them.
    public var colors: [Color]

    /// A palette from its colours.
    ///
    /// - Parameter colors: at least one colour.
    public init(_ colors: [Color]) {
        precondition(!colors.isEmpty, "Palette: needs at least one colour")
        self.colors = colors
    }

    /// The colour of series `index`, wrapping around past the end.
    public subscript(index: Int) -> Color {
        colors[((index % colors.count) + colors.count) % colors.count]
    }

    /// Paul Tol's "bright" qualitative scheme (7 colours), reordered so that the first two
    /// (blue, red) contrast most: blue, red, green, yellow, cyan, purple, grey.
    ///
    /// Source: P. Tol, *Colour Schemes*, SRON/EPS/TN/09-002 (2021), §2 "Qualitative".
    public static let tolBright = Palette([
        Color(hex: 0x4477AA), Color(hex: 0xEE6677), Color(hex: 0x228833), Color(hex: 0xCCBB44),
        Color(hex: 0x66CCEE), Color(hex: 0xAA3377), Color(hex: 0xBBBBBB),
    ])

    /// Paul Tol's "muted" qualitative scheme (9 colours) plus a dark grey, for up to ten
    /// categories, e.g. the ten FashionMNIST classes in a t-SNE plot. (Tol pairs the nine with
    /// a pale grey meant for missing data, which is too faint for points on white.)
    ///
    /// Order: indigo, cyan, teal, green, olive, sand, rose, wine, purple, dark grey.
    public static let tolMuted = Palette([
        Color(hex: 0x332288), Color(hex: 0x88CCEE), Color(hex: 0x44AA99), Color(hex: 0x117733),
        Color(hex: 0x999933), Color(hex: 0xDDCC77), Color(hex: 0xCC6677), Color(hex: 0x882255),
        Color(hex: 0xAA4499), Color(hex: 0x5E5E5E),
    ])

    /// The Okabe–Ito palette (8 colours), reordered: blue, vermillion, bluish green, orange,
    /// reddish purple, sky blue, yellow, black.
    ///
    /// Source: M. Okabe & K. Ito, *Color Universal Design* (2002).
    public static let okabeIto = Palette([
        Color(hex: 0x0072B2), Color(hex: 0xD55E00), Color(hex: 0x009E73), Color(hex: 0xE69F00),
        Color(hex: 0xCC79A7), Color(hex: 0x56B4E9), Color(hex: 0xF0E442), Color(hex: 0x000000),
    ])
}
