@preconcurrency import CCairo
import Testing
@testable import Plot

@Suite struct Markup {
    @Test func dataStringsAreEscaped() {
        #expect(escapeMarkup("a < b & c > \"d\"") == "a &lt; b &amp; c &gt; &quot;d&quot;")
        #expect(Label.plain("SVHN & <CelebA>").markup == "SVHN &amp; &lt;CelebA&gt;")
    }

    @Test func interpolationEscapesDataButKeepsLiteralMarkup() {
        let name = "x<y"
        let label: Label = "<i>p</i>(\(name)) = \(0.5, decimals: 2), \(-3)"
        #expect(label.markup == "<i>p</i>(x&lt;y) = 0.50, \u{2212}3")
        let inner: Label = "σ<sub>1</sub>"
        let outer: Label = "\(inner) and \(Label.plain("&"))"
        #expect(outer.markup == "σ<sub>1</sub> and &amp;")
    }

    @Test func invalidMarkupIsAnErrorNotABlankFigure() throws {
        var figure = try Fixtures.lines()
        guard case .axes(var axes) = figure.panels[0] else { return }
        axes.x.label = "AUROC & friends"
        figure.panels[0] = .axes(axes)
        expectPlotError("invalid Pango markup", "AUROC & friends") { _ = try figure.svgData() }
        expectPlotError("invalid Pango markup") { _ = try figure.pngData(dpi: 72) }
    }

    @Test func greekSubscriptsAndMathScriptsAreValidMarkup() throws {
        for label: Label in ["σ<sub>max</sub>", "μ<sup>2</sup>", "𝒩(0, <i>I</i>)", "log <i>p</i>(<b>x</b>)"] {
            try validateMarkup(label)
        }
    }
}

@Suite struct Colours {
    @Test func okLabRoundTrips() {
        for hex: UInt32 in [0x000000, 0xFFFFFF, 0x4477AA, 0xEE6677, 0x228833, 0x123456] {
            let c = Color(hex: hex)
            let back = OKLab(c).color()
            #expect(abs(back.red - c.red) < 1e-6 && abs(back.green - c.green) < 1e-6 && abs(back.blue - c.blue) < 1e-6, "\(hex)")
        }
        // reference: Ottosson's OKLab of white is L = 1, a = b = 0.
        let white = OKLab(.white)
        #expect(abs(white.l - 1) < 1e-4 && abs(white.a) < 1e-4 && abs(white.b) < 1e-4)
    }

    @Test func sequentialMapLightnessIncreases() {
        let lightness = (0...50).map { OKLab(ColorMap.sequential.color(at: Double($0) / 50)).l }
        #expect(zip(lightness, lightness.dropFirst()).allSatisfy { $0 < $1 }, "\(lightness)")
    }

    @Test func divergingMapIsWhiteInTheMiddleAndSymmetricInLightness() {
        let mid = ColorMap.diverging.color(at: 0.5)
        #expect(mid.red > 0.94 && mid.green > 0.94 && mid.blue > 0.94)
        let low = ColorMap.diverging.color(at: 0), high = ColorMap.diverging.color(at: 1)
        #expect(low.blue > low.red && high.red > high.blue)
        for t in stride(from: 0.0, through: 0.5, by: 0.1) {
            let a = OKLab(ColorMap.diverging.color(at: t)).l, b = OKLab(ColorMap.diverging.color(at: 1 - t)).l
            #expect(abs(a - b) < 0.06, "lightness at \(t): \(a) vs \(b)")
        }
    }

    @Test func greyMapShowsPixelValuesExactly() {
        let table = ColorMap.grey.lookupTable()
        #expect(table[0] == (0, 0, 0) && table[255] == (255, 255, 255) && table[128] == (128, 128, 128))
    }

    @Test func palettesWrapAround() {
        #expect(Palette.tolBright[7] == Palette.tolBright[0])
        #expect(Palette.tolMuted.colors.count == 10)
        #expect(Set(Palette.okabeIto.colors).count == 8)
    }
}

@Suite struct TextLayout {
    /// Measures `label` in the theme's label font on a scratch surface.
    /// `scale` is the device scale (PNG at 288 dpi draws at 4 pixels per point).
    private func size(_ label: Label, theme: Theme = .paper, scale: Double = 4) -> (width: Double, height: Double) {
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)!
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }
        cairo_scale(cr, scale, scale)
        let block = TextEngine(cr: cr, theme: theme).block(label, .label)
        return (block.width, block.height)
    }

    @Test(arguments: ["paper", "sans"])
    func subscriptsAndSuperscriptsAreSmallAndStayNearTheLine(_ name: String) {
        let theme = name == "paper" ? Theme.paper : Theme.sans
        let plain = size("z1", theme: theme), sub = size("z<sub>1</sub>", theme: theme), sup = size("10<sup>−3</sup>", theme: theme)
        #expect(sub.width < plain.width, "subscript is not smaller: \(sub.width) vs \(plain.width)")
        #expect(sub.height < plain.height * 1.5, "subscript line is \(sub.height) pt high, plain \(plain.height)")
        #expect(sup.height < plain.height * 1.5, "superscript line is \(sup.height) pt high, plain \(plain.height)")
        // Pango 1.50 scales <sub>/<sup> wrongly under a scaled matrix; layouts must not depend on it.
        let unscaled = size("z<sub>1</sub>", theme: theme, scale: 1)
        #expect(abs(unscaled.width - sub.width) < 0.05 && abs(unscaled.height - sub.height) < 0.05,
                "scaled \(sub), unscaled \(unscaled)")
    }

    @Test func theFontSizeIsInPoints() {
        // A 9 pt font gives a line of roughly 9–13 pt (ascent + descent), whatever Pango's default resolution.
        let line = size("Hg").height
        #expect(line > 8 && line < 14, "line height \(line)")
    }
}
