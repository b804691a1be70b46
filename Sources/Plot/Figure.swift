// Plot: the report's figures. A small figure model (Figure → Panel → Axes/ImageGrid → Series)
// drawn by one renderer on Cairo surfaces, so the same figure is written as PNG, SVG and PDF or
// drawn straight onto a page of the PDF report. Takes plain arrays and images, never tensors.

/// A figure: a canvas of a given size in points holding one or more panels in a grid.
///
/// ```swift
/// let axes = try Axes.histogram([.init("FashionMNIST", values: trainLL), .init("MNIST", values: oodLL)],
///                               xLabel: "log <i>p</i>(<b>x</b>)")
/// try Figure(axes, height: 200).write(to: URL(fileURLWithPath: "figures/ll.pdf"))
/// ```
public struct Figure: Sendable {
    /// Canvas width in points (1/72 in).
    public var width: Double
    /// Canvas height in points.
    public var height: Double
    /// Fonts, sizes, colours.
    public var theme: Theme
    /// Title over the whole figure.
    public var title: Label?
    /// The panels, filled into the grid row by row.
    public var panels: [Panel]
    /// Number of panel columns; rows follow from the panel count.
    public var columns: Int
    /// Prefix panel titles with "(a)", "(b)", … in reading order.
    public var panelLetters: Bool

    /// Width of the text block of a one-column A4 or letter page with ~2.5 cm margins: 6.3 in.
    public static let textWidth: Double = 454
    /// Width of one of two side-by-side figures in ``textWidth`` (with a small gutter).
    public static let halfTextWidth: Double = 222

    /// A figure of several panels.
    ///
    /// - Parameters:
    ///   - panels: the panels, in reading order.
    ///   - columns: panels per row.
    ///   - width: canvas width in points (default ``textWidth``).
    ///   - height: canvas height in points.
    ///   - theme: the look (default ``Theme/paper``).
    ///   - title: an optional title over all panels.
    ///   - panelLetters: prefix panel titles with (a), (b), ….
    public init(panels: [Panel], columns: Int, width: Double = Figure.textWidth, height: Double,
                theme: Theme = .paper, title: Label? = nil, panelLetters: Bool = false) {
        self.panels = panels
        self.columns = columns
        self.width = width
        self.height = height
        self.theme = theme
        self.title = title
        self.panelLetters = panelLetters
    }

    /// A figure holding one set of axes.
    ///
    /// - Parameters:
    ///   - axes: the chart.
    ///   - width: canvas width in points (default ``textWidth``).
    ///   - height: canvas height in points (default: width × 0.55).
    ///   - theme: the look.
    ///   - title: an optional title (prefer ``Axes/title`` for a single panel).
    public init(_ axes: Axes, width: Double = Figure.textWidth, height: Double? = nil, theme: Theme = .paper,
                title: Label? = nil) {
        self.init(panels: [.axes(axes)], columns: 1, width: width, height: height ?? (width * 0.55).rounded(),
                  theme: theme, title: title)
    }

    /// A figure holding one image grid; with `height` nil the height is chosen so that the grid
    /// fills the width with no blank band.
    ///
    /// - Parameters:
    ///   - grid: the images.
    ///   - width: canvas width in points.
    ///   - height: canvas height in points, or nil to fit the grid.
    ///   - theme: the look.
    ///   - title: an optional title over the grid.
    public init(_ grid: ImageGrid, width: Double = Figure.textWidth, height: Double? = nil, theme: Theme = .paper,
                title: Label? = nil) {
        let fitted = height ?? Renderer.naturalHeight(of: grid, width: width, theme: theme, figureTitle: title)
        self.init(panels: [.images(grid)], columns: 1, width: width, height: fitted, theme: theme, title: title)
    }

    /// Checks every panel: sizes, lengths, finiteness, log-scale positivity and markup.
    ///
    /// Called before anything is drawn, so a bad figure throws instead of drawing a blank or
    /// partial image.
    ///
    /// - Throws: ``PlotError`` naming the panel, series and field at fault.
    public func validate() throws {
        guard width > 0, height > 0, width.isFinite, height.isFinite else {
            throw PlotError.invalidArgument("figure size \(width) × \(height) pt must be positive")
        }
        guard !panels.isEmpty else { throw PlotError.empty("figure (no panels)") }
        guard columns >= 1 else { throw PlotError.invalidArgument("figure columns must be at least 1, got \(columns)") }
        if let title { try validateMarkup(title) }
        for (index, panel) in panels.enumerated() {
            switch panel {
            case .axes(let axes): try axes.validate(panel: index)
            case .images(let grid): try grid.validate()
            }
        }
    }
}

/// One cell of a figure.
public enum Panel: Sendable {
    /// A chart with axes: histogram, ROC, line, bar or scatter.
    case axes(Axes)
    /// A grid of images with labels and colour bars.
    case images(ImageGrid)
}

/// A chart: two axes (and an optional second y-axis on the right), the series drawn in them,
/// a legend and a title.
public struct Axes: Sendable {
    /// Title centred over the plot area.
    public var title: Label?
    /// The horizontal axis.
    public var x: Axis
    /// The left vertical axis.
    public var y: Axis
    /// A right vertical axis for series with ``Series/axis`` = `.secondary`.
    public var secondaryY: Axis?
    /// The series, drawn in order (fills of filled histograms first).
    public var series: [Series]
    /// Where the legend goes.
    public var legend: Legend

    /// Axes from their parts.
    ///
    /// - Parameters:
    ///   - series: what to draw.
    ///   - x: the horizontal axis.
    ///   - y: the left vertical axis.
    ///   - secondaryY: the right vertical axis, if any series uses it.
    ///   - legend: legend placement.
    ///   - title: title over the plot area.
    public init(series: [Series], x: Axis = Axis(), y: Axis = Axis(), secondaryY: Axis? = nil,
                legend: Legend = .automatic, title: Label? = nil) {
        self.series = series
        self.x = x
        self.y = y
        self.secondaryY = secondaryY
        self.legend = legend
        self.title = title
    }

    func validate(panel: Int) throws {
        guard !series.isEmpty else { throw PlotError.empty("panel \(panel + 1) (no series)") }
        for label in [title, x.label, y.label, secondaryY?.label].compactMap({ $0 }) { try validateMarkup(label) }
        for axis in [x, y, secondaryY].compactMap({ $0 }) {
            if let limits = axis.limits {
                guard limits.lowerBound.isFinite, limits.upperBound.isFinite, limits.lowerBound < limits.upperBound else {
                    throw PlotError.invalidArgument("axis \(axis.label?.markup ?? "(unlabelled)"): limits \(limits) must be finite and increasing")
                }
                if axis.scale == .log, limits.lowerBound <= 0 {
                    throw PlotError.invalidArgument("axis \(axis.label?.markup ?? "(unlabelled)"): log-scale limits \(limits) must be positive")
                }
            }
            if case .custom(let ticks) = axis.ticks {
                for tick in ticks {
                    guard tick.value.isFinite else {
                        throw PlotError.invalidArgument("axis \(axis.label?.markup ?? "(unlabelled)"): tick value \(tick.value) is not finite")
                    }
                    if let label = tick.label { try validateMarkup(label) }
                }
            }
        }
        for (index, s) in series.enumerated() {
            let name = s.label.map { "series '\($0.markup)'" } ?? "series \(index + 1)"
            if let label = s.label { try validateMarkup(label) }
            if s.axis == .secondary, secondaryY == nil {
                throw PlotError.invalidArgument("\(name) uses the secondary y-axis, but the axes have none (set secondaryY)")
            }
            let yScale = s.axis == .secondary ? (secondaryY?.scale ?? .linear) : y.scale
            try s.mark.validate(name: name, xScale: x.scale, yScale: yScale)
        }
    }
}

/// One axis: label, scale, limits, ticks and grid lines.
public struct Axis: Sendable {
    /// The axis title.
    public var label: Label?
    /// Linear or logarithmic.
    public var scale: Scale
    /// Fixed visible range; nil fits the data (plus ``margin``).
    public var limits: ClosedRange<Double>?
    /// Fraction of the data span added beyond the data at each end when fitting (not applied at
    /// ends the data pins, such as the zero baseline of histograms and bars).
    public var margin: Double
    /// Where the ticks go.
    public var ticks: TickPlacement
    /// Draw light grid lines at the major ticks.
    public var grid: Bool

    /// An axis.
    ///
    /// - Parameters:
    ///   - label: the axis title (markup).
    ///   - scale: linear or log.
    ///   - limits: fixed range, or nil to fit the data.
    ///   - margin: padding fraction when fitting the data.
    ///   - ticks: automatic, custom or hidden.
    ///   - grid: draw grid lines at major ticks.
    public init(_ label: Label? = nil, scale: Scale = .linear, limits: ClosedRange<Double>? = nil,
                margin: Double = 0.04, ticks: TickPlacement = .automatic, grid: Bool = false) {
        self.label = label
        self.scale = scale
        self.limits = limits
        self.margin = margin
        self.ticks = ticks
        self.grid = grid
    }
}

/// Where an axis puts its ticks.
public enum TickPlacement: Sendable {
    /// Nice values chosen from the visible range and the axis length (``Scale/ticks(in:targetCount:)``).
    case automatic
    /// Exactly these ticks (e.g. category names under bars).
    case custom([Tick])
    /// No ticks or tick labels (e.g. t-SNE coordinates, which carry no meaning).
    case hidden
}

/// Where the legend is drawn.
public enum Legend: Sendable, Hashable {
    /// Inside the plot in the first corner (upper right, upper left, lower right, lower left)
    /// that covers no data; else in an upper corner after raising the top of a fitted y-axis by
    /// up to 60 %; else in rows above the plot.
    case automatic
    /// Inside the plot in a fixed corner.
    case inside(Corner)
    /// In a row (wrapping) above the plot area.
    case above
    /// In a column to the right of the plot area.
    case right
    /// No legend.
    case hidden

    /// A corner of the plot area.
    public enum Corner: Sendable, Hashable, CaseIterable {
        case upperRight, upperLeft, lowerRight, lowerLeft
    }
}

/// Which vertical axis a series is measured on.
public enum YAxis: Sendable, Hashable {
    /// The left axis, ``Axes/y``.
    case primary
    /// The right axis, ``Axes/secondaryY``.
    case secondary
}

/// A series: one mark (line, histogram, bars, points) with a legend label and a colour.
public struct Series: Sendable {
    /// Legend text; nil keeps the series out of the legend.
    public var label: Label?
    /// Colour; nil takes the next colour of the theme's palette.
    public var color: Color?
    /// The vertical axis the series is measured on.
    public var axis: YAxis
    /// What is drawn.
    public var mark: Mark

    /// A series.
    ///
    /// - Parameters:
    ///   - mark: what is drawn.
    ///   - label: legend text, or nil.
    ///   - color: colour, or nil for the palette's next one.
    ///   - axis: `.primary` (left) or `.secondary` (right) y-axis.
    public init(_ mark: Mark, label: Label? = nil, color: Color? = nil, axis: YAxis = .primary) {
        self.mark = mark
        self.label = label
        self.color = color
        self.axis = axis
    }
}

/// What a series draws.
public enum Mark: Sendable {
    /// A polyline through (x[i], y[i]), optionally with markers at the points.
    case line(x: [Double], y: [Double], style: LineStyle)
    /// Bins [edges[i], edges[i+1]) of height heights[i]; edges.count = heights.count + 1.
    case histogram(edges: [Double], heights: [Double], style: HistogramStyle)
    /// Bars centred at x[i] of height values[i] from 0 and the given width (in x units), with
    /// optional symmetric error bars ±errors[i].
    case bars(x: [Double], values: [Double], width: Double, errors: [Double]?)
    /// Unconnected markers at (x[i], y[i]); `size` is the diameter in points (nil: the theme's).
    case points(x: [Double], y: [Double], marker: Marker, size: Double?, opacity: Double)
}

/// How a line is stroked.
public struct LineStyle: Sendable, Hashable {
    /// Stroke width in points; nil uses the theme's.
    public var width: Double?
    /// Dash pattern.
    public var dash: Dash
    /// Marker drawn at each data point, or nil.
    public var marker: Marker?

    /// A line style.
    ///
    /// - Parameters:
    ///   - dash: solid, dashed, dotted or dash-dot.
    ///   - marker: marker at the points, or nil.
    ///   - width: stroke width in points, or nil for the theme's.
    public init(dash: Dash = .solid, marker: Marker? = nil, width: Double? = nil) {
        self.dash = dash
        self.marker = marker
        self.width = width
    }
}

/// Dash patterns, scaled with the line width.
public enum Dash: Sendable, Hashable, CaseIterable {
    case solid, dashed, dotted, dashDot
}

/// Marker shapes for points and line charts; cycling them with colours keeps series apart in
/// greyscale print.
public enum Marker: Sendable, Hashable, CaseIterable {
    case circle, square, triangle, diamond, invertedTriangle, cross
}

/// How a histogram is drawn.
public enum HistogramStyle: Sendable, Hashable {
    /// The outline of the bins only; best for several overlaid datasets.
    case step
    /// A translucent fill with the outline on top.
    case filled
}

extension Mark {
    func validate(name: String, xScale: Scale, yScale: Scale) throws {
        switch self {
        case .line(let x, let y, let style):
            guard !x.isEmpty else { throw PlotError.empty(name) }
            try requireCount(y, x.count, series: name, field: "y")
            try requireFinite(x, series: name, field: "x")
            try requireFinite(y, series: name, field: "y")
            if let width = style.width, !(width > 0) {
                throw PlotError.invalidArgument("\(name): line width \(width) must be positive")
            }
            try requirePositive(x, xScale, name: name, field: "x")
            try requirePositive(y, yScale, name: name, field: "y")
        case .histogram(let edges, let heights, _):
            guard !heights.isEmpty else { throw PlotError.empty(name) }
            try requireCount(edges, heights.count + 1, series: name, field: "edges")
            try requireFinite(edges, series: name, field: "edges")
            try requireFinite(heights, series: name, field: "heights")
            for i in 1..<edges.count where !(edges[i] > edges[i - 1]) {
                throw PlotError.invalidArgument("\(name): bin edges must increase, but edges[\(i)] = \(edges[i]) ≤ edges[\(i - 1)] = \(edges[i - 1])")
            }
            if let i = heights.firstIndex(where: { $0 < 0 }) {
                throw PlotError.invalidArgument("\(name): heights[\(i)] = \(heights[i]) is negative")
            }
            try requirePositive(edges, xScale, name: name, field: "edges")
        case .bars(let x, let values, let width, let errors):
            guard !x.isEmpty else { throw PlotError.empty(name) }
            try requireCount(values, x.count, series: name, field: "values")
            try requireFinite(x, series: name, field: "x")
            try requireFinite(values, series: name, field: "values")
            guard width > 0, width.isFinite else {
                throw PlotError.invalidArgument("\(name): bar width \(width) must be positive")
            }
            if let errors {
                try requireCount(errors, x.count, series: name, field: "errors")
                try requireFinite(errors, series: name, field: "errors")
                if let i = errors.firstIndex(where: { $0 < 0 }) {
                    throw PlotError.invalidArgument("\(name): errors[\(i)] = \(errors[i]) is negative")
                }
            }
            if yScale == .log { throw PlotError.invalidArgument("\(name): bars need a linear y-axis") }
        case .points(let x, let y, _, let size, let opacity):
            guard !x.isEmpty else { throw PlotError.empty(name) }
            try requireCount(y, x.count, series: name, field: "y")
            try requireFinite(x, series: name, field: "x")
            try requireFinite(y, series: name, field: "y")
            if let size, !(size > 0) { throw PlotError.invalidArgument("\(name): point size \(size) must be positive") }
            guard opacity >= 0, opacity <= 1 else {
                throw PlotError.invalidArgument("\(name): opacity \(opacity) must be in [0, 1]")
            }
            try requirePositive(x, xScale, name: name, field: "x")
            try requirePositive(y, yScale, name: name, field: "y")
        }
    }

    private func requirePositive(_ values: [Double], _ scale: Scale, name: String, field: String) throws {
        guard scale == .log else { return }
        if let i = values.firstIndex(where: { $0 <= 0 }) {
            throw PlotError.nonPositiveOnLogScale(series: name, field: field, index: i, value: values[i])
        }
    }
}
