import Foundation
@preconcurrency import CCairo

/// Smallest and largest value along one axis, and whether the data pins each end (a pinned end,
/// like the zero baseline of a histogram, gets no margin).
struct Extent {
    var low = Double.infinity
    var high = -Double.infinity
    var stickyLow = false
    var stickyHigh = false

    var isEmpty: Bool { low > high }

    mutating func include(_ value: Double, sticky: Bool = false) {
        if value < low {
            low = value
            stickyLow = sticky
        } else if value == low {
            stickyLow = stickyLow || sticky
        }
        if value > high {
            high = value
            stickyHigh = sticky
        } else if value == high {
            stickyHigh = stickyHigh || sticky
        }
    }

    mutating func include(_ other: Extent) {
        if other.isEmpty { return }
        include(other.low, sticky: other.stickyLow)
        include(other.high, sticky: other.stickyHigh)
    }

    /// The visible range for this extent on `axis` (its limits win).
    func domain(for axis: Axis) -> ClosedRange<Double> {
        if let limits = axis.limits { return limits }
        if isEmpty { return axis.scale == .log ? 1...10 : 0...1 }
        return visibleDomain(low: low, high: high, scale: axis.scale, margin: axis.margin,
                             stickyLow: stickyLow, stickyHigh: stickyHigh)
    }
}

extension Mark {
    /// The x-range the mark covers.
    var xExtent: Extent {
        var e = Extent()
        switch self {
        case .line(let x, _, _), .points(let x, _, _, _, _):
            for v in x { e.include(v) }
        case .histogram(let edges, _, _):
            e.include(edges[0])
            e.include(edges[edges.count - 1])
        case .bars(let x, _, let width, _):
            for v in x {
                e.include(v - width / 2)
                e.include(v + width / 2)
            }
        }
        return e
    }

    /// The y-range the mark covers on a y-axis of the given scale.
    func yExtent(scale: Scale) -> Extent {
        var e = Extent()
        switch self {
        case .line(_, let y, _), .points(_, let y, _, _, _):
            for v in y { e.include(v) }
        case .histogram(_, let heights, _):
            if scale == .log {
                for h in heights where h > 0 { e.include(h) }
            } else {
                e.include(0, sticky: true)
                for h in heights { e.include(h) }
            }
        case .bars(_, let values, _, let errors):
            e.include(0, sticky: true)
            for (i, v) in values.enumerated() {
                let err = errors?[i] ?? 0
                e.include(v - err)
                e.include(v + err)
            }
        }
        return e
    }
}

/// A tick with its laid-out label.
struct TickMark {
    let tick: Tick
    let block: TextBlock?
}

/// The result of laying out an ``Axes`` panel.
struct AxesLayout {
    var plot: Rect
    var x: AxisMap
    var y: AxisMap
    var y2: AxisMap?
    var xTicks: [TickMark]
    var yTicks: [TickMark]
    var y2Ticks: [TickMark]
    /// Rotation of the x tick labels (radians; non-zero when category names would overlap).
    var xTickAngle: Double
    /// Extra depth below the x tick labels taken by rotated labels.
    var xTickDepth: Double
    var legend: LegendBox?
    var legendMode: LegendMode
}

/// Where a legend ended up after the automatic choice.
enum LegendMode: Equatable {
    case none
    case inside(Legend.Corner)
    case above
    case right
}

extension Canvas {
    /// Draws `axes` inside `frame` and returns where its parts went.
    func drawAxes(_ axes: Axes, in frame: Rect, letter: Label?) -> PanelGeometry {
        var axes = axes
        let colors = seriesColors(axes.series)
        let header = panelHeader(title: axes.title, letter: letter)
        let entries = legendEntries(axes, colors: colors)

        var mode: LegendMode
        switch axes.legend {
        case _ where entries.isEmpty: mode = .none
        case .hidden: mode = .none
        case .automatic: mode = .inside(.upperRight)
        case .inside(let corner): mode = .inside(corner)
        case .above: mode = .above
        case .right: mode = .right
        }
        var layout = layoutAxes(axes, frame: frame, headerHeight: header.height, legendMode: mode, entries: entries)
        if axes.legend == .automatic, !entries.isEmpty, let box = layout.legend {
            let samples = axes.series.flatMap { s in
                samplePoints(s.mark, x: layout.x, y: s.axis == .secondary ? (layout.y2 ?? layout.y) : layout.y)
            }
            let free = Legend.Corner.allCases.first { corner in
                let r = legendRect(box, corner: corner, plot: layout.plot).insetBy(-2)
                return !samples.contains { r.contains($0.0, $0.1) }
            }
            var placed = false
            if let free {
                mode = .inside(free)
                layout.legendMode = mode
                placed = true
            } else if let (corner, limits) = headroom(for: box, axes: axes, layout: layout, samples: samples) {
                // Raise the top of the y-axis to make room for the legend above the data.
                var widened = axes
                widened.y.limits = limits
                let candidate = layoutAxes(widened, frame: frame, headerHeight: header.height, legendMode: .inside(corner), entries: entries)
                let moved = widened.series.flatMap { samplePoints($0.mark, x: candidate.x, y: candidate.y) }
                let r = legendRect(box, corner: corner, plot: candidate.plot).insetBy(-2)
                if !moved.contains(where: { r.contains($0.0, $0.1) }) {
                    axes = widened
                    layout = candidate
                    mode = .inside(corner)
                    placed = true
                }
            }
            if !placed {
                mode = .above
                layout = layoutAxes(axes, frame: frame, headerHeight: header.height, legendMode: mode, entries: entries)
            }
        }

        drawGrid(axes, layout)
        cairo_save(cr)
        rectangle(layout.plot)
        cairo_clip(cr)
        for (s, color) in zip(axes.series, colors) {
            if case .histogram(let edges, let heights, .filled) = s.mark {
                let y = s.axis == .secondary ? (layout.y2 ?? layout.y) : layout.y
                histogramPath(edges: edges, heights: heights, x: layout.x, y: y, closed: true)
                setColor(color.opacity(theme.fillOpacity))
                cairo_fill(cr)
            }
        }
        for (s, color) in zip(axes.series, colors) {
            drawMark(s.mark, color: color, x: layout.x, y: s.axis == .secondary ? (layout.y2 ?? layout.y) : layout.y)
        }
        cairo_restore(cr)
        drawFrame(axes, layout, colors: colors)
        drawHeader(header, frame: frame, centreX: layout.plot.midX)

        var legendFrame: Rect?
        if let box = layout.legend {
            let rect: Rect
            switch mode {
            case .none: rect = Rect(x: 0, y: 0, width: 0, height: 0)
            case .inside(let corner): rect = legendRect(box, corner: corner, plot: layout.plot)
            case .above:
                rect = Rect(x: Swift.max(frame.x, Swift.min(layout.plot.midX - box.width / 2, frame.maxX - box.width)),
                            y: frame.y + (header.height > 0 ? header.height + theme.padding : 0),
                            width: box.width, height: box.height)
            case .right:
                rect = Rect(x: frame.maxX - box.width, y: layout.plot.y, width: box.width, height: box.height)
            }
            if mode != .none {
                drawLegend(box, in: rect)
                legendFrame = rect
            }
        }
        return PanelGeometry(frame: frame, plot: layout.plot, x: layout.x, y: layout.y, secondaryY: layout.y2,
                             legend: legendFrame)
    }

    /// An upper corner and raised y-limits that leave the legend clear of the data, if the top
    /// needs to rise by at most 60 % (only for a fitted, single y-axis).
    private func headroom(for box: LegendBox, axes: Axes, layout: AxesLayout,
                          samples: [(Double, Double)]) -> (Legend.Corner, ClosedRange<Double>)? {
        guard axes.y.limits == nil, axes.secondaryY == nil else { return nil }
        let plot = layout.plot
        var best: (corner: Legend.Corner, factor: Double)?
        for corner in [Legend.Corner.upperRight, .upperLeft] {
            let r = legendRect(box, corner: corner, plot: plot).insetBy(-4)
            guard let highest = samples.filter({ $0.0 >= r.x && $0.0 <= r.maxX }).map(\.1).min() else { continue }
            let free = plot.maxY - r.maxY
            guard free > plot.height * 0.4 else { continue }
            let factor = Swift.max(1, (plot.maxY - highest) / free)
            if factor <= 1.6, best == nil || factor < best!.factor { best = (corner, factor) }
        }
        guard let best else { return nil }
        let scale = axes.y.scale
        let a = scale.forward(layout.y.domain.lowerBound), b = scale.forward(layout.y.domain.upperBound)
        return (best.corner, layout.y.domain.lowerBound...scale.inverse(a + (b - a) * best.factor * 1.02))
    }

    /// Palette colours for series without their own, in order.
    func seriesColors(_ series: [Series]) -> [Color] {
        var next = 0
        return series.map { s in
            if let c = s.color { return c }
            defer { next += 1 }
            return theme.palette[next]
        }
    }

    // MARK: - Layout

    private func isHidden(_ axis: Axis) -> Bool {
        if case .hidden = axis.ticks { return true }
        return false
    }

    func layoutAxes(_ axes: Axes, frame: Rect, headerHeight: Double, legendMode: LegendMode,
                    entries: [LegendEntry]) -> AxesLayout {
        let pad = theme.padding, tickLength = theme.tickLength
        let tickHeight = text.lineHeight(.tick)
        let labelHeight = text.lineHeight(.label)

        var xExtent = Extent(), yExtent = Extent(), y2Extent = Extent()
        for s in axes.series {
            xExtent.include(s.mark.xExtent)
            if s.axis == .secondary {
                y2Extent.include(s.mark.yExtent(scale: axes.secondaryY?.scale ?? .linear))
            } else {
                yExtent.include(s.mark.yExtent(scale: axes.y.scale))
            }
        }
        let xDomain = xExtent.domain(for: axes.x)
        let yDomain = yExtent.domain(for: axes.y)
        let y2Domain = axes.secondaryY.map { y2Extent.domain(for: $0) }

        let showX = !isHidden(axes.x), showY = !isHidden(axes.y)
        let showY2 = axes.secondaryY.map { !isHidden($0) } ?? false

        var top = frame.y + (headerHeight > 0 ? headerHeight + pad : 0)
        var legend: LegendBox?
        var legendRight = 0.0
        switch legendMode {
        case .none: break
        case .inside: legend = legendBox(entries, maxWidth: nil, framed: true)
        case .above:
            let box = legendBox(entries, maxWidth: frame.width, framed: false)
            legend = box
            top += box.height + pad
        case .right:
            let box = legendBox(entries, maxWidth: nil, framed: false)
            legend = box
            legendRight = box.width + 2 * pad
        }
        let plotTop = top + (showY || showY2 ? tickHeight / 2 : pad)
        let bottom = frame.maxY - (axes.x.label != nil ? labelHeight + pad : 0)
            - (showX ? tickLength + pad * 0.5 + tickHeight : pad)
        let left = frame.x + (axes.y.label != nil ? labelHeight + pad : 0) + (showY ? tickLength + pad * 0.7 : 0)
        let rightEdge = frame.maxX - legendRight
            - (axes.secondaryY?.label != nil ? labelHeight + pad : 0) - (showY2 ? tickLength + pad * 0.7 : 0)

        var extraLeft = 0.0, extraRight = 0.0
        var layout: AxesLayout!
        for _ in 0..<3 {
            let xTickDepth = layout?.xTickDepth ?? 0
            let plotBottom = Swift.max(bottom - xTickDepth, plotTop + 10)
            let plotHeight = plotBottom - plotTop
            let yMap = AxisMap(scale: axes.y.scale, domain: yDomain, start: plotBottom, end: plotTop)
            let yTicks = verticalTicks(axes.y, yMap, length: plotHeight)
            let yWidth = yTicks.compactMap { $0.block?.width }.max() ?? 0
            var y2Map: AxisMap?
            var y2Ticks: [TickMark] = []
            if let axis = axes.secondaryY, let domain = y2Domain {
                let map = AxisMap(scale: axis.scale, domain: domain, start: plotBottom, end: plotTop)
                y2Map = map
                y2Ticks = verticalTicks(axis, map, length: plotHeight)
            }
            let y2Width = y2Ticks.compactMap { $0.block?.width }.max() ?? 0
            let plotLeft = left + yWidth + extraLeft
            let plotRight = Swift.max(rightEdge - y2Width - extraRight, plotLeft + 10)
            let plot = Rect(x: plotLeft, y: plotTop, width: plotRight - plotLeft, height: plotHeight)
            let xMap = AxisMap(scale: axes.x.scale, domain: xDomain, start: plotLeft, end: plotRight)
            let (xTicks, angle) = horizontalTicks(axes.x, xMap, length: plot.width)
            var depth = 0.0
            if angle != 0 {
                let deepest = xTicks.compactMap { $0.block }.map { $0.width * sin(angle) + $0.height * cos(angle) }.max() ?? 0
                depth = Swift.max(0, deepest - tickHeight)
            }
            layout = AxesLayout(plot: plot, x: xMap, y: yMap, y2: y2Map, xTicks: xTicks, yTicks: yTicks, y2Ticks: y2Ticks,
                                xTickAngle: angle, xTickDepth: depth, legend: legend, legendMode: legendMode)
            // Tick labels hanging past the frame push the plot area inwards.
            let labelled = xTicks.filter { $0.block != nil }
            if angle == 0, let first = labelled.first, let last = labelled.last {
                let leftmost = xMap(first.tick.value) - first.block!.width / 2
                let rightmost = xMap(last.tick.value) + last.block!.width / 2
                if leftmost < frame.x { extraLeft += frame.x - leftmost }
                let limit = frame.maxX - legendRight
                if rightmost > limit { extraRight += rightmost - limit }
            } else if angle != 0, let first = labelled.first {
                let leftmost = xMap(first.tick.value) - first.block!.width * cos(angle)
                if leftmost < frame.x { extraLeft += frame.x - leftmost }
            }
            if depth == xTickDepth, extraLeft == 0, extraRight == 0 { break }
        }
        return layout
    }

    private func verticalTicks(_ axis: Axis, _ map: AxisMap, length: Double) -> [TickMark] {
        let ticks: [Tick]
        switch axis.ticks {
        case .hidden: return []
        case .custom(let custom): ticks = custom.filter { map.contains($0.value) }
        case .automatic: ticks = axis.scale.ticks(in: map.domain, targetCount: Swift.max(2, Int((length / 24).rounded())))
        }
        return ticks.map { TickMark(tick: $0, block: $0.label.map { text.block($0, .tick) }) }
    }

    private func horizontalTicks(_ axis: Axis, _ map: AxisMap, length: Double) -> ([TickMark], Double) {
        switch axis.ticks {
        case .hidden:
            return ([], 0)
        case .custom(let custom):
            let marks = custom.filter { map.contains($0.value) }
                .map { TickMark(tick: $0, block: $0.label.map { text.block($0, .tick) }) }
            return (marks, overlaps(marks, map) ? Double.pi / 6 : 0)
        case .automatic:
            var target = Swift.max(2, Int((length / 48).rounded()))
            while true {
                let marks = axis.scale.ticks(in: map.domain, targetCount: target)
                    .map { TickMark(tick: $0, block: $0.label.map { text.block($0, .tick) }) }
                if !overlaps(marks, map) || target <= 2 { return (marks, 0) }
                target -= 1
            }
        }
    }

    private func overlaps(_ marks: [TickMark], _ map: AxisMap) -> Bool {
        let labelled = marks.filter { $0.block != nil }.sorted { $0.tick.value < $1.tick.value }
        for (a, b) in zip(labelled, labelled.dropFirst()) {
            let gap = abs(map(b.tick.value) - map(a.tick.value))
            if gap < (a.block!.width + b.block!.width) / 2 + 6 { return true }
        }
        return false
    }

    // MARK: - Drawing

    private func drawGrid(_ axes: Axes, _ layout: AxesLayout) {
        let width = theme.axisLineWidth * 0.8
        if axes.x.grid {
            for mark in layout.xTicks where mark.tick.isMajor {
                let px = layout.x(mark.tick.value)
                line(px, layout.plot.y, px, layout.plot.maxY, width: width, color: theme.gridColor)
            }
        }
        if axes.y.grid {
            for mark in layout.yTicks where mark.tick.isMajor {
                let py = layout.y(mark.tick.value)
                line(layout.plot.x, py, layout.plot.maxX, py, width: width, color: theme.gridColor)
            }
        }
    }

    /// Spines, ticks, tick labels, axis labels and the title.
    private func drawFrame(_ axes: Axes, _ layout: AxesLayout, colors: [Color]) {
        let plot = layout.plot
        let fg = theme.foreground
        let lw = theme.axisLineWidth
        let pad = theme.padding, tl = theme.tickLength
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE)
        line(plot.x, plot.maxY, plot.maxX, plot.maxY, width: lw, color: fg)
        line(plot.x, plot.y, plot.x, plot.maxY, width: lw, color: fg)
        let boxed = theme.frame == .box || (isHidden(axes.x) && isHidden(axes.y))
        if boxed || axes.secondaryY != nil {
            line(plot.maxX, plot.y, plot.maxX, plot.maxY, width: lw, color: fg)
        }
        if boxed {
            line(plot.x, plot.y, plot.maxX, plot.y, width: lw, color: fg)
        }
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)

        // Colour each y-axis like its series when two axes each carry exactly one series.
        var yColor = fg, y2Color = fg
        if axes.secondaryY != nil {
            let primary = zip(axes.series, colors).filter { $0.0.axis == .primary }
            let secondary = zip(axes.series, colors).filter { $0.0.axis == .secondary }
            if primary.count == 1, secondary.count == 1 {
                yColor = primary[0].1
                y2Color = secondary[0].1
            }
        }

        for mark in layout.xTicks {
            let px = layout.x(mark.tick.value)
            let length = mark.tick.isMajor ? tl : tl * 0.6
            line(px, plot.maxY, px, plot.maxY + length, width: lw, color: fg)
            if let block = mark.block {
                if layout.xTickAngle == 0 {
                    text.draw(block, x: px, y: plot.maxY + tl + pad * 0.5, anchor: .topCenter, color: fg)
                } else {
                    text.draw(block, x: px, y: plot.maxY + tl + pad * 0.5, anchor: .topRight, angle: layout.xTickAngle, color: fg)
                }
            }
        }
        for mark in layout.yTicks {
            let py = layout.y(mark.tick.value)
            let length = mark.tick.isMajor ? tl : tl * 0.6
            line(plot.x - length, py, plot.x, py, width: lw, color: fg)
            if let block = mark.block {
                text.draw(block, x: plot.x - tl - pad * 0.7, y: py, anchor: .centerRight, color: yColor)
            }
        }
        if let y2 = layout.y2 {
            for mark in layout.y2Ticks {
                let py = y2(mark.tick.value)
                let length = mark.tick.isMajor ? tl : tl * 0.6
                line(plot.maxX, py, plot.maxX + length, py, width: lw, color: fg)
                if let block = mark.block {
                    text.draw(block, x: plot.maxX + tl + pad * 0.7, y: py, anchor: .centerLeft, color: y2Color)
                }
            }
        }

        let tickHeight = text.lineHeight(.tick)
        if let label = axes.x.label {
            let block = text.block(label, .label)
            let below = layout.xTicks.isEmpty ? pad : tl + pad * 0.5 + tickHeight + layout.xTickDepth + pad
            text.draw(block, x: plot.midX, y: plot.maxY + below, anchor: .topCenter, color: fg)
        }
        if let label = axes.y.label {
            let block = text.block(label, .label)
            let width = layout.yTicks.compactMap { $0.block?.width }.max() ?? 0
            let offset = layout.yTicks.isEmpty ? pad : tl + pad * 0.7 + width + pad
            text.draw(block, x: plot.x - offset - block.height / 2, y: plot.midY, anchor: .center, angle: .pi / 2, color: yColor)
        }
        if let label = axes.secondaryY?.label {
            let block = text.block(label, .label)
            let width = layout.y2Ticks.compactMap { $0.block?.width }.max() ?? 0
            let offset = layout.y2Ticks.isEmpty ? pad : tl + pad * 0.7 + width + pad
            text.draw(block, x: plot.maxX + offset + block.height / 2, y: plot.midY, anchor: .center, angle: .pi / 2, color: y2Color)
        }
    }

    /// Draws one mark (the fills of filled histograms are drawn earlier, under everything).
    func drawMark(_ mark: Mark, color: Color, x: AxisMap, y: AxisMap) {
        switch mark {
        case .line(let xs, let ys, let style):
            let width = style.width ?? theme.lineWidth
            cairo_new_path(cr)
            for (i, (vx, vy)) in zip(xs, ys).enumerated() {
                if i == 0 { cairo_move_to(cr, x(vx), y(vy)) } else { cairo_line_to(cr, x(vx), y(vy)) }
            }
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
            strokeStyled(style.dash, width: width, color: color)
            if let marker = style.marker {
                cairo_new_path(cr)
                for (vx, vy) in zip(xs, ys) {
                    drawMarker(marker, x: x(vx), y: y(vy), size: theme.markerSize, color: color)
                }
            }
        case .histogram(let edges, let heights, _):
            histogramPath(edges: edges, heights: heights, x: x, y: y, closed: false)
            cairo_set_line_width(cr, theme.lineWidth)
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER)
            setColor(color)
            cairo_stroke(cr)
        case .bars(let xs, let values, let width, let errors):
            let base = y(0)
            setColor(color)
            for (vx, v) in zip(xs, values) {
                let x0 = x(vx - width / 2), x1 = x(vx + width / 2)
                cairo_rectangle(cr, x0, Swift.min(base, y(v)), x1 - x0, abs(y(v) - base))
            }
            cairo_fill(cr)
            if let errors {
                let cap = Swift.min(4, abs(x(width) - x(0)) * 0.35)
                cairo_new_path(cr)
                for (i, (vx, v)) in zip(xs, values).enumerated() where errors[i] > 0 {
                    let px = x(vx), lo = y(v - errors[i]), hi = y(v + errors[i])
                    cairo_move_to(cr, px, lo)
                    cairo_line_to(cr, px, hi)
                    cairo_move_to(cr, px - cap / 2, lo)
                    cairo_line_to(cr, px + cap / 2, lo)
                    cairo_move_to(cr, px - cap / 2, hi)
                    cairo_line_to(cr, px + cap / 2, hi)
                }
                cairo_set_line_width(cr, theme.axisLineWidth * 1.3)
                setColor(theme.foreground)
                cairo_stroke(cr)
            }
        case .points(let xs, let ys, let marker, let size, let opacity):
            let d = size ?? theme.pointSize
            cairo_new_path(cr)
            if markerIsFilled(marker) {
                for (vx, vy) in zip(xs, ys) { markerPath(marker, x: x(vx), y: y(vy), size: d) }
                setColor(color.opacity(opacity * color.alpha))
                cairo_fill(cr)
            } else {
                for (vx, vy) in zip(xs, ys) { drawMarker(marker, x: x(vx), y: y(vy), size: d, color: color.opacity(opacity)) }
            }
        }
    }

    /// The outline of a histogram: up and down the bins from the baseline; `closed` returns to
    /// the start along the baseline (for filling).
    func histogramPath(edges: [Double], heights: [Double], x: AxisMap, y: AxisMap, closed: Bool) {
        let base = y.scale == .log ? y.start + (y.start - y.end) * 0.01 : y(0)
        let top = { (h: Double) -> Double in
            y.scale == .log && h <= 0 ? base : y(h)
        }
        cairo_new_path(cr)
        if closed {
            cairo_move_to(cr, x(edges[0]), base)
            for (i, h) in heights.enumerated() {
                cairo_line_to(cr, x(edges[i]), top(h))
                cairo_line_to(cr, x(edges[i + 1]), top(h))
            }
            cairo_line_to(cr, x(edges[edges.count - 1]), base)
            cairo_close_path(cr)
            return
        }
        // The outline leaves the baseline only around non-empty bins (no line along the axis).
        var penDown = false
        for (i, h) in heights.enumerated() {
            if h > 0 {
                if !penDown {
                    cairo_move_to(cr, x(edges[i]), base)
                    penDown = true
                }
                cairo_line_to(cr, x(edges[i]), top(h))
                cairo_line_to(cr, x(edges[i + 1]), top(h))
            } else if penDown {
                cairo_line_to(cr, x(edges[i]), base)
                penDown = false
            }
        }
        if penDown { cairo_line_to(cr, x(edges[edges.count - 1]), base) }
    }

    /// Strokes the current path with a series' dash pattern (round caps for dashes), then
    /// resets dash and cap so later strokes are unaffected.
    func strokeStyled(_ dash: Dash, width: Double, color: Color) {
        cairo_set_line_width(cr, width)
        cairo_set_line_cap(cr, dash == .solid ? CAIRO_LINE_CAP_BUTT : CAIRO_LINE_CAP_ROUND)
        setDash(dash, width: width)
        setColor(color)
        cairo_stroke(cr)
        cairo_set_dash(cr, nil, 0, 0)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
    }

    func setDash(_ dash: Dash, width: Double) {
        let pattern: [Double]
        switch dash {
        case .solid: pattern = []
        case .dashed: pattern = [3.2 * width, 2.6 * width]
        case .dotted: pattern = [0, 2.2 * width]
        case .dashDot: pattern = [3.6 * width, 2.4 * width, 0, 2.4 * width]
        }
        pattern.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32($0.count), 0) }
    }

    func markerIsFilled(_ marker: Marker) -> Bool {
        marker != .cross
    }

    /// Adds the outline of `marker` centred at (x, y) with overall size `size` to the path.
    func markerPath(_ marker: Marker, x: Double, y: Double, size: Double) {
        let r = size / 2
        cairo_new_sub_path(cr)
        switch marker {
        case .circle:
            cairo_arc(cr, x, y, r, 0, 2 * .pi)
        case .square:
            let s = r * 0.85
            cairo_rectangle(cr, x - s, y - s, 2 * s, 2 * s)
        case .triangle, .invertedTriangle:
            let s = r * 1.2, sign = marker == .triangle ? 1.0 : -1.0
            cairo_move_to(cr, x, y - sign * s)
            cairo_line_to(cr, x + s * 0.866, y + sign * s * 0.5)
            cairo_line_to(cr, x - s * 0.866, y + sign * s * 0.5)
            cairo_close_path(cr)
        case .diamond:
            let s = r * 1.15
            cairo_move_to(cr, x, y - s)
            cairo_line_to(cr, x + s * 0.75, y)
            cairo_line_to(cr, x, y + s)
            cairo_line_to(cr, x - s * 0.75, y)
            cairo_close_path(cr)
        case .cross:
            let s = r * 0.9
            cairo_move_to(cr, x - s, y - s)
            cairo_line_to(cr, x + s, y + s)
            cairo_move_to(cr, x - s, y + s)
            cairo_line_to(cr, x + s, y - s)
        }
    }

    /// Draws one marker (filled, or stroked for the cross).
    func drawMarker(_ marker: Marker, x: Double, y: Double, size: Double, color: Color) {
        cairo_new_path(cr)
        markerPath(marker, x: x, y: y, size: size)
        setColor(color)
        if markerIsFilled(marker) {
            cairo_fill(cr)
        } else {
            cairo_set_line_width(cr, size * 0.22)
            cairo_stroke(cr)
        }
    }

    /// Points on the page that a legend placed inside the plot should not cover.
    func samplePoints(_ mark: Mark, x: AxisMap, y: AxisMap) -> [(Double, Double)] {
        var points: [(Double, Double)] = []
        switch mark {
        case .line(let xs, let ys, _):
            let p = zip(xs, ys).map { (x($0), y($1)) }
            points += p
            for (a, b) in zip(p, p.dropFirst()) {
                for k in 1..<12 {
                    let t = Double(k) / 12
                    points.append((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
                }
            }
        case .histogram(let edges, let heights, let style):
            let base = y.scale == .log ? y.start : y(0)
            for (i, h) in heights.enumerated() where h > 0 {
                let top = y(h)
                for fx in stride(from: 0.0, through: 1.0, by: 0.25) {
                    let px = x(edges[i]) + fx * (x(edges[i + 1]) - x(edges[i]))
                    points.append((px, top))
                    if style == .filled {
                        for fy in stride(from: 0.2, through: 1.0, by: 0.2) { points.append((px, top + fy * (base - top))) }
                    }
                }
            }
        case .bars(let xs, let values, let width, let errors):
            for (i, (vx, v)) in zip(xs, values).enumerated() {
                let top = y(v + (errors?[i] ?? 0)), base = y(0)
                for fx in stride(from: -0.5, through: 0.5, by: 0.25) {
                    for fy in stride(from: 0.0, through: 1.0, by: 0.2) {
                        points.append((x(vx + fx * width), top + fy * (base - top)))
                    }
                }
            }
        case .points(let xs, let ys, _, _, _):
            points = zip(xs, ys).map { (x($0), y($1)) }
        }
        return points
    }
}
