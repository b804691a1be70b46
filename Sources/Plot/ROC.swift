import Foundation

/// A receiver operating characteristic curve and the area under it.
///
/// Convention: the *positive* class is the one the detector should flag with high scores (for
/// OOD detection usually the OOD set, with score = −log p(x)); FPR = FP / N and TPR = TP / P as a
/// threshold sweeps from +∞ down. AUROC is the trapezoidal area under the (FPR, TPR) points,
/// which equals P(score⁺ > score⁻) + ½ P(score⁺ = score⁻) (scikit-learn's `roc_auc_score`).
public struct ROCCurve: Sendable {
    /// Legend text; the plot appends the AUROC.
    public var name: Label
    /// False-positive rates, non-decreasing from 0 to 1.
    public var falsePositiveRates: [Double]
    /// True-positive rates, non-decreasing, paired with ``falsePositiveRates``.
    public var truePositiveRates: [Double]
    /// Area under the curve (trapezoidal rule).
    public var auroc: Double

    /// A curve from precomputed rates (e.g. from the OOD module's metrics).
    ///
    /// - Parameters:
    ///   - name: legend text.
    ///   - falsePositiveRates: FPR at each threshold, non-decreasing, in [0, 1].
    ///   - truePositiveRates: TPR at each threshold, non-decreasing, in [0, 1].
    /// - Throws: ``PlotError`` for empty, mismatched, non-finite, out-of-range or decreasing rates.
    public init(_ name: Label, falsePositiveRates: [Double], truePositiveRates: [Double]) throws {
        let series = "ROC curve '\(name.markup)'"
        guard !falsePositiveRates.isEmpty else { throw PlotError.empty(series) }
        try requireCount(truePositiveRates, falsePositiveRates.count, series: series, field: "truePositiveRates")
        for (field, rates) in [("falsePositiveRates", falsePositiveRates), ("truePositiveRates", truePositiveRates)] {
            try requireFinite(rates, series: series, field: field)
            if let i = rates.firstIndex(where: { $0 < 0 || $0 > 1 }) {
                throw PlotError.invalidArgument("\(series): \(field)[\(i)] = \(rates[i]) is outside [0, 1]")
            }
            if let i = rates.indices.dropFirst().first(where: { rates[$0] < rates[$0 - 1] }) {
                throw PlotError.invalidArgument("\(series): \(field) must not decrease, but [\(i)] = \(rates[i]) < [\(i - 1)] = \(rates[i - 1])")
            }
        }
        self.name = name
        self.falsePositiveRates = falsePositiveRates
        self.truePositiveRates = truePositiveRates
        var area = 0.0
        for i in falsePositiveRates.indices.dropFirst() {
            area += (falsePositiveRates[i] - falsePositiveRates[i - 1]) * (truePositiveRates[i] + truePositiveRates[i - 1]) / 2
        }
        auroc = area
    }

    /// A curve computed from detector scores; higher scores mean "more positive".
    ///
    /// Tied scores share one threshold (one diagonal step), as in scikit-learn's `roc_curve`;
    /// points on straight horizontal or vertical runs are dropped.
    ///
    /// - Parameters:
    ///   - name: legend text.
    ///   - positives: scores of the positive class.
    ///   - negatives: scores of the negative class.
    /// - Throws: ``PlotError`` if either class is empty or a score is NaN or infinite.
    public init(_ name: Label, positives: [Double], negatives: [Double]) throws {
        let series = "ROC curve '\(name.markup)'"
        guard !positives.isEmpty else { throw PlotError.empty("\(series): positives") }
        guard !negatives.isEmpty else { throw PlotError.empty("\(series): negatives") }
        try requireFinite(positives, series: series, field: "positives")
        try requireFinite(negatives, series: series, field: "negatives")
        let scored = (positives.map { ($0, true) } + negatives.map { ($0, false) }).sorted { $0.0 > $1.0 }
        var fpr: [Double] = [0], tpr: [Double] = [0]
        var tp = 0.0, fp = 0.0
        let p = Double(positives.count), n = Double(negatives.count)
        var i = 0
        while i < scored.count {
            let threshold = scored[i].0
            while i < scored.count, scored[i].0 == threshold {
                if scored[i].1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            fpr.append(fp / n)
            tpr.append(tp / p)
        }
        // Drop points in the middle of straight horizontal or vertical runs.
        var keptF: [Double] = [fpr[0]], keptT: [Double] = [tpr[0]]
        for k in 1..<fpr.count {
            let last = k == fpr.count - 1
            let collinear = !last && ((fpr[k - 1] == fpr[k] && fpr[k] == fpr[k + 1]) || (tpr[k - 1] == tpr[k] && tpr[k] == tpr[k + 1]))
            if !collinear {
                keptF.append(fpr[k])
                keptT.append(tpr[k])
            }
        }
        try self.init(name, falsePositiveRates: keptF, truePositiveRates: keptT)
    }
}

extension Axes {
    /// ROC curves with the AUROC of each in the legend and the chance diagonal.
    ///
    /// - Parameters:
    ///   - curves: the curves (one series each).
    ///   - decimals: decimals of the AUROC in the legend.
    ///   - xLabel: defaults to "False positive rate".
    ///   - yLabel: defaults to "True positive rate".
    ///   - legend: legend placement (the lower right is usually free).
    /// - Throws: ``PlotError`` if `curves` is empty.
    public static func roc(_ curves: [ROCCurve], decimals: Int = 3, xLabel: Label = "False positive rate",
                           yLabel: Label = "True positive rate", legend: Legend = .automatic) throws -> Axes {
        guard !curves.isEmpty else { throw PlotError.empty("ROC plot (no curves)") }
        let chance = Series(.line(x: [0, 1], y: [0, 1], style: LineStyle(dash: .dashed, width: 0.8)), color: .grey)
        let series = curves.map { curve in
            Series(.line(x: curve.falsePositiveRates, y: curve.truePositiveRates, style: LineStyle()),
                   label: "\(curve.name) (AUROC \(curve.auroc, decimals: decimals))")
        }
        let limits = -0.02...1.02
        let ticks = TickPlacement.custom((0...5).map { Tick(value: Double($0) / 5, label: Label(markup: formatNumber(Double($0) / 5, decimals: 1))) })
        return Axes(series: [chance] + series, x: Axis(xLabel, limits: limits, ticks: ticks),
                    y: Axis(yLabel, limits: limits, ticks: ticks), legend: legend)
    }
}
