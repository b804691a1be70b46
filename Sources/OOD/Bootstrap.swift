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
