import Foundation
import Testing
import TestSupport
@testable import Plot

@Suite struct EveryKindInEveryFormat {
    @Test(arguments: try Fixtures.all().map(\.0))
    func rendersToPNGSVGAndPDF(_ name: String) throws {
        let figure = try #require(try Fixtures.all().first { $0.0 == name }?.1)
        let png = try figure.pngData(dpi: 150)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(name): not a PNG")
        let svg = String(decoding: try figure.svgData(), as: UTF8.self)
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.hasSuffix("</svg>\n"), "\(name): not an SVG")
        #expect(svg.contains("width=\"\(Int(figure.width))pt\""), "\(name): SVG size is not in points")
        let pdf = try figure.pdfData()
        #expect(pdf.starts(with: Array("%PDF-".utf8)) && String(decoding: pdf.suffix(7), as: UTF8.self).contains("%%EOF"),
                "\(name): not a PDF")
        // Not blank: the PNG has more than the background colour.
        let raster = try figure.rasterize(dpi: 72)
        var colours = Set<UInt32>()
        for y in stride(from: 0, to: raster.height, by: 2) {
            for x in stride(from: 0, to: raster.width, by: 2) {
                let p = raster.pixel(x, y)
                colours.insert(UInt32(p.r) << 16 | UInt32(p.g) << 8 | UInt32(p.b))
            }
        }
        #expect(colours.count > 8, "\(name): only \(colours.count) colours; blank figure?")
    }
}

@Suite struct Determinism {
    @Test func svgBytesAreIdenticalAcrossRenders() throws {
        for (name, figure) in try Fixtures.all() {
            let first = try figure.svgData()
            _ = try Fixtures.histogram().svgData() // advance Cairo's process-wide id counters
            #expect(try figure.svgData() == first, "\(name): SVG differs between two renders")
            #expect(try Fixtures.all().first { $0.0 == name }!.1.svgData() == first, "\(name): rebuilt figure differs")
        }
    }

    @Test func pdfAndPNGBytesAreIdenticalAndCarryNoDate() throws {
        let figure = try Fixtures.bars()
        let pdf = try figure.pdfData()
        #expect(try figure.pdfData() == pdf)
        let text = String(decoding: pdf, as: UTF8.self)
        #expect(text.contains("/CreationDate (20000101000000Z)"), "PDF creation date is not the fixed one")
        #expect(try figure.pngData(dpi: 100) == figure.pngData(dpi: 100))
    }

    @Test func outputsHoldNoAbsolutePaths() throws {
        let svg = String(decoding: try Fixtures.images().svgData(), as: UTF8.self)
        let pdf = String(decoding: try Fixtures.images().pdfData(), as: UTF8.self)
        for text in [svg, pdf] {
            #expect(!text.contains("/tmp") && !text.contains("/work") && !text.contains("/usr/share"))
        }
    }
}

@Suite struct SVGImages {
    @Test func pixelImagesAreUpscaledByWholePixelsAndMarkedPixelated() throws {
        // cairo 1.16's SVG output drops the nearest filter; images are embedded pre-upscaled.
        let svg = String(decoding: try Figure(try ImageGrid([[Fixtures.ramp]]), width: 100, height: 100).svgData(), as: UTF8.self)
        let tag = try #require(svg.range(of: "<image ").map { String(svg[$0.lowerBound...].prefix(200)) })
        #expect(tag.contains("image-rendering:pixelated"))
        let width = try #require(tag.firstMatch(of: /width="([0-9]+)"/).flatMap { Int($0.1) })
        #expect(width > 4 && width % 4 == 0, "embedded width \(width) is not a whole multiple of 4 pixels")
    }
}

@Suite struct Files {
    @Test func writeUsesTheExtensionAndLeavesNoTemporaryFiles() throws {
        try withTemporaryDirectory { dir in
            let figure = try Fixtures.roc()
            let urls = try figure.write(to: dir.appendingPathComponent("nested"), name: "roc")
            #expect(urls.map(\.lastPathComponent) == ["roc.png", "roc.svg", "roc.pdf"])
            let listing = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("nested").path).sorted()
            #expect(listing == ["roc.pdf", "roc.png", "roc.svg"])
            try figure.write(to: dir.appendingPathComponent("again.svg"))
            #expect(FileManager.default.contents(atPath: dir.appendingPathComponent("again.svg").path) == (try figure.svgData()))
            expectPlotError("unknown extension 'jpg'") { try figure.write(to: dir.appendingPathComponent("x.jpg")) }
        }
    }

    @Test func pngSizeFollowsTheDPIAndRecordsIt() throws {
        let figure = try Fixtures.logLines() // 200 × 140 pt
        let png = [UInt8](try figure.pngData(dpi: 144))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 400 && height == 280)
        // pHYs right after IHDR: 144 dpi = 5669 pixels per metre (144 / 0.0254, rounded).
        #expect(Array(png[37..<41]) == Array("pHYs".utf8))
        #expect(png[41..<45].reduce(0) { $0 << 8 | Int($1) } == 5669)
        // reference: zlib.crc32(b"IEND") = 0xAE426082
        #expect(crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }

    @Test func drawsOntoAnExistingCairoPage() throws {
        // The report draws figures onto its own PDF pages; this is that path, at an offset.
        let figure = try Fixtures.histogram()
        let raster = try Figure(panels: figure.panels, columns: 1, width: 240, height: 150).rasterize(dpi: 72)
        #expect(raster.width == 240 && raster.height == 150)
    }
}

/// With FLOWOOD_PLOT_ARTIFACTS=<directory> set, writes every fixture as PNG, SVG and PDF there
/// for a person to look at (the small sizes stress the layout more than the gallery does).
@Suite struct Artifacts {
    @Test func writeFixturesForInspection() throws {
        guard let path = ProcessInfo.processInfo.environment["FLOWOOD_PLOT_ARTIFACTS"] else { return }
        for (name, figure) in try Fixtures.all() {
            try figure.write(to: URL(fileURLWithPath: path), name: "fixture-\(name)")
        }
    }
}
