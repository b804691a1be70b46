extension Axes {
    /// A scatter plot coloured by category, e.g. a t-SNE embedding of latents coloured by class
    /// or by in-distribution / OOD.
    ///
    /// Category k always gets the same colour (so classes match across figures): up to 7
    /// categories take ``Palette/tolBright``, 8–10 take ``Palette/tolMuted``; beyond 10, colours
    /// repeat with a different marker shape per cycle. Categories are drawn in order, so put the
    /// one to be seen on top last; empty categories are left out of the legend.
    ///
    /// - Parameters:
    ///   - x: x coordinates.
    ///   - y: y coordinates, as many as x.
    ///   - categories: category index of each point, in `0..<categoryNames.count`.
    ///   - categoryNames: legend text per category.
    ///   - xLabel: x-axis title, or nil.
    ///   - yLabel: y-axis title, or nil.
    ///   - showTicks: draw ticks (t-SNE coordinates carry no meaning, so the default hides them).
    ///   - pointSize: point diameter in points, or nil for the theme's.
    ///   - opacity: point opacity, so dense regions read darker.
    ///   - legend: legend placement.
    /// - Throws: ``PlotError`` for empty, mismatched or non-finite coordinates, or a category out of range.
    public static func scatter(x: [Double], y: [Double], categories: [Int], categoryNames: [Label],
                               xLabel: Label? = nil, yLabel: Label? = nil, showTicks: Bool = false,
                               pointSize: Double? = nil, opacity: Double = 0.75,
                               legend: Legend = .automatic) throws -> Axes {
        let name = "scatter"
        guard !x.isEmpty else { throw PlotError.empty(name) }
        guard !categoryNames.isEmpty else { throw PlotError.empty("scatter categoryNames") }
        try requireCount(y, x.count, series: name, field: "y")
        if categories.count != x.count {
            throw PlotError.lengthMismatch(series: name, field: "categories", expected: x.count, actual: categories.count)
        }
        try requireFinite(x, series: name, field: "x")
        try requireFinite(y, series: name, field: "y")
        if let i = categories.firstIndex(where: { $0 < 0 || $0 >= categoryNames.count }) {
            throw PlotError.invalidArgument("scatter: categories[\(i)] = \(categories[i]) is outside 0..<\(categoryNames.count)")
        }
        let count = categoryNames.count
        let markers: [Marker] = [.circle, .square, .triangle, .diamond, .invertedTriangle]
        var series: [Series] = []
        for k in 0..<count {
            let indices = categories.indices.filter { categories[$0] == k }
            guard !indices.isEmpty else { continue }
            let color = count <= 7 ? Palette.tolBright[k] : Palette.tolMuted[k]
            let marker = count <= 10 ? Marker.circle : markers[(k / 10) % markers.count]
            series.append(Series(.points(x: indices.map { x[$0] }, y: indices.map { y[$0] }, marker: marker,
                                         size: pointSize, opacity: opacity),
                                 label: categoryNames[k], color: color))
        }
        let ticks: TickPlacement = showTicks ? .automatic : .hidden
        let axes = Axes(series: series, x: Axis(xLabel, ticks: ticks), y: Axis(yLabel, ticks: ticks), legend: legend)
        try axes.validate(panel: 0)
        return axes
    }
}
