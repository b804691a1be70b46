import Foundation
@preconcurrency import CCairo

/// The result of laying out an ``ImageGrid`` panel.
struct ImageGridLayout {
    var cells: [[Rect?]]
    var rowLabels: [(block: TextBlock, x: Double, y: Double)]
    var columnLabels: [(block: TextBlock, x: Double, y: Double)]
    var colorBars: [(rect: Rect, range: ClosedRange<Double>)]
    var header: PanelHeader
    var gridFrame: Rect
    /// Height from the top of the frame to the bottom of the lowest drawn item.
    var contentHeight: Double
}

extension Canvas {
    static let colorBarWidth = 7.0
    static let colorBarGap = 6.0

    func imageGridLayout(_ grid: ImageGrid, in frame: Rect, letter: Label?) -> ImageGridLayout {
        let pad = theme.padding
        let header = panelHeader(title: grid.title, letter: letter)
        var top = frame.y + (header.height > 0 ? header.height + pad : 0)
        let columnBlocks = grid.columnLabels.map { text.block($0, .label) }
        let rowBlocks = grid.rowLabels.map { text.block($0, .label) }
        let columnLabelHeight = columnBlocks.isEmpty ? 0 : (columnBlocks.map(\.height).max() ?? 0) + pad * 0.5
        let rowLabelWidth = rowBlocks.isEmpty ? 0 : (rowBlocks.map(\.width).max() ?? 0) + pad * 1.5

        let ranges = grid.valueRanges()
        let showBars = grid.colorBar && grid.hasGrey && grid.scope != .image
        var barWidth = 0.0
        if showBars {
            let shared = ranges.flatMap { $0.compactMap { $0 } }
            let widths = shared.flatMap { range in
                Scale.linear.ticks(in: range, targetCount: 4).compactMap { $0.label.map { text.block($0, .tick).width } }
            }
            barWidth = Canvas.colorBarGap + Canvas.colorBarWidth + theme.tickLength + pad * 0.7 + (widths.max() ?? 0)
            if grid.colorBarLabel != nil { barWidth += pad + text.lineHeight(.label) }
        }

        // Tick labels at the ends of a colour bar stick out by half a line.
        let barOverhang = showBars ? text.lineHeight(.tick) / 2 : 0
        if showBars, columnBlocks.isEmpty { top += barOverhang }
        let rows = grid.rows, columns = grid.columns
        let images = grid.images.flatMap { $0.compactMap { $0 } }
        let maxWidth = Double(images.map(\.width).max() ?? 1), maxHeight = Double(images.map(\.height).max() ?? 1)
        let aspect = maxWidth / maxHeight
        let gap = grid.gap
        let availableWidth = frame.width - rowLabelWidth - barWidth
        let availableHeight = frame.maxY - top - columnLabelHeight - barOverhang
        let cellWidth = Swift.max(1, Swift.min((availableWidth - Double(columns - 1) * gap) / Double(columns),
                                               (availableHeight - Double(rows - 1) * gap) / Double(rows) * aspect))
        let cellHeight = cellWidth / aspect
        let gridWidth = Double(columns) * cellWidth + Double(columns - 1) * gap
        let gridHeight = Double(rows) * cellHeight + Double(rows - 1) * gap
        let x0 = frame.x + (frame.width - (rowLabelWidth + gridWidth + barWidth)) / 2 + rowLabelWidth
        // Keep the grid near its title and labels: top-aligned, but centred when it is much shorter.
        let spare = availableHeight - gridHeight
        if spare > 0, frame.height < 1e5 { top += spare / 2 }
        let y0 = top + columnLabelHeight

        var cells: [[Rect?]] = []
        for (r, row) in grid.images.enumerated() {
            cells.append(row.enumerated().map { c, image in
                guard let image else { return nil }
                let cell = Rect(x: x0 + Double(c) * (cellWidth + gap), y: y0 + Double(r) * (cellHeight + gap),
                                width: cellWidth, height: cellHeight)
                // Fit the image in its cell, keeping its own aspect ratio.
                let s = Swift.min(cellWidth / Double(image.width), cellHeight / Double(image.height))
                let w = s * Double(image.width), h = s * Double(image.height)
                return Rect(x: cell.midX - w / 2, y: cell.midY - h / 2, width: w, height: h)
            })
        }
        var colorBars: [(rect: Rect, range: ClosedRange<Double>)] = []
        if showBars {
            let barX = x0 + gridWidth + Canvas.colorBarGap
            switch grid.scope {
            case .grid:
                if let range = ranges.lazy.flatMap({ $0.compactMap { $0 } }).first {
                    colorBars.append((Rect(x: barX, y: y0, width: Canvas.colorBarWidth, height: gridHeight), range))
                }
            case .row:
                for (r, row) in ranges.enumerated() {
                    guard let range = row.compactMap({ $0 }).first,
                          grid.images[r].contains(where: { $0?.channels == .grey }) else { continue }
                    colorBars.append((Rect(x: barX, y: y0 + Double(r) * (cellHeight + gap), width: Canvas.colorBarWidth,
                                           height: cellHeight), range))
                }
            case .image:
                break
            }
        }
        let rowLabels = zip(rowBlocks, 0...).map { block, r in
            (block: block, x: x0 - pad * 1.5, y: y0 + Double(r) * (cellHeight + gap) + cellHeight / 2)
        }
        let columnLabels = zip(columnBlocks, 0...).map { block, c in
            (block: block, x: x0 + Double(c) * (cellWidth + gap) + cellWidth / 2, y: y0 - pad * 0.5)
        }
        return ImageGridLayout(cells: cells, rowLabels: rowLabels, columnLabels: columnLabels, colorBars: colorBars,
                               header: header, gridFrame: Rect(x: x0, y: y0, width: gridWidth, height: gridHeight),
                               contentHeight: y0 + gridHeight + barOverhang - frame.y)
    }

    func drawImageGrid(_ grid: ImageGrid, in frame: Rect, letter: Label?) -> PanelGeometry {
        let layout = imageGridLayout(grid, in: frame, letter: letter)
        let ranges = grid.valueRanges()
        let table = grid.colorMap.lookupTable()
        for (r, row) in grid.images.enumerated() {
            for (c, image) in row.enumerated() {
                guard let image, let rect = layout.cells[r][c], let range = ranges[r][c] else { continue }
                drawImage(image, in: rect, range: range, table: table)
                if grid.colorMap != .grey || image.channels == .rgb {
                    rectangle(rect)
                    cairo_set_line_width(cr, 0.4)
                    setColor(Color(hex: 0x9A9A9A))
                    cairo_stroke(cr)
                }
            }
        }
        let fg = theme.foreground
        drawHeader(layout.header, frame: frame, centreX: layout.gridFrame.midX)
        for label in layout.rowLabels {
            text.draw(label.block, x: label.x, y: label.y, anchor: .centerRight, color: fg)
        }
        for label in layout.columnLabels {
            text.draw(label.block, x: label.x, y: label.y, anchor: .bottomCenter, color: fg)
        }
        for (index, bar) in layout.colorBars.enumerated() {
            // Stacked per-row bars: leave out end labels that would collide with a neighbour's.
            let stacked = grid.scope == .row
            drawColorBar(bar.rect, range: bar.range, map: grid.colorMap, label: grid.colorBarLabel,
                         trimTop: stacked && index > 0, trimBottom: stacked && index < layout.colorBars.count - 1)
        }
        return PanelGeometry(frame: frame, cells: layout.cells, colorBars: layout.colorBars.map(\.rect))
    }

    /// Draws `image` into `rect` with nearest-neighbour scaling. Grey values are normalised by
    /// `range` and coloured through `table`.
    private func drawImage(_ image: PlotImage, in rect: Rect, range: ClosedRange<Double>, table: [(UInt8, UInt8, UInt8)]) {
        // SVG loses the nearest filter in cairo 1.16: upscale by whole pixels so viewers that
        // smooth images blur only a thin seam between blocks.
        let factor = isSVG ? Swift.max(1, Swift.min(16, Int((4 * rect.width / Double(image.width)).rounded(.up)))) : 1
        let width = image.width * factor, height = image.height * factor
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else { return }
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else { return }
        let stride = Int(cairo_image_surface_get_stride(surface))
        let raw = UnsafeMutableRawPointer(data)
        let lo = range.lowerBound, span = range.upperBound - range.lowerBound
        let last = Double(table.count - 1)
        image.pixels.withUnsafeBufferPointer { pixels in
            for py in 0..<image.height {
                for px in 0..<image.width {
                    let rgb: (UInt8, UInt8, UInt8)
                    switch image.channels {
                    case .grey:
                        let t = Swift.min(Swift.max((pixels[py * image.width + px] - lo) / span, 0), 1)
                        rgb = table[Int((t * last).rounded())]
                    case .rgb:
                        let base = (py * image.width + px) * 3
                        rgb = Color(red: pixels[base], green: pixels[base + 1], blue: pixels[base + 2]).bytes
                    }
                    let value = 0xFF00_0000 | UInt32(rgb.0) << 16 | UInt32(rgb.1) << 8 | UInt32(rgb.2)
                    for dy in 0..<factor {
                        let row = (py * factor + dy) * stride
                        for dx in 0..<factor {
                            raw.storeBytes(of: value, toByteOffset: row + (px * factor + dx) * 4, as: UInt32.self)
                        }
                    }
                }
            }
        }
        cairo_surface_mark_dirty(surface)
        cairo_save(cr)
        cairo_translate(cr, rect.x, rect.y)
        cairo_scale(cr, rect.width / Double(width), rect.height / Double(height))
        cairo_set_source_surface(cr, surface, 0, 0)
        let pattern = cairo_get_source(cr)
        cairo_pattern_set_filter(pattern, CAIRO_FILTER_NEAREST)
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
        cairo_rectangle(cr, 0, 0, Double(width), Double(height))
        cairo_fill(cr)
        cairo_restore(cr)
    }

    /// A vertical colour bar with ticks on its right and an optional rotated title.
    private func drawColorBar(_ rect: Rect, range: ClosedRange<Double>, map: ColorMap, label: Label?, trimTop: Bool, trimBottom: Bool) {
        let gradient = cairo_pattern_create_linear(0, rect.maxY, 0, rect.y)!
        let stops = 32
        for i in 0...stops {
            let t = Double(i) / Double(stops)
            let c = map.color(at: t)
            cairo_pattern_add_color_stop_rgb(gradient, t, c.red, c.green, c.blue)
        }
        rectangle(rect)
        cairo_set_source(cr, gradient)
        cairo_fill(cr)
        cairo_pattern_destroy(gradient)
        rectangle(rect)
        cairo_set_line_width(cr, theme.axisLineWidth * 0.8)
        setColor(theme.foreground)
        cairo_stroke(cr)

        let mapValue = AxisMap(scale: .linear, domain: range, start: rect.maxY, end: rect.y)
        let tickHeight = text.lineHeight(.tick)
        var widest = 0.0
        for tick in Scale.linear.ticks(in: range, targetCount: Swift.max(3, Int(rect.height / 20))) {
            let py = mapValue(tick.value)
            if trimTop, py - rect.y < tickHeight / 2 - 1 { continue }
            if trimBottom, rect.maxY - py < tickHeight / 2 - 1 { continue }
            line(rect.maxX, py, rect.maxX + theme.tickLength, py, width: theme.axisLineWidth, color: theme.foreground)
            if let tickLabel = tick.label {
                let block = text.block(tickLabel, .tick)
                widest = Swift.max(widest, block.width)
                text.draw(block, x: rect.maxX + theme.tickLength + theme.padding * 0.7, y: py, anchor: .centerLeft,
                          color: theme.foreground)
            }
        }
        if let label {
            let block = text.block(label, .label)
            let x = rect.maxX + theme.tickLength + theme.padding * 0.7 + widest + theme.padding + block.height / 2
            text.draw(block, x: x, y: rect.midY, anchor: .center, angle: .pi / 2, color: theme.foreground)
        }
    }
}
