// OOD detection metrics on plain score arrays.
//
// Convention throughout: a detector's score is higher = more in-distribution. `inScores` are the
// scores of the in-distribution (ID) test set, `outScores` those of the out-of-distribution (OOD)
// set. Semantics follow scikit-learn 1.x: thresholds sit at the distinct score values, so tied
// scores always share a threshold; counts are accumulated in Double; non-finite scores are errors.

// MARK: - Errors and conventions

/// Which of the two score sets a value or an error refers to.
public enum ScoreSet: String, Sendable, Codable, CustomStringConvertible {
    /// The in-distribution test set (`inScores`).
    case inDistribution = "in-distribution"
    /// The out-of-distribution set (`outScores`).
    case outOfDistribution = "out-of-distribution"

    public var description: String { rawValue }
}

/// Scores that a metric cannot be computed from: which set, and what is wrong with it.
public struct MetricsError: Error, CustomStringConvertible {
    /// What is wrong with the set.
    public enum Kind: Sendable {
        /// The set has no scores.
        case empty
        /// The score at `index` is NaN or ±∞.
        case nonFinite(index: Int, value: Double)
    }

    /// The set at fault.
    public let set: ScoreSet
    /// What is wrong with it.
    public let kind: Kind

    public init(set: ScoreSet, kind: Kind) {
        self.set = set
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .empty:
            "\(set) scores are empty"
        case let .nonFinite(index, value):
            "\(set) score at index \(index) is \(value); scores must be finite"
        }
    }
}

/// Which class a threshold metric treats as positive.
///
/// - `inDistribution`: ID samples are positives, scores are used as given (a sample is predicted
///   positive when its score ≥ threshold). This is the convention of the energy-score paper
///   (Liu et al. 2020) and of LDE.
/// - `outOfDistribution`: OOD samples are positives and the scores are negated first (a sample is
///   predicted OOD when −score ≥ threshold, i.e. score ≤ −threshold). This is OpenOOD's convention.
public enum PositiveClass: String, Sendable, Codable, CaseIterable {
    case inDistribution
    case outOfDistribution
}

/// Throws if either set is empty or holds a NaN or infinite score (ID set checked first).
///
/// - Throws: `MetricsError` naming the set and, for a non-finite score, its index.
public func validateScores(inScores: [Double], outScores: [Double]) throws(MetricsError) {
    for (set, scores) in [(ScoreSet.inDistribution, inScores), (.outOfDistribution, outScores)] {
        if scores.isEmpty { throw MetricsError(set: set, kind: .empty) }
        if let i = scores.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError(set: set, kind: .nonFinite(index: i, value: scores[i]))
        }
    }
}

// MARK: - ROC / PR operating points

/// One threshold's cumulative counts: `tp` positives and `fp` negatives scored ≥ the threshold,
/// and `dp`, `dn` the positives and negatives scored exactly at it (the tie group).
struct OperatingPoint {
    var tp: Double, fp: Double, dp: Double, dn: Double
}

/// Operating points at every distinct score, in descending score order (sklearn's `roc_curve`
/// with `drop_intermediate=False`, without the leading (0, 0) point). O(n log n).
func operatingPoints(positives: [Double], negatives: [Double]) -> [OperatingPoint] {
    var labelled = positives.map { ($0, true) } + negatives.map { ($0, false) }
    labelled.sort { $0.0 > $1.0 }
    var points: [OperatingPoint] = []
    var tp = 0.0, fp = 0.0, dp = 0.0, dn = 0.0
    for (i, (score, isPositive)) in labelled.enumerated() {
        if isPositive { tp += 1; dp += 1 } else { fp += 1; dn += 1 }
        if i + 1 == labelled.count || labelled[i + 1].0 != score {
            points.append(OperatingPoint(tp: tp, fp: fp, dp: dp, dn: dn))
            dp = 0; dn = 0
        }
    }
    return points
}

/// Positives and negatives for `positive`, with the scores negated when OOD is positive.
func oriented(inScores: [Double], outScores: [Double],
              positive: PositiveClass) -> (positives: [Double], negatives: [Double]) {
    switch positive {
    case .inDistribution: (inScores, outScores)
    case .outOfDistribution: (outScores.map { -$0 }, inScores.map { -$0 })
    }
}

// MARK: - Metrics

/// Area under the ROC curve with ID as the positive class; ties count ½ (sklearn `roc_auc_score`).
///
/// AUROC = (1 / (n_in · n_out)) Σᵢ Σⱼ [sᵢⁱⁿ > sⱼᵒᵘᵗ] + ½ [sᵢⁱⁿ = sⱼᵒᵘᵗ], the Mann–Whitney U
/// statistic with mid-ranks divided by n_in · n_out; equal to the trapezoidal area under the
/// ROC curve through thresholds at the distinct scores. Symmetric in the positive class: with
/// OOD positive and negated scores the value is the same. O(n log n).
///
/// - Parameters:
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
/// - Throws: `MetricsError` for an empty set or a non-finite score.
public func auroc(inScores: [Double], outScores: [Double]) throws(MetricsError) -> Double {
    try validateScores(inScores: inScores, outScores: outScores)
    return PointMetrics.auroc(operatingPoints(positives: inScores, negatives: outScores),
                              positives: Double(inScores.count), negatives: Double(outScores.count))
}

/// False-positive rate at the first threshold whose true-positive rate reaches `tpr` (FPR95 at 0.95).
///
/// Thresholds are the distinct (oriented) scores t; a sample is predicted positive when its score
/// ≥ t, so tied scores are always on the same side. With TPR(t) = #{positives ≥ t} / n_pos and
/// FPR(t) = #{negatives ≥ t} / n_neg, the result is min { FPR(t) : TPR(t) ≥ tpr }, which is FPR at
/// the largest such t (sklearn `roc_curve(..., drop_intermediate=False)`, then the FPR of the first
/// point with TPR ≥ tpr; OpenOOD's `fpr_list[argmax(tpr_list >= 0.95)]` with all points kept).
///
/// - `.inDistribution` (energy / LDE papers): the fraction of OOD samples scoring ≥ the largest
///   threshold that keeps at least `tpr` of the ID samples.
/// - `.outOfDistribution` (OpenOOD): scores negated, so the fraction of ID samples scoring ≤ the
///   smallest threshold that flags at least `tpr` of the OOD samples.
///
/// - Parameters:
///   - tpr: target true-positive rate in (0, 1]; 0.95 by default.
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
///   - positive: which set is the positive class.
/// - Throws: `MetricsError` for an empty set or a non-finite score.
public func fprAtTPR(_ tpr: Double = 0.95, inScores: [Double], outScores: [Double],
                     positive: PositiveClass) throws(MetricsError) -> Double {
    precondition(tpr > 0 && tpr <= 1, "fprAtTPR: target TPR \(tpr) outside (0, 1]")
    try validateScores(inScores: inScores, outScores: outScores)
    let (positives, negatives) = oriented(inScores: inScores, outScores: outScores, positive: positive)
    return PointMetrics.fpr(atTPR: tpr, operatingPoints(positives: positives, negatives: negatives),
                            positives: Double(positives.count), negatives: Double(negatives.count))
}

/// Average precision (AUPR), exactly as sklearn `average_precision_score`.
///
/// AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ over the distinct (oriented) scores in descending order, with
/// Pₖ = TPₖ / (TPₖ + FPₖ), Rₖ = TPₖ / n_pos and R₀ = 0: a step-wise sum without interpolation;
/// tied scores share a threshold. AUPR-In is `.inDistribution` (ID positive, scores as given);
/// AUPR-Out is `.outOfDistribution` (OOD positive, scores negated).
///
/// - Parameters:
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
///   - positive: which set is the positive class.
/// - Throws: `MetricsError` for an empty set or a non-finite score.
public func averagePrecision(inScores: [Double], outScores: [Double],
                             positive: PositiveClass) throws(MetricsError) -> Double {
    try validateScores(inScores: inScores, outScores: outScores)
    let (positives, negatives) = oriented(inScores: inScores, outScores: outScores, positive: positive)
    return PointMetrics.averagePrecision(operatingPoints(positives: positives, negatives: negatives),
                                         positives: Double(positives.count))
}

/// Minimum detection error over thresholds: min_t ½ (1 − TPR(t)) + ½ FPR(t), ID positive.
///
/// Thresholds are the distinct scores plus +∞ (everything rejected: error ½), as in sklearn's
/// `roc_curve`. The value is the same with OOD positive and negated scores.
///
/// - Parameters:
///   - inScores: in-distribution scores (higher = more in-distribution).
///   - outScores: OOD scores.
/// - Throws: `MetricsError` for an empty set or a non-finite score.
public func detectionError(inScores: [Double], outScores: [Double]) throws(MetricsError) -> Double {
    try validateScores(inScores: inScores, outScores: outScores)
    return PointMetrics.detectionError(operatingPoints(positives: inScores, negatives: outScores),
                                       positives: Double(inScores.count), negatives: Double(outScores.count))
}

/// The metrics as functions of operating points (descending thresholds, cumulative counts), so
/// the public functions and the bootstrap (`bootstrapMetrics`, which re-weights the points of
/// one sort) share one definition of each.
enum PointMetrics {
    /// Mann–Whitney AUROC with ties counting ½ (`auroc(inScores:outScores:)`).
    static func auroc(_ points: [OperatingPoint], positives nPos: Double, negatives nNeg: Double) -> Double {
        var area = 0.0
        for point in points {
            // Each negative in this tie group is beaten by every positive strictly above it and ties
            // with the group's positives.
            area += point.dn * ((point.tp - point.dp) + 0.5 * point.dp)
        }
        return area / (nPos * nNeg)
    }

    /// FPR at the first point with TPR ≥ `tpr` (`fprAtTPR`).
    static func fpr(atTPR tpr: Double, _ points: [OperatingPoint], positives nPos: Double, negatives nNeg: Double) -> Double {
        // TPR and FPR are non-decreasing as the threshold falls: the first hit has the smallest FPR.
        for point in points where point.tp / nPos >= tpr {
            return point.fp / nNeg
        }
        return 1  // unreachable: the last point has TPR = 1
    }

    /// Step-wise average precision (`averagePrecision`).
    static func averagePrecision(_ points: [OperatingPoint], positives nPos: Double) -> Double {
        var ap = 0.0
        for point in points where point.dp > 0 {
            ap += (point.dp / nPos) * (point.tp / (point.tp + point.fp))
        }
        return ap
    }

    /// Minimum of ½(1 − TPR) + ½ FPR, starting from ½ (`detectionError`).
    static func detectionError(_ points: [OperatingPoint], positives nPos: Double, negatives nNeg: Double) -> Double {
        var best = 0.5
        for point in points {
            best = min(best, 0.5 * (1 - point.tp / nPos) + 0.5 * (point.fp / nNeg))
        }
        return best
    }

    /// The operating points with the other class positive and the scores negated, from the
    /// points of `points`' orientation: the same tie groups in reverse order, roles swapped.
    /// Equal to `operatingPoints` of the negated, swapped scores (−a = −b exactly when a = b).
    static func swapped(_ points: [OperatingPoint]) -> [OperatingPoint] {
        var out: [OperatingPoint] = []
        out.reserveCapacity(points.count)
        var tp = 0.0, fp = 0.0
        for p in points.reversed() {
            tp += p.dn
            fp += p.dp
            out.append(OperatingPoint(tp: tp, fp: fp, dp: p.dn, dn: p.dp))
        }
        return out
    }

    /// Every metric of `OODMetrics` from the ID-positive points.
    static func all(_ idPositive: [OperatingPoint], inCount nIn: Double, outCount nOut: Double) -> OODMetrics {
        let oodPositive = swapped(idPositive)
        return OODMetrics(auroc: auroc(idPositive, positives: nIn, negatives: nOut),
                          fpr95InPositive: fpr(atTPR: 0.95, idPositive, positives: nIn, negatives: nOut),
                          fpr95OutPositive: fpr(atTPR: 0.95, oodPositive, positives: nOut, negatives: nIn),
                          auprIn: averagePrecision(idPositive, positives: nIn),
                          auprOut: averagePrecision(oodPositive, positives: nOut),
                          detectionError: detectionError(idPositive, positives: nIn, negatives: nOut))
    }
}

// MARK: - Bundle

/// The standard OOD metrics for one detector on one ID/OOD pair (scores: higher = more ID).
public struct OODMetrics: Codable, Sendable, Equatable {
    /// `auroc(inScores:outScores:)`.
    public var auroc: Double
    /// FPR at 95 % TPR with ID positive (energy / LDE papers).
    public var fpr95InPositive: Double
    /// FPR at 95 % TPR with OOD positive and negated scores (OpenOOD).
    public var fpr95OutPositive: Double
    /// Average precision with ID positive.
    public var auprIn: Double
    /// Average precision with OOD positive and negated scores.
    public var auprOut: Double
    /// `detectionError(inScores:outScores:)`.
    public var detectionError: Double

    /// Computes every metric from the two score sets.
    ///
    /// - Parameters:
    ///   - inScores: in-distribution scores (higher = more in-distribution).
    ///   - outScores: OOD scores.
    /// - Throws: `MetricsError` for an empty set or a non-finite score.
    public init(inScores: [Double], outScores: [Double]) throws(MetricsError) {
        auroc = try OOD.auroc(inScores: inScores, outScores: outScores)
        fpr95InPositive = try fprAtTPR(0.95, inScores: inScores, outScores: outScores, positive: .inDistribution)
        fpr95OutPositive = try fprAtTPR(0.95, inScores: inScores, outScores: outScores, positive: .outOfDistribution)
        auprIn = try averagePrecision(inScores: inScores, outScores: outScores, positive: .inDistribution)
        auprOut = try averagePrecision(inScores: inScores, outScores: outScores, positive: .outOfDistribution)
        detectionError = try OOD.detectionError(inScores: inScores, outScores: outScores)
    }

    /// The metrics given value by value (as computed elsewhere, e.g. by the bootstrap).
    public init(auroc: Double, fpr95InPositive: Double, fpr95OutPositive: Double, auprIn: Double, auprOut: Double,
                detectionError: Double) {
        self.auroc = auroc
        self.fpr95InPositive = fpr95InPositive
        self.fpr95OutPositive = fpr95OutPositive
        self.auprIn = auprIn
        self.auprOut = auprOut
        self.detectionError = detectionError
    }

    /// The metrics in a fixed order with their keys: auroc, fpr95InPositive, fpr95OutPositive,
    /// auprIn, auprOut, detectionError.
    public var named: [(key: String, value: Double)] {
        [("auroc", auroc), ("fpr95InPositive", fpr95InPositive), ("fpr95OutPositive", fpr95OutPositive),
         ("auprIn", auprIn), ("auprOut", auprOut), ("detectionError", detectionError)]
    }
}
