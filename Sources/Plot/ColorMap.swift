import Foundation

/// A continuous colour map t ∈ [0, 1] ↦ colour, for images and colour bars.
///
/// Maps are piecewise-linear between evenly spaced control colours, interpolated either in
/// sRGB (``grey``: pixel value v is drawn as grey v exactly) or in OKLab (Ottosson 2020), where
/// equal steps in t are close to equal perceived steps. The control colours of ``sequential``
/// and ``diverging`` were chosen for this project (lightness monotone, respectively symmetric
/// about the midpoint); they are not copies of matplotlib's tables.
public struct ColorMap: Sendable, Hashable {
    /// How colours between two control points are mixed.
    public enum Interpolation: Sendable, Hashable {
        /// Component-wise in gamma-encoded sRGB.
        case sRGB
        /// In the OKLab perceptual space, converted back to sRGB.
        case okLab
    }

    /// A short name for the map (shown nowhere; useful in test failures).
    public var name: String
    /// The control colours at t = 0, 1/(n−1), …, 1.
    public var stops: [Color]
    /// How colours between the stops are mixed.
    public var interpolation: Interpolation

    /// A colour map through `stops`.
    ///
    /// - Parameters:
    ///   - name: a short name.
    ///   - stops: at least two control colours, evenly spaced over [0, 1].
    ///   - interpolation: how to mix neighbouring stops.
    public init(name: String, stops: [Color], interpolation: Interpolation = .okLab) {
        precondition(stops.count >= 2, "ColorMap \(name): needs at least two stops, got \(stops.count)")
        self.name = name
        self.stops = stops
        self.interpolation = interpolation
    }

    /// The colour at `t`; t is clamped to [0, 1] and NaN maps to t = 0.
    public func color(at t: Double) -> Color {
        let t = t.isNaN ? 0 : Swift.min(Swift.max(t, 0), 1)
        let position = t * Double(stops.count - 1)
        let i = Swift.min(Int(position), stops.count - 2)
        let f = position - Double(i)
        let a = stops[i], b = stops[i + 1]
        switch interpolation {
        case .sRGB:
            return Color(red: a.red + f * (b.red - a.red), green: a.green + f * (b.green - a.green),
                         blue: a.blue + f * (b.blue - a.blue), alpha: a.alpha + f * (b.alpha - a.alpha))
        case .okLab:
            let la = OKLab(a), lb = OKLab(b)
            let mixed = OKLab(l: la.l + f * (lb.l - la.l), a: la.a + f * (lb.a - la.a), b: la.b + f * (lb.b - la.b))
            return mixed.color(alpha: a.alpha + f * (b.alpha - a.alpha))
        }
    }

    /// `count` colours sampled evenly from t = 0 to t = 1, as 8-bit RGB; used to colour images.
    func lookupTable(count: Int = 256) -> [(UInt8, UInt8, UInt8)] {
        (0..<count).map { color(at: Double($0) / Double(count - 1)).bytes }
    }

    /// Black (t = 0) to white (t = 1), linear in sRGB so that a pixel value v ∈ [0, 1] is shown
    /// as the grey v; for samples and input images.
    public static let grey = ColorMap(name: "grey", stops: [.black, .white], interpolation: .sRGB)

    /// Blue (t = 0) through near-white (t = ½) to red (t = 1), for signed quantities such as the
    /// scale s and translation t of a coupling layer; pair it with a range symmetric about 0.
    public static let diverging = ColorMap(name: "diverging", stops: [
        Color(hex: 0x24508F), Color(hex: 0x8CB3DA), Color(hex: 0xF5F5F5), Color(hex: 0xE39A86), Color(hex: 0x9E2A2B),
    ])

    /// Dark violet through blue, teal and green to yellow, with monotonically increasing
    /// lightness (a viridis-like map, computed from this project's own control colours).
    public static let sequential = ColorMap(name: "sequential", stops: [
        Color(hex: 0x3A0F4E), Color(hex: 0x3B4A8A), Color(hex: 0x22808C), Color(hex: 0x4DB46A), Color(hex: 0xF1E23A),
    ])
}

/// A colour in the OKLab space (B. Ottosson, "A perceptual color space for image processing", 2020).
struct OKLab: Equatable {
    /// Perceived lightness (0 = black, 1 = white) and the two opponent axes.
    var l, a, b: Double

    init(l: Double, a: Double, b: Double) {
        self.l = l; self.a = a; self.b = b
    }

    /// Converts an sRGB colour (alpha ignored).
    init(_ c: Color) {
        let r = OKLab.linear(c.red), g = OKLab.linear(c.green), bl = OKLab.linear(c.blue)
        let lms = (0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * bl,
                   0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * bl,
                   0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * bl)
        let l_ = cbrt(lms.0), m_ = cbrt(lms.1), s_ = cbrt(lms.2)
        l = 0.2104542553 * l_ + 0.7936177850 * m_ - 0.0040720468 * s_
        a = 1.9779984951 * l_ - 2.4285922050 * m_ + 0.4505937099 * s_
        b = 0.0259040371 * l_ + 0.7827717662 * m_ - 0.8086757660 * s_
    }

    /// Back to sRGB, clamped to the gamut.
    func color(alpha: Double = 1) -> Color {
        let l_ = l + 0.3963377774 * a + 0.2158037573 * b
        let m_ = l - 0.1055613458 * a - 0.0638541728 * b
        let s_ = l - 0.0894841775 * a - 1.2914855480 * b
        let lc = l_ * l_ * l_, mc = m_ * m_ * m_, sc = s_ * s_ * s_
        let r = 4.0767416621 * lc - 3.3077115913 * mc + 0.2309699292 * sc
        let g = -1.2684380046 * lc + 2.6097574011 * mc - 0.3413193965 * sc
        let bl = -0.0041960863 * lc - 0.7034186147 * mc + 1.7076147010 * sc
        return Color(red: OKLab.encoded(r), green: OKLab.encoded(g), blue: OKLab.encoded(bl), alpha: alpha)
    }

    /// sRGB transfer function, decoding: gamma-encoded value → linear light.
    static func linear(_ v: Double) -> Double {
        v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
    }

    /// sRGB transfer function, encoding: linear light → gamma-encoded value.
    static func encoded(_ v: Double) -> Double {
        let v = Swift.min(Swift.max(v, 0), 1)
        return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055
    }
}
