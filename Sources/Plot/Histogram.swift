import Foundation

/// One dataset of an overlaid histogram: a name for the legend and its values (e.g. the
/// log-likelihoods or bits per dimension a flow assigns to a test set).
public struct HistogramDataset: Sendable {
    /// Legend text.
    public var name: Label
    /// The values; all must be finite.
    public var values: [Double]
    /// Colour, or nil for the palette's next one.
    public var color: Color?

    /// A dataset.
    ///
    /// - Parameters:
    ///   - name: legend text (use `"\(string)"` or ``Label/plain(_:)`` for data names).
    ///   - values: the values to bin.
    ///   - color: colour, or nil for the palette's.
    public init(_ name: Label, values: [Double], color: Color? = nil) {
        self.name = name
        self.values = values
        self.color = color
    }
}

/// How the shared bins of a histogram are chosen.
public enum HistogramBins: Sendable, Hashable {
    /// This many equal-width bins over the histogram's range.
    case count(Int)
    /// Explicit, strictly increasing bin edges (their ends override the range).
    case edges([Double])
}

/// The range the bins of a histogram cover; values outside it are not counted.
public enum HistogramRange: Sendable, Hashable {
    /// Smallest to largest value over all datasets.
    case data
    /// A fixed range.
    case fixed(ClosedRange<Double>)
    /// From the `lower` to the `upper` quantile of all datasets pooled (linear interpolation,
    /// numpy's default), to keep a few extreme log-likelihoods from squashing the plot.
    case quantiles(lower: Double, upper: Double)
}

/// What the height of a bin means.
public enum HistogramNormalization: Sendable, Hashable {
    /// The number of values in the bin.
    case count
    /// count / (n · width), with n the dataset's values inside the range, so the bars of each
    /// dataset have area 1 and datasets of different sizes compare.
    case density
}

/// Binned counts of several datasets over shared bins.
///
/// Bins are half-open [eᵢ, eᵢ₊₁) except the last, which includes its right edge (as
/// `numpy.histogram`).
public struct Histogram: Sendable, Equatable {
    /// The shared bin edges (bins + 1 values).
    public var edges: [Double]
    /// Height of each bin per dataset: [dataset][bin].
    public var heights: [[Double]]
    /// Values of each dataset that fell outside the range and were not counted.
    public var excluded: [Int]

    /// Bins the datasets over shared bins.
    ///
    /// - Parameters:
    ///   - datasets: at least one dataset, each non-empty and finite.
    ///   - bins: bin count or explicit edges.
    ///   - range: the range covered by `.count` bins.
    ///   - normalization: counts or densities.
    /// - Throws: ``PlotError`` naming the dataset with empty or non-finite values, or a bad option.
    public init(_ datasets: [HistogramDataset], bins: HistogramBins = .count(40), range: HistogramRange = .data,
                normalization: HistogramNormalization = .density) throws {
        guard !datasets.isEmpty else { throw PlotError.empty("histogram (no datasets)") }
        for d in datasets {
            guard !d.values.isEmpty else { throw PlotError.empty("dataset '\(d.name.markup)'") }
            try requireFinite(d.values, series: "dataset '\(d.name.markup)'", field: "values")
        }
        let edges: [Double]
        switch bins {
        case .edges(let given):
            guard given.count >= 2 else { throw PlotError.invalidArgument("histogram: need at least 2 bin edges, got \(given.count)") }
            try requireFinite(given, series: "histogram", field: "edges")
            for i in 1..<given.count where !(given[i] > given[i - 1]) {
                throw PlotError.invalidArgument("histogram: bin edges must increase, but edges[\(i)] = \(given[i]) ≤ edges[\(i - 1)] = \(given[i - 1])")
            }
            edges = given
        case .count(let count):
            guard count >= 1, count <= 100_000 else {
                throw PlotError.invalidArgument("histogram: bin count \(count) must be in 1…100000")
            }
            var (lo, hi) = try Histogram.bounds(datasets, range: range)
            if hi <= lo {
                lo -= 0.5
                hi += 0.5
            }
            let width = (hi - lo) / Double(count)
            edges = (0...count).map { $0 == count ? hi : lo + Double($0) * width }
        }
        self.edges = edges
        var heights: [[Double]] = []
        var excluded: [Int] = []
        let lo = edges[0], hi = edges[edges.count - 1]
        for d in datasets {
            var counts = [Double](repeating: 0, count: edges.count - 1)
            var outside = 0
            for v in d.values {
                guard v >= lo, v <= hi else {
                    outside += 1
                    continue
                }
                counts[Histogram.bin(of: v, edges: edges)] += 1
            }
            let inside = d.values.count - outside
            if normalization == .density, inside > 0 {
                for i in counts.indices { counts[i] /= Double(inside) * (edges[i + 1] - edges[i]) }
            }
            heights.append(counts)
            excluded.append(outside)
        }
        self.heights = heights
        self.excluded = excluded
    }

    /// The index of the bin holding `v` (which lies within the edges).
    static func bin(of v: Double, edges: [Double]) -> Int {
        var lo = 0, hi = edges.count - 1 // invariant: edges[lo] <= v, bin < hi
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if edges[mid] <= v { lo = mid } else { hi = mid }
        }
        return lo
    }

    private static func bounds(_ datasets: [HistogramDataset], range: HistogramRange) throws -> (Double, Double) {
        switch range {
        case .fixed(let r):
            guard r.lowerBound.isFinite, r.upperBound.isFinite else {
                throw PlotError.invalidArgument("histogram: range \(r) must be finite")
            }
            return (r.lowerBound, r.upperBound)
        case .data:
            let all = datasets.flatMap(\.values)
            return (all.min()!, all.max()!)
        case .quantiles(let lower, let upper):
            guard lower >= 0, upper <= 1, lower < upper else {
                throw PlotError.invalidArgument("histogram: quantiles \(lower), \(upper) must satisfy 0 ≤ lower < upper ≤ 1")
            }
            let sorted = datasets.flatMap(\.values).sorted()
            return (quantile(sorted, lower), quantile(sorted, upper))
        }
    }
}

/// The q-quantile of sorted values, interpolating linearly between order statistics.
func quantile(_ sorted: [Double], _ q: Double) -> Double {
    let position = q * Double(sorted.count - 1)
    let i = Int(position.rounded(.down))
    let j = Swift.min(i + 1, sorted.count - 1)
    return sorted[i] + (position - Double(i)) * (sorted[j] - sorted[i])
}

extension Axes {
    /// Overlaid histograms of several datasets over shared bins, one series per dataset.
    ///
    /// For the papers' likelihood plots: log-likelihood or bits per dimension on x, density on y,
    /// in-distribution and OOD test sets overlaid.
    ///
    /// - Parameters:
    ///   - datasets: the datasets (one series each).
    ///   - bins: bin count or explicit edges.
    ///   - range: range of the bins (e.g. `.quantiles(lower: 0.005, upper: 0.995)` to cut tails).
    ///   - normalization: `.density` (default) or `.count`.
    ///   - style: `.filled` (translucent with outline) or `.step` (outline only).
    ///   - xLabel: what was binned, e.g. `"log <i>p</i>(<b>x</b>)"` or `"bits per dimension"`.
    ///   - yLabel: defaults to "Density" or "Count".
    ///   - legend: legend placement.
    /// - Throws: ``PlotError`` naming the dataset with empty or non-finite values.
    public static func histogram(of datasets: [HistogramDataset], bins: HistogramBins = .count(40),
                                 range: HistogramRange = .data, normalization: HistogramNormalization = .density,
                                 style: HistogramStyle = .filled, xLabel: Label, yLabel: Label? = nil,
                                 legend: Legend = .automatic) throws -> Axes {
        let histogram = try Histogram(datasets, bins: bins, range: range, normalization: normalization)
        let series = zip(datasets, histogram.heights).map { dataset, heights in
            Series(.histogram(edges: histogram.edges, heights: heights, style: style), label: dataset.name, color: dataset.color)
        }
        let defaultLabel: Label = normalization == .density ? "Density" : "Count"
        return Axes(series: series, x: Axis(xLabel, margin: 0.02), y: Axis(yLabel ?? defaultLabel, margin: 0.05),
                    legend: legend)
    }
}
