// Uncertainty of OOD metrics: bootstrap intervals within a run, mean ± std across seeds.

/// A metric's point estimate with a bootstrap confidence interval.
public struct ConfidenceInterval: Codable, Sendable, Equatable {
    /// Lower end of the interval (the α/2 percentile of the bootstrap distribution).
    public var lower: Double
    /// Upper end of the interval (the 1 − α/2 percentile).
    public var upper: Double
    /// The metric on the original, unresampled scores.
    public var point: Double

    public init(lower: Double, upper: Double, point: Double) {
        self.lower = lower
        self.upper = upper
        self.point = point
    }
}

/// Percentile bootstrap confidence interval for any metric of (inScores, outScores).
///
/// Each of `resamples` rounds draws n_in ID scores and n_out OOD scores independently, uniformly
/// with replacement (stratified: the set sizes are kept), and evaluates `metric`. With α =
/// 1 − `confidence`, the interval is the α/2 and 1 − α/2 quantiles of those values, linearly
/// interpolated between order statistics (numpy's default `percentile`: position (B − 1)·q in the
/// sorted values). Deterministic for a given generator state. Note that the percentile interval
/// need not contain the point estimate for a skewed bootstrap distribution.
///
/// - Parameters:
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
///   - resamples: number of bootstrap rounds B ≥ 1; 1000 by default.
///   - confidence: coverage in (0, 1); 0.95 by default.
///   - rng: the source of randomness (e.g. Tensor's `SeededGenerator`).
///   - metric: the metric, e.g. `auroc(inScores:outScores:)`, or a closure that states its error
///     type: `{ (id, ood) throws(MetricsError) in try fprAtTPR(inScores: id, outScores: ood, positive: .inDistribution) }`.
/// - Throws: `MetricsError` for an empty set or a non-finite score (checked before resampling).
public func bootstrapInterval(
    inScores: [Double], outScores: [Double],
    resamples: Int = 1000, confidence: Double = 0.95,
    using rng: inout some RandomNumberGenerator,
    metric: (_ inScores: [Double], _ outScores: [Double]) throws(MetricsError) -> Double
) throws(MetricsError) -> ConfidenceInterval {
    precondition(resamples >= 1, "bootstrapInterval: resamples = \(resamples), need ≥ 1")
    precondition(confidence > 0 && confidence < 1, "bootstrapInterval: confidence \(confidence) outside (0, 1)")
    try validateScores(inScores: inScores, outScores: outScores)
    let point = try metric(inScores, outScores)
    var values: [Double] = []
    values.reserveCapacity(resamples)
    var inSample = inScores, outSample = outScores
    for _ in 0..<resamples {
        for i in inSample.indices { inSample[i] = inScores[Int.random(in: 0..<inScores.count, using: &rng)] }
        for i in outSample.indices { outSample[i] = outScores[Int.random(in: 0..<outScores.count, using: &rng)] }
        values.append(try metric(inSample, outSample))
    }
    values.sort()
    let alpha = 1 - confidence
    return ConfidenceInterval(lower: quantile(sorted: values, alpha / 2),
                              upper: quantile(sorted: values, 1 - alpha / 2),
                              point: point)
}

/// 95 % (by default) percentile-bootstrap intervals of every `OODMetrics` metric.
public struct MetricIntervals: Codable, Sendable, Equatable {
    /// Bootstrap rounds B.
    public var resamples: Int
    /// Coverage, e.g. 0.95.
    public var confidence: Double
    public var auroc: ConfidenceInterval
    public var fpr95InPositive: ConfidenceInterval
    public var fpr95OutPositive: ConfidenceInterval
    public var auprIn: ConfidenceInterval
    public var auprOut: ConfidenceInterval
    public var detectionError: ConfidenceInterval

    /// The interval of a metric by its `OODMetrics.named` key.
    public func interval(_ key: String) -> ConfidenceInterval? {
        switch key {
        case "auroc": auroc
        case "fpr95InPositive": fpr95InPositive
        case "fpr95OutPositive": fpr95OutPositive
        case "auprIn": auprIn
        case "auprOut": auprOut
        case "detectionError": detectionError
        default: nil
        }
    }
}

/// Percentile bootstrap intervals of all six `OODMetrics` at once, with the resampling scheme
/// of `bootstrapInterval` (stratified, with replacement; each round draws the n_in ID indices
/// first, then the n_out OOD indices, from `rng`), so for the same generator state each
/// interval equals `bootstrapInterval` with that metric alone.
///
/// Cost: one sort of the pooled scores, then O(n_in + n_out + distinct scores) per round — a
/// resample is a vector of multiplicities over the original tie groups, whose operating points
/// are the groups with non-zero weight in the original order (the same points a sort of the
/// resampled scores gives).
///
/// - Parameters:
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
///   - resamples: B ≥ 1 (1000 by default).
///   - confidence: coverage in (0, 1); 0.95 by default.
///   - rng: the source of randomness.
/// - Throws: `MetricsError` for an empty set or a non-finite score.
public func bootstrapMetrics(inScores: [Double], outScores: [Double], resamples: Int = 1000, confidence: Double = 0.95,
                             using rng: inout some RandomNumberGenerator) throws(MetricsError) -> MetricIntervals {
    precondition(resamples >= 1, "bootstrapMetrics: resamples = \(resamples), need ≥ 1")
    precondition(confidence > 0 && confidence < 1, "bootstrapMetrics: confidence \(confidence) outside (0, 1)")
    let point = try OODMetrics(inScores: inScores, outScores: outScores)
    // Tie groups of the pooled scores in descending order; each sample's group.
    let nIn = inScores.count, nOut = outScores.count
    var order = Array(0..<(nIn + nOut))
    func score(_ i: Int) -> Double { i < nIn ? inScores[i] : outScores[i - nIn] }
    order.sort { score($0) > score($1) }
    var group = [Int](repeating: 0, count: nIn + nOut)
    var groups = 0
    for (k, i) in order.enumerated() {
        if k > 0 && score(i) != score(order[k - 1]) { groups += 1 }
        group[i] = groups
    }
    groups += 1
    var values = [[Double]](repeating: [], count: 6)
    for v in values.indices { values[v].reserveCapacity(resamples) }
    var dp = [Double](repeating: 0, count: groups), dn = [Double](repeating: 0, count: groups)
    var points: [OperatingPoint] = []
    points.reserveCapacity(groups)
    for _ in 0..<resamples {
        for g in 0..<groups { dp[g] = 0; dn[g] = 0 }
        for _ in 0..<nIn { dp[group[Int.random(in: 0..<nIn, using: &rng)]] += 1 }
        for _ in 0..<nOut { dn[group[nIn + Int.random(in: 0..<nOut, using: &rng)]] += 1 }
        points.removeAll(keepingCapacity: true)
        var tp = 0.0, fp = 0.0
        for g in 0..<groups where dp[g] + dn[g] > 0 {
            tp += dp[g]
            fp += dn[g]
            points.append(OperatingPoint(tp: tp, fp: fp, dp: dp[g], dn: dn[g]))
        }
        for (v, metric) in PointMetrics.all(points, inCount: Double(nIn), outCount: Double(nOut)).named.enumerated() {
            values[v].append(metric.value)
        }
    }
    let alpha = 1 - confidence
    let intervals = zip(values, point.named).map { sample, estimate in
        let sorted = sample.sorted()
        return ConfidenceInterval(lower: quantile(sorted: sorted, alpha / 2), upper: quantile(sorted: sorted, 1 - alpha / 2),
                                  point: estimate.value)
    }
    return MetricIntervals(resamples: resamples, confidence: confidence, auroc: intervals[0], fpr95InPositive: intervals[1],
                           fpr95OutPositive: intervals[2], auprIn: intervals[3], auprOut: intervals[4], detectionError: intervals[5])
}

/// The q-quantile of sorted values, interpolating linearly at position (n − 1)·q (numpy's default).
func quantile(sorted values: [Double], _ q: Double) -> Double {
    let position = Double(values.count - 1) * q
    let below = Int(position.rounded(.down))
    let above = min(below + 1, values.count - 1)
    let fraction = position - Double(below)
    return values[below] + fraction * (values[above] - values[below])
}

/// Mean and sample standard deviation, for aggregating a metric over seeds.
///
/// mean = (1/n) Σ xᵢ, std = √( Σ (xᵢ − mean)² / (n − 1) ) (Bessel-corrected, numpy `ddof=1`).
/// For a single value the spread is unobservable and std is reported as 0.
///
/// - Parameter values: one metric value per seed; non-empty and finite.
public func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
    precondition(!values.isEmpty, "meanAndStd: no values")
    precondition(values.allSatisfy(\.isFinite), "meanAndStd: non-finite value in \(values)")
    let n = Double(values.count)
    let mean = values.reduce(0, +) / n
    guard values.count > 1 else { return (mean, 0) }
    let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
    return (mean, (squares / (n - 1)).squareRoot())
}
