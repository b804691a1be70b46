import Testing
import Tensor
import TestSupport
@testable import OOD

// Reference values below come from scikit-learn 1.9.1 (numpy arrays, ID label 1, OOD label 0):
//
//   import numpy as np
//   from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
//   def ap(i, o):
//       y = np.r_[np.ones(len(i)), np.zeros(len(o))]; s = np.r_[i, o]
//       return average_precision_score(y, s), average_precision_score(1 - y, -s), roc_auc_score(y, s)
//   def fpr(i, o, t):
//       y = np.r_[np.ones(len(i)), np.zeros(len(o))]; s = np.r_[i, o]
//       f, tp, _ = roc_curve(y, s, drop_intermediate=False); a = f[np.argmax(tp >= t)]
//       f, tp, _ = roc_curve(1 - y, -s, drop_intermediate=False); b = f[np.argmax(tp >= t)]
//       return a, b
//
//   case  AUPR-In (ap[0])       AUPR-Out (ap[1])      AUROC               fpr(.95)      fpr(.8)
//   A     0.8528571428571429    0.885                 0.88                (0.4, 0.6)    (0.2, 0.2)
//   B     0.7542811355311355    0.6455727554179566    0.7166666666666667  (0.9, 0.75)   (0.6, 0.5833333333333334)
//   C     0.553968253968254     0.45039682539682535   0.475               (1.0, 1.0)    (0.75, 1.0)

private let caseA = (id: [0.9, 0.8, 0.7, 0.5, 0.4], ood: [0.7, 0.4, 0.3, 0.2, 0.1])
private let caseB = (id: [0.3, 0.1, 0.3, 0.7, 0.2, 0.5, 0.3, 0.9, 0.1, 0.4, 0.6, 0.3],
                     ood: [0.1, 0.2, 0.3, 0.3, 0.0, 0.5, 0.1, 0.2, 0.4, 0.1])
private let caseC = (id: [2.0, 1.0, 1.0, 1.0, 0.0], ood: [1.0, 1.0, 0.0, 3.0])

/// AUROC by definition: the fraction of (ID, OOD) pairs ordered correctly, ties counting ½.
private func bruteForceAUROC(_ id: [Double], _ ood: [Double]) -> Double {
    var wins = 0.0
    for a in id { for b in ood { wins += a > b ? 1 : (a == b ? 0.5 : 0) } }
    return wins / Double(id.count * ood.count)
}

private func gaussian(_ n: Int, mean: Double, using rng: inout SeededGenerator) -> [Double] {
    (0..<n).map { _ in mean + rng.nextNormal() }
}

@Suite struct MetricsTests {
    // MARK: AUROC

    @Test(arguments: [(1, 1), (3, 7), (20, 13), (100, 250), (500, 400)])
    func aurocEqualsPairwiseCountWithTies(nIn: Int, nOut: Int) throws {
        var rng = SeededGenerator(seed: UInt64(nIn * 1000 + nOut))
        for _ in 0..<5 {
            // Rounded to one decimal: many ties within and across the sets.
            let id = (0..<nIn).map { _ in ((rng.nextNormal() + 0.5) * 10).rounded() / 10 }
            let ood = (0..<nOut).map { _ in (rng.nextNormal() * 10).rounded() / 10 }
            expectClose([try auroc(inScores: id, outScores: ood)], [bruteForceAUROC(id, ood)],
                        tolerance: 1e-12, "n_in \(nIn), n_out \(nOut)")
        }
    }

    @Test func aurocOfSeparatedReversedAndTiedScores() throws {
        #expect(try auroc(inScores: [3, 4, 5], outScores: [0, 1, 2.9]) == 1)
        #expect(try auroc(inScores: [0, 1, 2.9], outScores: [3, 4, 5]) == 0)
        #expect(try auroc(inScores: [1, 1], outScores: [1, 1, 1]) == 0.5)
        // reference: sklearn roc_auc_score (table above)
        expectClose([try auroc(inScores: caseA.id, outScores: caseA.ood),
                     try auroc(inScores: caseB.id, outScores: caseB.ood),
                     try auroc(inScores: caseC.id, outScores: caseC.ood)],
                    [0.88, 0.7166666666666667, 0.475], tolerance: 1e-12)
    }

    @Test func aurocOfTwoUnitGaussians() throws {
        var rng = SeededGenerator(seed: 42)
        let id = gaussian(2000, mean: 1, using: &rng), ood = gaussian(2000, mean: -1, using: &rng)
        // P(X > Y) for X ~ N(1, 1), Y ~ N(−1, 1) is Φ((1 − (−1)) / √2) = Φ(√2) = 0.92135.
        expectClose([try auroc(inScores: id, outScores: ood)], [0.92135], tolerance: 0.02)
    }

    // MARK: FPR at TPR

    @Test func fprAtTPRByHand() throws {
        // ID = {0.9, 0.8, 0.7, 0.5, 0.4}, OOD = {0.7, 0.4, 0.3, 0.2, 0.1}.
        // ID positive, 95 %: all 5 ID needed (4/5 = 0.8 < 0.95) → threshold 0.4 (score ≥ 0.4);
        //   OOD ≥ 0.4 are {0.7, 0.4} (0.4 tied, shares the threshold) → 2/5 = 0.4.
        // OOD positive, 95 %: all 5 OOD flagged (score ≤ 0.7) → ID ≤ 0.7 are {0.7, 0.5, 0.4} → 3/5 = 0.6.
        // At 80 %: ID positive keeps 4 ID at threshold 0.5 → OOD ≥ 0.5 is {0.7} → 0.2;
        //   OOD positive flags 4 OOD at score ≤ 0.4 → ID ≤ 0.4 is {0.4} → 0.2.
        let (id, ood) = caseA
        #expect(try fprAtTPR(inScores: id, outScores: ood, positive: .inDistribution) == 0.4)
        #expect(try fprAtTPR(inScores: id, outScores: ood, positive: .outOfDistribution) == 0.6)
        #expect(try fprAtTPR(0.8, inScores: id, outScores: ood, positive: .inDistribution) == 0.2)
        #expect(try fprAtTPR(0.8, inScores: id, outScores: ood, positive: .outOfDistribution) == 0.2)
    }

    @Test func fprAtTPRMatchesSklearnRocCurve() throws {
        // reference: sklearn roc_curve(drop_intermediate=False), table above.
        func both(_ t: Double, _ c: (id: [Double], ood: [Double])) throws -> [Double] {
            [try fprAtTPR(t, inScores: c.id, outScores: c.ood, positive: .inDistribution),
             try fprAtTPR(t, inScores: c.id, outScores: c.ood, positive: .outOfDistribution)]
        }
        expectClose(try both(0.95, caseB), [0.9, 0.75], tolerance: 1e-12, "B 95 %")
        expectClose(try both(0.8, caseB), [0.6, 0.5833333333333334], tolerance: 1e-12, "B 80 %")
        expectClose(try both(0.95, caseC), [1.0, 1.0], tolerance: 1e-12, "C 95 %")
        expectClose(try both(0.8, caseC), [0.75, 1.0], tolerance: 1e-12, "C 80 %")
    }

    // MARK: Average precision

    @Test func averagePrecisionMatchesSklearn() throws {
        // reference: sklearn average_precision_score, table above.
        for (name, c, expected) in [("A", caseA, [0.8528571428571429, 0.885]),
                                    ("B", caseB, [0.7542811355311355, 0.6455727554179566]),
                                    ("C", caseC, [0.553968253968254, 0.45039682539682535])] {
            expectClose([try averagePrecision(inScores: c.id, outScores: c.ood, positive: .inDistribution),
                         try averagePrecision(inScores: c.id, outScores: c.ood, positive: .outOfDistribution)],
                        expected, tolerance: 1e-12, "case \(name)")
        }
    }

    // MARK: Detection error

    @Test func detectionErrorByHand() throws {
        // Case A, ID positive, error(t) = ½(1 − TPR) + ½ FPR at thresholds 0.9, 0.8, 0.7, 0.5, 0.4, 0.3, …:
        // 0.4, 0.3, ½·0.4 + ½·0.2 = 0.3, ½·0.2 + ½·0.2 = 0.2, 0 + ½·0.4 = 0.2, 0.3, … → minimum 0.2.
        expectClose([try detectionError(inScores: caseA.id, outScores: caseA.ood)], [0.2], tolerance: 1e-15)
        #expect(try detectionError(inScores: [2, 3], outScores: [0, 1]) == 0)
        // Reversed scores: rejecting everything (threshold +∞) is best, error ½.
        #expect(try detectionError(inScores: [0, 1], outScores: [2, 3]) == 0.5)
    }

    @Test func bundleAgreesWithTheFunctions() throws {
        let m = try OODMetrics(inScores: caseB.id, outScores: caseB.ood)
        expectClose([m.auroc, m.fpr95InPositive, m.fpr95OutPositive, m.auprIn, m.auprOut],
                    [0.7166666666666667, 0.9, 0.75, 0.7542811355311355, 0.6455727554179566], tolerance: 1e-12)
        #expect(m.detectionError == (try detectionError(inScores: caseB.id, outScores: caseB.ood)))
    }

    // MARK: Errors

    @Test func nonFiniteAndEmptyScoresNameTheSetAndIndex() throws {
        let nan = #expect(throws: MetricsError.self) {
            try auroc(inScores: [1, 2, 3], outScores: [0, 1, 2, .nan])
        }
        #expect(nan?.set == .outOfDistribution)
        if case .nonFinite(let index, _)? = nan?.kind { #expect(index == 3) } else { Issue.record("kind \(String(describing: nan?.kind))") }
        #expect(nan?.description == "out-of-distribution score at index 3 is nan; scores must be finite")

        let inf = #expect(throws: MetricsError.self) {
            try fprAtTPR(inScores: [1, .infinity], outScores: [0], positive: .outOfDistribution)
        }
        #expect(inf?.set == .inDistribution)
        #expect(inf?.description == "in-distribution score at index 1 is inf; scores must be finite")

        let empty = #expect(throws: MetricsError.self) {
            try averagePrecision(inScores: [], outScores: [1], positive: .inDistribution)
        }
        #expect(empty?.description == "in-distribution scores are empty")
        let emptyOut = #expect(throws: MetricsError.self) { try OODMetrics(inScores: [1], outScores: []) }
        #expect(emptyOut?.set == .outOfDistribution)
        #expect(throws: MetricsError.self) { try detectionError(inScores: [.nan], outScores: [1]) }
    }

    // MARK: Bootstrap and aggregation

    @Test func bootstrapContainsPointNarrowsAndIsDeterministic() throws {
        func interval(n: Int, seed: UInt64) throws -> ConfidenceInterval {
            var data = SeededGenerator(seed: 7)
            let id = gaussian(n, mean: 0.5, using: &data), ood = gaussian(n, mean: -0.5, using: &data)
            var rng = SeededGenerator(seed: seed)
            return try bootstrapInterval(inScores: id, outScores: ood, resamples: 300, using: &rng,
                                         metric: auroc(inScores:outScores:))
        }
        let small = try interval(n: 40, seed: 1), large = try interval(n: 1000, seed: 1)
        for ci in [small, large] {
            #expect(ci.lower <= ci.point && ci.point <= ci.upper, "\(ci)")
            #expect(ci.lower < ci.upper, "\(ci)")
        }
        // Width shrinks like 1/√n: 25× the data should give roughly 1/5 the width.
        #expect(large.upper - large.lower < 0.5 * (small.upper - small.lower), "\(small) vs \(large)")
        #expect(try interval(n: 40, seed: 1) == small)
        #expect(try interval(n: 40, seed: 2) != small)
    }

    @Test func bootstrapTakesAnyMetricAndValidatesFirst() throws {
        var rng = SeededGenerator(seed: 3)
        let ci = try bootstrapInterval(inScores: caseB.id, outScores: caseB.ood, resamples: 200, using: &rng) {
            (id, ood) throws(MetricsError) in try fprAtTPR(inScores: id, outScores: ood, positive: .outOfDistribution)
        }
        #expect(ci.point == 0.75)
        #expect(0 <= ci.lower && ci.lower <= ci.upper && ci.upper <= 1, "\(ci)")
        let error = #expect(throws: MetricsError.self) {
            try bootstrapInterval(inScores: [1], outScores: [0, .nan], using: &rng, metric: auroc(inScores:outScores:))
        }
        #expect(error?.set == .outOfDistribution)
    }

    @Test func allMetricIntervalsEqualTheOneMetricBootstrap() throws {
        // Scores rounded to 0.25 so resamples are full of ties; the fast all-metrics bootstrap
        // (weights over one sort) must give exactly the intervals of resampling and re-sorting.
        var data = SeededGenerator(seed: 11)
        let id = gaussian(70, mean: 0.4, using: &data).map { ($0 * 4).rounded() / 4 }
        let ood = gaussian(45, mean: -0.3, using: &data).map { ($0 * 4).rounded() / 4 }
        var fast = SeededGenerator(seed: 5)
        let all = try bootstrapMetrics(inScores: id, outScores: ood, resamples: 120, confidence: 0.9, using: &fast)
        #expect(all.resamples == 120 && all.confidence == 0.9)
        let metrics: [(String, (_ id: [Double], _ ood: [Double]) throws(MetricsError) -> Double)] = [
            ("auroc", { (a, b) throws(MetricsError) in try auroc(inScores: a, outScores: b) }),
            ("fpr95InPositive", { (a, b) throws(MetricsError) in try fprAtTPR(inScores: a, outScores: b, positive: .inDistribution) }),
            ("fpr95OutPositive", { (a, b) throws(MetricsError) in try fprAtTPR(inScores: a, outScores: b, positive: .outOfDistribution) }),
            ("auprIn", { (a, b) throws(MetricsError) in try averagePrecision(inScores: a, outScores: b, positive: .inDistribution) }),
            ("auprOut", { (a, b) throws(MetricsError) in try averagePrecision(inScores: a, outScores: b, positive: .outOfDistribution) }),
            ("detectionError", { (a, b) throws(MetricsError) in try detectionError(inScores: a, outScores: b) }),
        ]
        for (key, metric) in metrics {
            var slow = SeededGenerator(seed: 5)
            let one = try bootstrapInterval(inScores: id, outScores: ood, resamples: 120, confidence: 0.9, using: &slow, metric: metric)
            #expect(all.interval(key) == one, "\(key): \(String(describing: all.interval(key))) vs \(one)")
        }
        #expect(all.auroc.point == (try OODMetrics(inScores: id, outScores: ood)).auroc)
        let invalid = #expect(throws: MetricsError.self) { try bootstrapMetrics(inScores: [], outScores: [1], using: &fast) }
        #expect(invalid?.set == .inDistribution)
    }

    @Test func quantileInterpolatesLikeNumpy() {
        // reference: numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let values: [Double] = [1, 2, 3, 4]
        expectClose([quantile(sorted: values, 0.025), quantile(sorted: values, 0.5), quantile(sorted: values, 0.975)],
                    [1.075, 2.5, 3.925], tolerance: 1e-12)
    }

    @Test func meanAndSampleStd() {
        // reference: numpy.mean([0.9, 0.92, 0.94]) = 0.92, numpy.std([0.9, 0.92, 0.94], ddof=1) = 0.02
        let (mean, std) = meanAndStd([0.9, 0.92, 0.94])
        expectClose([mean, std], [0.92, 0.02], tolerance: 1e-12)
        #expect(meanAndStd([3]) == (3, 0))
    }
}
