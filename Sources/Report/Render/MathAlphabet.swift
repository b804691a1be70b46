/// Maps letters to the Unicode Mathematical Alphanumeric Symbols block (U+1D400…), which Latin
/// Modern Math covers: 𝑥 (italic), 𝐱 (bold), 𝒙 (bold italic), ℝ (double-struck), 𝒩 (script).
/// Characters without a styled form come back unchanged.
enum MathAlphabet {
    /// `text` with every letter in `style`.
    static func styled(_ text: String, _ style: MathStyle) -> String {
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars { out.append(styled(c, style)) }
        return String(out)
    }

    static func styled(_ c: Unicode.Scalar, _ style: MathStyle) -> Unicode.Scalar {
        let v = c.value
        let upper = v >= 0x41 && v <= 0x5A
        let lower = v >= 0x61 && v <= 0x7A
        let digit = v >= 0x30 && v <= 0x39
        let greekUpper = v >= 0x391 && v <= 0x3A9 && v != 0x3A2
        let greekLower = v >= 0x3B1 && v <= 0x3C9
        switch style {
        case .upright:
            return c
        case .italic:
            if v == 0x68 { return "\u{210E}" } // ℎ (Planck constant) stands in for italic h
            if upper { return scalar(0x1D434 + v - 0x41, c) }
            if lower { return scalar(0x1D44E + v - 0x61, c) }
            if greekUpper { return scalar(0x1D6E2 + v - 0x391, c) }
            if greekLower { return scalar(0x1D6FC + v - 0x3B1, c) }
            if let variant = greekVariantOffset(v) { return scalar(0x1D716 + variant, c) }
            return c
        case .bold:
            if upper { return scalar(0x1D400 + v - 0x41, c) }
            if lower { return scalar(0x1D41A + v - 0x61, c) }
            if digit { return scalar(0x1D7CE + v - 0x30, c) }
            if greekUpper { return scalar(0x1D6A8 + v - 0x391, c) }
            if greekLower { return scalar(0x1D6C2 + v - 0x3B1, c) }
            return c
        case .boldItalic:
            if upper { return scalar(0x1D468 + v - 0x41, c) }
            if lower { return scalar(0x1D482 + v - 0x61, c) }
            if greekUpper { return scalar(0x1D71C + v - 0x391, c) }
            if greekLower { return scalar(0x1D736 + v - 0x3B1, c) }
            if let variant = greekVariantOffset(v) { return scalar(0x1D750 + variant, c) }
            return c
        case .doubleStruck:
            let exceptions: [UInt32: UInt32] = [0x43: 0x2102, 0x48: 0x210D, 0x4E: 0x2115, 0x50: 0x2119,
                                                0x51: 0x211A, 0x52: 0x211D, 0x5A: 0x2124]
            if let e = exceptions[v] { return scalar(e, c) }
            if upper { return scalar(0x1D538 + v - 0x41, c) }
            if lower { return scalar(0x1D552 + v - 0x61, c) }
            if digit { return scalar(0x1D7D8 + v - 0x30, c) }
            return c
        case .script:
            let exceptions: [UInt32: UInt32] = [0x42: 0x212C, 0x45: 0x2130, 0x46: 0x2131, 0x48: 0x210B,
                                                0x49: 0x2110, 0x4C: 0x2112, 0x4D: 0x2133, 0x52: 0x211B,
                                                0x65: 0x212F, 0x67: 0x210A, 0x6F: 0x2134]
            if let e = exceptions[v] { return scalar(e, c) }
            if upper { return scalar(0x1D49C + v - 0x41, c) }
            if lower { return scalar(0x1D4B6 + v - 0x61, c) }
            return c
        }
    }

    /// Offset of ϵ ϑ ϰ ϕ ϱ ϖ in the styled Greek variant runs (U+1D716… for italic).
    private static func greekVariantOffset(_ v: UInt32) -> UInt32? {
        switch v {
        case 0x3F5: 0
        case 0x3D1: 1
        case 0x3F0: 2
        case 0x3D5: 3
        case 0x3F1: 4
        case 0x3D6: 5
        default: nil
        }
    }

    private static func scalar(_ value: UInt32, _ fallback: Unicode.Scalar) -> Unicode.Scalar {
        Unicode.Scalar(value) ?? fallback
    }
}
