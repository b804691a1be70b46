/// One line of a line chart, e.g. training loss against epoch.
public struct LineSeries: Sendable {
    /// Legend text, or nil to leave the line out of the legend.
    public var name: Label?
    /// x values (e.g. epochs or PCA dimensions).
    public var x: [Double]
    /// y values, one per x.
    public var y: [Double]
    /// Left (primary) or right (secondary) y-axis.
    public var axis: YAxis
    /// Marker at each point; nil takes the chart's automatic marker, if any.
    public var marker: Marker?
    /// Dash pattern.
    public var dash: Dash
    /// Colour, or nil for the palette's next one.
    public var color: Color?

    /// A line.
    ///
    /// - Parameters:
    ///   - name: legend text.
    ///   - x: x values.
    ///   - y: y values, as many as x.
    ///   - axis: `.primary` (left) or `.secondary` (right) y-axis.
    ///   - marker: marker at the points.
    ///   - dash: dash pattern.
    ///   - color: colour, or nil for the palette's.
    public init(_ name: Label?, x: [Double], y: [Double], axis: YAxis = .primary, marker: Marker? = nil,
                dash: Dash = .solid, color: Color? = nil) {
        self.name = name
        self.x = x
        self.y = y
        self.axis = axis
        self.marker = marker
        self.dash = dash
        self.color = color
    }
}

extension Axes {
    /// A line chart of several series, optionally with a second y-axis on the right (e.g. loss
    /// on the left and AUROC on the right against epoch, or AUROC against PCA dimension on a
    /// log x-axis).
    ///
    /// - Parameters:
    ///   - series: the lines.
    ///   - xLabel: x-axis title.
    ///   - yLabel: left y-axis title.
    ///   - secondaryYLabel: right y-axis title (the axis exists when a series uses it).
    ///   - xScale: linear or log x.
    ///   - yScale: linear or log left y.
    ///   - secondaryYScale: linear or log right y.
    ///   - markers: give series without a marker one from a fixed cycle (circle, square,
    ///     triangle, …) so lines stay apart in greyscale.
    ///   - grid: light horizontal grid lines.
    ///   - legend: legend placement.
    /// - Throws: ``PlotError`` naming the series with empty, mismatched or non-finite data.
    public static func lines(_ series: [LineSeries], xLabel: Label?, yLabel: Label?, secondaryYLabel: Label? = nil,
                             xScale: Scale = .linear, yScale: Scale = .linear, secondaryYScale: Scale = .linear,
                             markers: Bool = true, grid: Bool = false, legend: Legend = .automatic) throws -> Axes {
        guard !series.isEmpty else { throw PlotError.empty("line chart (no series)") }
        let cycle: [Marker] = [.circle, .square, .triangle, .diamond, .invertedTriangle, .cross]
        let built = series.enumerated().map { index, line in
            let marker = line.marker ?? (markers ? cycle[index % cycle.count] : nil)
            return Series(.line(x: line.x, y: line.y, style: LineStyle(dash: line.dash, marker: marker)),
                          label: line.name, color: line.color, axis: line.axis)
        }
        let usesSecondary = series.contains { $0.axis == .secondary }
        let axes = Axes(series: built, x: Axis(xLabel, scale: xScale), y: Axis(yLabel, scale: yScale, grid: grid),
                        secondaryY: usesSecondary ? Axis(secondaryYLabel, scale: secondaryYScale) : nil, legend: legend)
        try axes.validate(panel: 0)
        return axes
    }
}
