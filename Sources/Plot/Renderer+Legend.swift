import Foundation
@preconcurrency import CCairo

/// The little picture beside a legend label.
enum LegendSwatch {
    case line(LineStyle, Color)
    case patch(fill: Color, edge: Color?)
    case marker(Marker, Color)
}

/// One legend row: swatch and label.
struct LegendEntry {
    let block: TextBlock
    let swatch: LegendSwatch
}

/// A laid-out legend: entries at offsets from the box's top-left corner.
struct LegendBox {
    var entries: [LegendEntry]
    /// Top-left of each entry's swatch column, relative to the box.
    var offsets: [(x: Double, y: Double)]
    var width: Double
    var height: Double
    var framed: Bool
    var rowHeight: Double
}

extension Canvas {
    static let swatchWidth = 14.0
    static let swatchGap = 4.0

    /// Legend entries for the labelled series of `axes`.
    func legendEntries(_ axes: Axes, colors: [Color]) -> [LegendEntry] {
        zip(axes.series, colors).compactMap { s, color in
            guard let label = s.label else { return nil }
            let swatch: LegendSwatch
            switch s.mark {
            case .line(_, _, let style): swatch = .line(style, color)
            case .histogram(_, _, .filled): swatch = .patch(fill: color.opacity(theme.fillOpacity), edge: color)
            case .histogram(_, _, .step): swatch = .line(LineStyle(), color)
            case .bars: swatch = .patch(fill: color, edge: nil)
            case .points(_, _, let marker, _, _): swatch = .marker(marker, color)
            }
            return LegendEntry(block: text.block(label, .legend), swatch: swatch)
        }
    }

    /// Lays out entries in one column (`maxWidth` nil) or in rows that wrap at `maxWidth`.
    func legendBox(_ entries: [LegendEntry], maxWidth: Double?, framed: Bool) -> LegendBox {
        let inner = framed ? theme.padding : 0
        let rowHeight = Swift.max(entries.map(\.block.height).max() ?? 0, theme.markerSize + 2)
        var offsets: [(x: Double, y: Double)] = []
        var width = 0.0, height = 0.0
        if let maxWidth {
            // As many aligned columns as fit in maxWidth, then balanced so the last row is not
            // nearly empty; entries run left to right, then down.
            let gap = 12.0
            let widths = entries.map { Canvas.swatchWidth + Canvas.swatchGap + $0.block.width }
            func columnWidths(_ columns: Int) -> [Double] {
                (0..<columns).map { c in stride(from: c, to: entries.count, by: columns).map { widths[$0] }.max() ?? 0 }
            }
            var columns = Swift.max(entries.count, 1)
            while columns > 1, columnWidths(columns).reduce(0, +) + gap * Double(columns - 1) > maxWidth { columns -= 1 }
            let rows = (entries.count + columns - 1) / columns
            columns = Swift.max(1, (entries.count + rows - 1) / Swift.max(rows, 1))
            let columnWidth = columnWidths(columns)
            for i in entries.indices {
                let c = i % columns, r = i / columns
                let x = columnWidth[..<c].reduce(0, +) + gap * Double(c)
                offsets.append((x, Double(r) * (rowHeight + 1)))
            }
            width = columnWidth.reduce(0, +) + gap * Double(columns - 1)
            height = Double(rows) * (rowHeight + 1) - 1
        } else {
            for (i, entry) in entries.enumerated() {
                offsets.append((inner, inner + Double(i) * (rowHeight + 1)))
                width = Swift.max(width, Canvas.swatchWidth + Canvas.swatchGap + entry.block.width)
            }
            width += 2 * inner
            height = Double(entries.count) * (rowHeight + 1) - 1 + 2 * inner
        }
        return LegendBox(entries: entries, offsets: offsets, width: width, height: height, framed: framed, rowHeight: rowHeight)
    }

    /// The legend's rectangle when placed inside the plot at `corner`.
    func legendRect(_ box: LegendBox, corner: Legend.Corner, plot: Rect) -> Rect {
        let inset = theme.padding * 1.5
        let left = corner == .upperLeft || corner == .lowerLeft
        let upper = corner == .upperLeft || corner == .upperRight
        return Rect(x: left ? plot.x + inset : plot.maxX - inset - box.width,
                    y: upper ? plot.y + inset : plot.maxY - inset - box.height,
                    width: box.width, height: box.height)
    }

    func drawLegend(_ box: LegendBox, in rect: Rect) {
        if box.framed {
            rectangle(rect)
            setColor(theme.background.alpha > 0 ? theme.background.opacity(0.85) : Color.white.opacity(0.85))
            cairo_fill_preserve(cr)
            setColor(Color(hex: 0xC8C8C8))
            cairo_set_line_width(cr, theme.axisLineWidth * 0.7)
            cairo_stroke(cr)
        }
        for (entry, offset) in zip(box.entries, box.offsets) {
            let x = rect.x + offset.x, y = rect.y + offset.y
            let midY = y + box.rowHeight / 2
            let w = Canvas.swatchWidth
            switch entry.swatch {
            case .line(let style, let color):
                let width = style.width ?? theme.lineWidth
                cairo_new_path(cr)
                cairo_move_to(cr, x, midY)
                cairo_line_to(cr, x + w, midY)
                strokeStyled(style.dash, width: width, color: color)
                if let marker = style.marker {
                    drawMarker(marker, x: x + w / 2, y: midY, size: theme.markerSize, color: color)
                }
            case .patch(let fill, let edge):
                let h = Swift.min(box.rowHeight * 0.7, 7)
                let r = Rect(x: x + 1, y: midY - h / 2, width: w - 2, height: h)
                rectangle(r)
                setColor(fill)
                cairo_fill(cr)
                if let edge {
                    rectangle(r)
                    cairo_set_line_width(cr, theme.lineWidth * 0.8)
                    setColor(edge)
                    cairo_stroke(cr)
                }
            case .marker(let marker, let color):
                drawMarker(marker, x: x + w / 2, y: midY, size: Swift.max(theme.pointSize * 1.6, 4), color: color)
            }
            text.draw(entry.block, x: x + w + Canvas.swatchGap, y: midY, anchor: .centerLeft, color: theme.foreground)
        }
    }
}
