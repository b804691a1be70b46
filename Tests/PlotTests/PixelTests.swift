import Foundation
import Testing
@preconcurrency import CCairo
@testable import Plot

@Suite struct Pixels {
    @Test func nearestNeighbourBlocksAreUniform() throws {
        // One 4 × 4 image with 16 distinct grey levels, drawn ~100 device pixels per image pixel
        // at a non-integer scale; every block interior must be exactly its grey level.
        let grid = try ImageGrid([[Fixtures.ramp]])
        let raster = try Figure(grid, width: 120, height: 120).rasterize(dpi: 250)
        let cell = try #require(raster.geometry[0].cells[0][0])
        let block = cell.width / 4 * raster.scale
        #expect(block > 20, "blocks of \(block) px are too small to test")
        let table = ColorMap.grey.lookupTable()
        for row in 0..<4 {
            for column in 0..<4 {
                let expected = table[Int((Double(row * 4 + column) / 15 * 255).rounded())]
                let (x0, y0) = raster.pixelPosition(x: cell.x + Double(column) * cell.width / 4, y: cell.y + Double(row) * cell.height / 4)
                var seen = Set<UInt8>()
                for y in (y0 + 2)..<(y0 + Int(block) - 2) {
                    for x in (x0 + 2)..<(x0 + Int(block) - 2) {
                        let p = raster.pixel(x, y)
                        #expect(p.r == p.g && p.g == p.b && p.a == 255)
                        seen.insert(p.r)
                    }
                }
                #expect(seen == [expected.0], "block (\(row), \(column)): grey levels \(seen.sorted()), expected \(expected.0)")
            }
        }
    }

    @Test func histogramBarHeightsMatchTheData() throws {
        // Counts 1, 3, 2, 4 in bins [0,1) [1,2) [2,3) [3,4].
        let values: [Double] = [0.5, 1.2, 1.5, 1.7, 2.1, 2.9, 3.0, 3.3, 3.6, 4.0]
        var theme = Theme.paper
        theme.lineWidth = 1
        let axes = try Axes.histogram(of: [HistogramDataset("d", values: values, color: Color(hex: 0x0000FF))],
                                      bins: .edges([0, 1, 2, 3, 4]), normalization: .count, xLabel: "x", legend: .hidden)
        let raster = try Figure(axes, width: 200, height: 160, theme: theme).rasterize(dpi: 144)
        let geometry = raster.geometry[0]
        let plot = try #require(geometry.plot), x = try #require(geometry.x), y = try #require(geometry.y)
        for (bin, count) in [1.0, 3, 2, 4].enumerated() {
            let (column, _) = raster.pixelPosition(x: x(Double(bin) + 0.5), y: 0)
            let (_, top) = raster.pixelPosition(x: 0, y: plot.y)
            let (_, bottom) = raster.pixelPosition(x: 0, y: plot.maxY)
            // The first non-white pixel from the top is the outline on the bin's top edge.
            let firstInk = (top..<bottom).first { row in raster.pixel(column, row).r < 200 }
            let expected = y(count) * raster.scale + Double(raster.border)
            let ink = try #require(firstInk, "bin \(bin): no bar found")
            #expect(abs(Double(ink) - expected) <= theme.lineWidth / 2 * raster.scale + 1.5,
                    "bin \(bin): bar top at row \(ink), expected \(expected) for count \(count)")
            // Below the outline: the translucent fill (blue at 35 % over white).
            let fill = raster.pixel(column, Int((expected + y(0) * raster.scale) / 2))
            #expect(fill.b == 255 && abs(Int(fill.r) - 166) <= 2, "bin \(bin): fill \(fill)")
        }
    }

    @Test(arguments: try Fixtures.all().map(\.0))
    func nothingIsDrawnOutsideTheCanvas(_ name: String) throws {
        // Clipping off: the layout itself must keep every mark and label inside the canvas, and
        // leave the outermost pixel ring as plain background.
        let figure = try #require(try Fixtures.all().first { $0.0 == name }?.1)
        let border = 12
        let raster = try figure.rasterize(dpi: 144, border: border, clip: false)
        for y in 0..<raster.height {
            for x in 0..<raster.width {
                let outside = x < border || y < border || x >= raster.width - border || y >= raster.height - border
                let ring = !outside && (x == border || y == border || x == raster.width - border - 1 || y == raster.height - border - 1)
                let p = raster.pixel(x, y)
                if outside, p.a != 0 {
                    Issue.record("\(name): pixel (\(x - border), \(y - border)) drawn outside the canvas")
                    return
                }
                if ring, (p.r, p.g, p.b) != (255, 255, 255) {
                    Issue.record("\(name): pixel (\(x - border), \(y - border)) on the canvas edge is not background: \(p)")
                    return
                }
            }
        }
    }

    @Test func drawingOntoACallersContextStaysInItsRectangle() throws {
        // The report's path: a figure drawn at an offset onto a page it does not own.
        let figure = try Fixtures.histogram() // 240 × 150 pt
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 400, 300)!
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        try figure.draw(into: cr, x: 50, y: 60)
        cairo_destroy(cr)
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = UnsafeRawPointer(cairo_image_surface_get_data(surface)!)
        var inside = 0
        for y in 0..<300 {
            for x in 0..<400 {
                let alpha = data.load(fromByteOffset: y * stride + x * 4, as: UInt32.self) >> 24
                let within = x >= 50 && x < 290 && y >= 60 && y < 210
                if !within, alpha != 0 {
                    Issue.record("pixel (\(x), \(y)) drawn outside the figure's rectangle")
                    return
                }
                if within, alpha == 255 { inside += 1 }
            }
        }
        #expect(inside == 240 * 150)
    }
}
