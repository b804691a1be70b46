/// One method's bars in a grouped bar chart: a value (and optional error) per category.
public struct BarSeries: Sendable {
    /// Legend text (e.g. the detector's name).
    public var name: Label
    /// One value per category.
    public var values: [Double]
    /// Symmetric error-bar half-lengths (e.g. standard deviations over seeds), or nil.
    public var errors: [Double]?
    /// Colour, or nil for the palette's next one.
    public var color: Color?

    /// A bar series.
    ///
    /// - Parameters:
    ///   - name: legend text.
    ///   - values: one value per category.
    ///   - errors: ± half-lengths of error bars, one per category, or nil.
    ///   - color: colour, or nil for the palette's.
    public init(_ name: Label, values: [Double], errors: [Double]? = nil, color: Color? = nil) {
        self.name = name
        self.values = values
        self.errors = errors
        self.color = color
    }
}

extension Axes {
    /// A grouped bar chart: one group per category along x (e.g. OOD datasets), one bar per
    /// series within each group (e.g. detection methods), with optional error bars.
    ///
    /// - Parameters:
    ///   - categories: group names under the x-axis.
    ///   - series: the bar series; each has one value per category.
    ///   - yLabel: y-axis title, e.g. "AUROC".
    ///   - xLabel: x-axis title, or nil.
    ///   - yLimits: fixed y range (e.g. `0...1` for AUROC), or nil to fit from 0.
    ///   - groupWidth: fraction of the category spacing taken by a group's bars.
    ///   - legend: legend placement.
    /// - Throws: ``PlotError`` naming a series whose values or errors don't match the categories.
    public static func groupedBars(categories: [Label], series: [BarSeries], yLabel: Label?, xLabel: Label? = nil,
                                   yLimits: ClosedRange<Double>? = nil, groupWidth: Double = 0.8,
                                   legend: Legend = .automatic) throws -> Axes {
        guard !categories.isEmpty else { throw PlotError.empty("bar chart categories") }
        guard !series.isEmpty else { throw PlotError.empty("bar chart (no series)") }
        guard groupWidth > 0, groupWidth <= 1 else {
            throw PlotError.invalidArgument("bar chart: groupWidth \(groupWidth) must be in (0, 1]")
        }
        let width = groupWidth / Double(series.count)
        var built: [Series] = []
        for (index, s) in series.enumerated() {
            let name = "series '\(s.name.markup)'"
            try requireCount(s.values, categories.count, series: name, field: "values")
            if let errors = s.errors { try requireCount(errors, categories.count, series: name, field: "errors") }
            let offset = -groupWidth / 2 + width * (Double(index) + 0.5)
            let x = categories.indices.map { Double($0) + offset }
            built.append(Series(.bars(x: x, values: s.values, width: width * 0.92, errors: s.errors), label: s.name, color: s.color))
        }
        let ticks = categories.enumerated().map { Tick(value: Double($0.offset), label: $0.element) }
        let axes = Axes(series: built,
                        x: Axis(xLabel, limits: -0.5...(Double(categories.count) - 0.5), ticks: .custom(ticks)),
                        y: Axis(yLabel, limits: yLimits, margin: 0.05, grid: true), legend: legend)
        try axes.validate(panel: 0)
        return axes
    }
}
