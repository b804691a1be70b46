/// A grey or RGB image of `Double` pixels, row-major from the top-left corner.
public struct PlotImage: Sendable, Hashable {
    /// Pixel layout.
    public enum Channels: Sendable, Hashable {
        /// One value per pixel, coloured through the grid's ``ColorMap``.
        case grey
        /// Interleaved red, green, blue per pixel, each in [0, 1] (values outside are clamped).
        case rgb
    }

    /// Width and height in pixels.
    public var width: Int
    public var height: Int
    /// Grey or RGB.
    public var channels: Channels
    /// width × height values (× 3 for RGB), row-major, top row first.
    public var pixels: [Double]

    /// A single-channel image (samples, activations, latents).
    ///
    /// - Parameters:
    ///   - width: pixels per row.
    ///   - height: rows.
    ///   - pixels: width × height values, row-major; any range (the grid maps them to colours).
    public init(width: Int, height: Int, pixels: [Double]) {
        self.width = width
        self.height = height
        self.channels = .grey
        self.pixels = pixels
    }

    /// An RGB image.
    ///
    /// - Parameters:
    ///   - width: pixels per row.
    ///   - height: rows.
    ///   - rgb: width × height × 3 values in [0, 1], interleaved per pixel.
    public init(width: Int, height: Int, rgb: [Double]) {
        self.width = width
        self.height = height
        self.channels = .rgb
        self.pixels = rgb
    }

    func validate(name: String) throws {
        guard width > 0, height > 0 else {
            throw PlotError.invalidArgument("\(name): size \(width) × \(height) must be positive")
        }
        let expected = width * height * (channels == .rgb ? 3 : 1)
        try requireCount(pixels, expected, series: name, field: "pixels")
        try requireFinite(pixels, series: name, field: "pixels")
    }
}

/// A grid of images with row and column labels, drawn with nearest-neighbour scaling, coloured
/// through a colour map with optional colour bars.
///
/// Used for samples (grey map, fixed range [0, 1]), coupling-layer activations (diverging map,
/// symmetric range per row: put s in one row and t in another) and latents z.
/// Cells keep the images' aspect ratio; all cells have the size of the largest image.
public struct ImageGrid: Sendable {
    /// Which images share one colour range (and one colour bar).
    public enum Scope: Sendable, Hashable {
        /// One range for the whole grid, one colour bar beside it.
        case grid
        /// One range per row, one colour bar at the end of each row.
        case row
        /// Each image its own range; no colour bars.
        case image
    }

    /// How grey values are mapped to [0, 1] before the colour map.
    public enum Range: Sendable, Hashable {
        /// Fixed bounds, e.g. `0...1` for pixel intensities.
        case fixed(ClosedRange<Double>)
        /// Minimum to maximum of the values in scope.
        case data
        /// −m…m with m the largest |value| in scope, so 0 sits at the centre of a diverging map.
        case symmetric
    }

    /// Rows of cells; nil leaves a cell empty. Rows may be shorter than the longest row.
    public var images: [[PlotImage?]]
    /// Labels left of each row (count = rows), or empty.
    public var rowLabels: [Label]
    /// Labels over each column (count = columns), or empty.
    public var columnLabels: [Label]
    /// The colour map of grey images.
    public var colorMap: ColorMap
    /// How grey values are normalised.
    public var range: Range
    /// Which images share a range.
    public var scope: Scope
    /// Draw a colour bar for each shared range (not for RGB-only grids or `.image` scope).
    public var colorBar: Bool
    /// Title of the colour bar(s), drawn beside them.
    public var colorBarLabel: Label?
    /// Title over the grid.
    public var title: Label?
    /// Gap between cells, in points.
    public var gap: Double

    /// A grid of images.
    ///
    /// - Parameters:
    ///   - images: rows of images (nil = empty cell).
    ///   - rowLabels: one label per row, or empty.
    ///   - columnLabels: one label per column, or empty.
    ///   - colorMap: colour map for grey images (default ``ColorMap/grey``).
    ///   - range: value normalisation (default fixed 0…1).
    ///   - scope: which images share a range.
    ///   - colorBar: draw colour bars.
    ///   - colorBarLabel: title of the colour bars.
    ///   - title: title over the grid.
    ///   - gap: gap between cells in points.
    /// - Throws: ``PlotError`` if the grid is empty, an image is malformed or label counts disagree.
    public init(_ images: [[PlotImage?]], rowLabels: [Label] = [], columnLabels: [Label] = [],
                colorMap: ColorMap = .grey, range: Range = .fixed(0...1), scope: Scope = .grid,
                colorBar: Bool = false, colorBarLabel: Label? = nil, title: Label? = nil, gap: Double = 2) throws {
        self.images = images
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.colorMap = colorMap
        self.range = range
        self.scope = scope
        self.colorBar = colorBar
        self.colorBarLabel = colorBarLabel
        self.title = title
        self.gap = gap
        try validate()
    }

    /// Number of rows and columns.
    var rows: Int { images.count }
    var columns: Int { images.map(\.count).max() ?? 0 }

    func validate() throws {
        guard rows > 0, columns > 0, images.contains(where: { $0.contains { $0 != nil } }) else {
            throw PlotError.empty("image grid")
        }
        for (r, row) in images.enumerated() {
            for (c, image) in row.enumerated() {
                try image?.validate(name: "image grid cell (row \(r + 1), column \(c + 1))")
            }
        }
        if !rowLabels.isEmpty, rowLabels.count != rows {
            throw PlotError.lengthMismatch(series: "image grid", field: "rowLabels", expected: rows, actual: rowLabels.count)
        }
        if !columnLabels.isEmpty, columnLabels.count != columns {
            throw PlotError.lengthMismatch(series: "image grid", field: "columnLabels", expected: columns, actual: columnLabels.count)
        }
        if case .fixed(let bounds) = range {
            guard bounds.lowerBound.isFinite, bounds.upperBound.isFinite, bounds.lowerBound < bounds.upperBound else {
                throw PlotError.invalidArgument("image grid: fixed range \(bounds) must be finite and increasing")
            }
        }
        guard gap >= 0, gap.isFinite else { throw PlotError.invalidArgument("image grid: gap \(gap) must be ≥ 0") }
        for label in rowLabels + columnLabels + [colorBarLabel, title].compactMap({ $0 }) { try validateMarkup(label) }
    }

    /// The value range of each image after applying ``range`` over ``scope``: [row][column].
    func valueRanges() -> [[ClosedRange<Double>?]] {
        func bounds(_ images: [PlotImage]) -> ClosedRange<Double> {
            let values = images.filter { $0.channels == .grey }.flatMap(\.pixels)
            switch range {
            case .fixed(let bounds):
                return bounds
            case .data:
                let lo = values.min() ?? 0, hi = values.max() ?? 1
                return lo < hi ? lo...hi : (lo - 0.5)...(hi + 0.5)
            case .symmetric:
                let m = values.map(abs).max() ?? 1
                return m > 0 ? -m...m : -1...1
            }
        }
        switch scope {
        case .grid:
            let all = bounds(images.flatMap { $0.compactMap { $0 } })
            return images.map { $0.map { $0 == nil ? nil : all } }
        case .row:
            return images.map { row in
                let shared = bounds(row.compactMap { $0 })
                return row.map { $0 == nil ? nil : shared }
            }
        case .image:
            return images.map { $0.map { $0.map { bounds([$0]) } } }
        }
    }

    /// True when some image is grey (so a colour bar means something).
    var hasGrey: Bool {
        images.contains { $0.contains { $0?.channels == .grey } }
    }
}
