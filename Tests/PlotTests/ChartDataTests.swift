import Testing
@testable import Plot

@Suite struct HistogramBinning {
    @Test func countsUseSharedHalfOpenBinsWithTheLastClosed() throws {
        // reference: numpy.histogram([0, 0.5, 1, 1.5, 2, 2], bins=2) → counts [2, 4], edges [0, 1, 2]
        //            numpy.histogram([1, 2], bins=2, range=(0, 2)) → counts [0, 2]
        let h = try Histogram([HistogramDataset("a", values: [0, 0.5, 1, 1.5, 2, 2]), HistogramDataset("b", values: [1, 2])],
                              bins: .count(2), normalization: .count)
        #expect(h.edges == [0, 1, 2])
        #expect(h.heights == [[2, 4], [0, 2]])
        #expect(h.excluded == [0, 0])
    }

    @Test func densityIntegratesToOne() throws {
        var rng = SplitMix64(seed: 3)
        let values = Fixtures.normal(500, mean: 3, sd: 2, using: &rng)
        let h = try Histogram([HistogramDataset("x", values: values)], bins: .count(17))
        let area = zip(h.heights[0], zip(h.edges, h.edges.dropFirst())).reduce(0.0) { $0 + $1.0 * ($1.1.1 - $1.1.0) }
        #expect(abs(area - 1) < 1e-12)
    }

    @Test func valuesOutsideAFixedRangeAreExcludedAndCounted() throws {
        let h = try Histogram([HistogramDataset("x", values: [-5, 0.2, 0.7, 9])], bins: .edges([0, 0.5, 1]),
                              normalization: .density)
        #expect(h.excluded == [2])
        // Two values inside, bins of width 0.5: density 1 / (2 · 0.5) = 1 in each bin.
        #expect(h.heights == [[1, 1]])
    }

    @Test func quantileRangeCutsTails() throws {
        let values = (0...100).map(Double.init) + [10_000]
        let h = try Histogram([HistogramDataset("x", values: values)], bins: .count(10),
                              range: .quantiles(lower: 0, upper: 0.99), normalization: .count)
        // reference: numpy.quantile(values, 0.99) = 99.99 (position 0.99 · 101 between 99 and 100).
        #expect(abs(h.edges.last! - 99.99) < 1e-9)
        #expect(abs(h.edges.last! - quantile(values.sorted(), 0.99)) < 1e-12)
        #expect(h.excluded == [2])
    }

    @Test func badInputNamesTheDataset() {
        expectPlotError("dataset 'MNIST'", "values[2]", "nan") {
            _ = try Histogram([HistogramDataset("MNIST", values: [1, 2, .nan])])
        }
        expectPlotError("dataset 'KMNIST'", "empty") { _ = try Histogram([HistogramDataset("KMNIST", values: [])]) }
        expectPlotError("histogram", "empty") { _ = try Histogram([]) }
        expectPlotError("bin edges must increase") { _ = try Histogram([HistogramDataset("a", values: [1])], bins: .edges([0, 2, 1])) }
        expectPlotError("bin count 0") { _ = try Histogram([HistogramDataset("a", values: [1])], bins: .count(0)) }
    }
}

@Suite struct ROCCurves {
    @Test func aurocMatchesScikitLearn() throws {
        // reference: sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
        let curve = try ROCCurve("x", positives: [0.35, 0.8], negatives: [0.1, 0.4])
        #expect(abs(curve.auroc - 0.75) < 1e-12)
        // reference: sklearn.metrics.roc_curve(...) → fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1]
        // (drop_intermediate keeps all five here).
        #expect(curve.falsePositiveRates == [0, 0, 0.5, 0.5, 1])
        #expect(curve.truePositiveRates == [0, 0.5, 0.5, 1, 1])
    }

    @Test func tiedScoresShareAThreshold() throws {
        // All scores tied: one diagonal step, AUROC = 0.5 (P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)).
        let curve = try ROCCurve("tied", positives: [1, 1, 1], negatives: [1, 1])
        #expect(curve.falsePositiveRates == [0, 1] && curve.truePositiveRates == [0, 1])
        #expect(curve.auroc == 0.5)
    }

    @Test func aurocEqualsThePairwiseProbability() throws {
        var rng = SplitMix64(seed: 4)
        let positives = Fixtures.normal(60, mean: 1, sd: 1, using: &rng).map { ($0 * 4).rounded() / 4 }
        let negatives = Fixtures.normal(50, mean: 0, sd: 1, using: &rng).map { ($0 * 4).rounded() / 4 }
        var wins = 0.0
        for p in positives { for n in negatives { wins += p > n ? 1 : p == n ? 0.5 : 0 } }
        let curve = try ROCCurve("x", positives: positives, negatives: negatives)
        #expect(abs(curve.auroc - wins / Double(positives.count * negatives.count)) < 1e-12)
    }

    @Test func legendCarriesTheAUROC() throws {
        let axes = try Axes.roc([try ROCCurve(.plain("Flow & co"), positives: [2], negatives: [1])])
        #expect(axes.series.compactMap(\.label?.markup) == ["Flow &amp; co (AUROC 1.000)"])
        #expect(axes.series[0].label == nil, "the chance diagonal stays out of the legend")
    }

    @Test func badRatesAreRejected() {
        expectPlotError("ROC curve 'x'", "truePositiveRates has 1 values, expected 2") {
            _ = try ROCCurve("x", falsePositiveRates: [0, 1], truePositiveRates: [0])
        }
        expectPlotError("must not decrease") { _ = try ROCCurve("x", falsePositiveRates: [0, 0.5, 0.2], truePositiveRates: [0, 1, 1]) }
        expectPlotError("negatives", "empty") { _ = try ROCCurve("x", positives: [1], negatives: []) }
        expectPlotError("positives[0]", "nan") { _ = try ROCCurve("x", positives: [.nan], negatives: [1]) }
    }
}

@Suite struct ChartBuilders {
    @Test func groupedBarsSitSideBySideAroundEachCategory() throws {
        let axes = try Axes.groupedBars(categories: ["A", "B"], series: [
            BarSeries("m1", values: [1, 2]), BarSeries("m2", values: [3, 4]),
        ], yLabel: "AUROC", groupWidth: 0.8)
        guard case .bars(let x1, _, let w, _) = axes.series[0].mark, case .bars(let x2, _, _, _) = axes.series[1].mark else {
            Issue.record("expected bars")
            return
        }
        #expect(zip(x1, [-0.2, 0.8]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(x2, [0.2, 1.2]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(w < 0.4)
    }

    @Test func scatterSplitsPointsByCategoryWithFixedColours() throws {
        let axes = try Axes.scatter(x: [0, 1, 2], y: [0, 1, 2], categories: [1, 0, 1], categoryNames: ["a", "b"])
        #expect(axes.series.count == 2)
        #expect(axes.series[1].color == Palette.tolBright[1])
        guard case .points(let x, _, _, _, _) = axes.series[1].mark else { return }
        #expect(x == [0, 2])
    }

    @Test func lineChartCreatesTheSecondAxisOnlyWhenUsed() throws {
        let one = try Axes.lines([LineSeries("a", x: [0, 1], y: [0, 1])], xLabel: nil, yLabel: nil)
        #expect(one.secondaryY == nil)
        let two = try Fixtures.lines()
        guard case .axes(let axes) = two.panels[0] else { return }
        #expect(axes.secondaryY?.label == "AUROC")
    }
}
