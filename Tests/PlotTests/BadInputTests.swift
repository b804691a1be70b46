import Testing
@testable import Plot

/// Bad input gives a clear `PlotError` naming the series and field, never a crash or a blank image.
@Suite struct BadInput {
    private func figure(_ series: [Series], x: Axis = Axis(), y: Axis = Axis(), secondaryY: Axis? = nil) -> Figure {
        Figure(Axes(series: series, x: x, y: y, secondaryY: secondaryY), width: 200, height: 150)
    }

    @Test func emptySeries() {
        expectPlotError("series 'Loss'", "empty") {
            _ = try Axes.lines([LineSeries("Loss", x: [], y: [])], xLabel: nil, yLabel: nil)
        }
        expectPlotError("line chart", "empty") { _ = try Axes.lines([], xLabel: nil, yLabel: nil) }
        expectPlotError("panel 1", "no series") { _ = try figure([]).svgData() }
        expectPlotError("figure", "no panels") { _ = try Figure(panels: [], columns: 1, height: 100).pdfData() }
        expectPlotError("scatter", "empty") { _ = try Axes.scatter(x: [], y: [], categories: [], categoryNames: ["a"]) }
        expectPlotError("image grid", "empty") { _ = try ImageGrid([[nil]]) }
    }

    @Test func nanAndInfinity() {
        expectPlotError("series 'AUROC'", "y[1]", "nan") {
            _ = try Axes.lines([LineSeries("AUROC", x: [1, 2], y: [0.5, .nan])], xLabel: nil, yLabel: nil)
        }
        expectPlotError("series 'a'", "x[0]", "inf") {
            _ = try figure([Series(.points(x: [.infinity], y: [1], marker: .circle, size: nil, opacity: 1), label: "a")]).pngData(dpi: 72)
        }
        expectPlotError("scatter", "y[2]") {
            _ = try Axes.scatter(x: [1, 2, 3], y: [1, 2, .nan], categories: [0, 0, 0], categoryNames: ["a"])
        }
        expectPlotError("image grid cell (row 1, column 2)", "pixels[0]", "nan") {
            _ = try ImageGrid([[Fixtures.ramp, PlotImage(width: 1, height: 1, pixels: [.nan])]])
        }
    }

    @Test func mismatchedLengths() {
        expectPlotError("series 'Loss'", "y has 2 values, expected 3") {
            _ = try Axes.lines([LineSeries("Loss", x: [1, 2, 3], y: [1, 2])], xLabel: nil, yLabel: nil)
        }
        expectPlotError("series 'LDE'", "values has 1 values, expected 2") {
            _ = try Axes.groupedBars(categories: ["a", "b"], series: [BarSeries("LDE", values: [1])], yLabel: nil)
        }
        expectPlotError("series 'LDE'", "errors has 3 values, expected 2") {
            _ = try Axes.groupedBars(categories: ["a", "b"], series: [BarSeries("LDE", values: [1, 2], errors: [0, 0, 0])], yLabel: nil)
        }
        expectPlotError("scatter", "categories has 1 values, expected 2") {
            _ = try Axes.scatter(x: [1, 2], y: [1, 2], categories: [0], categoryNames: ["a"])
        }
        expectPlotError("edges has 2 values, expected 3") {
            _ = try figure([Series(.histogram(edges: [0, 1], heights: [1, 2], style: .step), label: "h")]).svgData()
        }
        expectPlotError("image grid", "pixels has 3 values, expected 4") {
            _ = try ImageGrid([[PlotImage(width: 2, height: 2, pixels: [0, 0, 0])]])
        }
        expectPlotError("image grid", "rowLabels has 1 values, expected 2") {
            _ = try ImageGrid([[Fixtures.ramp], [Fixtures.ramp]], rowLabels: ["a"])
        }
    }

    @Test func logScaleNeedsPositiveValues() {
        expectPlotError("series 'MNIST'", "x[0] is 0.0", "logarithmic") {
            _ = try Axes.lines([LineSeries("MNIST", x: [0, 1], y: [1, 2])], xLabel: nil, yLabel: nil, xScale: .log)
        }
    }

    @Test func inconsistentOptions() {
        expectPlotError("uses the secondary y-axis") {
            _ = try figure([Series(.line(x: [1], y: [1], style: LineStyle()), label: "a", axis: .secondary)]).svgData()
        }
        expectPlotError("categories[1] = 3") {
            _ = try Axes.scatter(x: [1, 2], y: [1, 2], categories: [0, 3], categoryNames: ["a", "b"])
        }
        expectPlotError("figure size") { _ = try Figure(try Axes.roc([ROCCurve("a", positives: [1], negatives: [0])]), width: 0, height: 10).svgData() }
        expectPlotError("PNG resolution") { _ = try Fixtures.roc().pngData(dpi: 0) }
        expectPlotError("heights[0] = -1.0 is negative") {
            _ = try figure([Series(.histogram(edges: [0, 1], heights: [-1], style: .step))]).svgData()
        }
    }
}

/// Awkward but valid input renders (or fails with a PlotError), never crashes.
@Suite struct AwkwardInput {
    @Test func degenerateAndExtremeDataRender() throws {
        let figures: [Figure] = [
            Figure(try Axes.lines([LineSeries("one point", x: [3], y: [7])], xLabel: "x", yLabel: "y"), width: 200, height: 150),
            Figure(try Axes.histogram(of: [HistogramDataset("constant", values: [2, 2, 2])], xLabel: "x"), width: 200, height: 150),
            Figure(try Axes.lines([LineSeries("huge", x: [0, 1], y: [-3e12, 4e12])], xLabel: "x", yLabel: "y"), width: 200, height: 150),
            Figure(try Axes.lines([LineSeries("tiny", x: [0, 1], y: [1e-9, 2e-9])], xLabel: "x", yLabel: "y"), width: 200, height: 150),
            Figure(try Fixtures.lines().panels[0].axes!, width: 40, height: 30),
        ]
        for figure in figures {
            _ = try figure.pngData(dpi: 72)
            _ = try figure.svgData()
        }
    }

    @Test func manyCategoriesCycleColoursAndMarkers() throws {
        let n = 24
        let axes = try Axes.scatter(x: (0..<n).map(Double.init), y: (0..<n).map(Double.init), categories: Array(0..<n),
                                    categoryNames: (0..<n).map { "class \($0)" })
        #expect(axes.series[0].color == axes.series[10].color)
        guard case .points(_, _, let first, _, _) = axes.series[0].mark, case .points(_, _, let eleventh, _, _) = axes.series[10].mark else { return }
        #expect(first != eleventh)
        _ = try Figure(axes, width: 300, height: 200).pngData(dpi: 72)
    }
}

extension Panel {
    var axes: Axes? {
        if case .axes(let axes) = self { axes } else { nil }
    }
}
