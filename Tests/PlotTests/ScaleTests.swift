import Testing
@testable import Plot

@Suite struct LinearTicks {
    private func labels(_ ticks: [Tick]) -> [String] { ticks.compactMap { $0.label?.markup } }

    @Test func unitIntervalGetsSteps1Or2Tenths() {
        let ticks = Scale.linear.ticks(in: 0...1, targetCount: 6)
        #expect(ticks.map { ($0.value * 10).rounded() / 10 } == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(labels(ticks) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func negativeTicksUseTheMinusSign() {
        let ticks = Scale.linear.ticks(in: -3.2...7.9, targetCount: 5)
        #expect(labels(ticks) == ["\u{2212}2", "0", "2", "4", "6"])
        #expect(!labels(ticks).joined().contains("-"), "ASCII hyphen in \(labels(ticks))")
    }

    @Test func ticksStayInsideTheDomainAndIncrease() {
        for (lo, hi) in [(0.0, 1.0), (-1234.5, -1000.1), (1e-4, 3e-4), (0.69, 0.99), (2.0, 2.0000001)] {
            for target in 2...9 {
                let values = Scale.linear.ticks(in: lo...hi, targetCount: target).map(\.value)
                #expect(values.count >= 2, "\(lo)...\(hi), target \(target): \(values)")
                #expect(values.allSatisfy { $0 >= lo - 1e-12 && $0 <= hi + 1e-12 }, "\(values) outside \(lo)...\(hi)")
                #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 })
            }
        }
    }

    @Test func largeMagnitudesUseScientificLabels() {
        let ticks = Scale.linear.ticks(in: 0...400_000, targetCount: 5)
        #expect(labels(ticks).contains("2×10<sup>5</sup>"), "\(labels(ticks))")
        #expect(labels(ticks).first == "0")
    }

    @Test func labelsUseTheFewestExactDecimals() {
        #expect(formatTicks([0, 0.25, 0.5], step: 0.25) == ["0.00", "0.25", "0.50"])
        #expect(formatTicks([-10, 0, 10], step: 10) == ["\u{2212}10", "0", "10"])
        #expect(formatNumber(-0.0001, decimals: 2) == "0.00")
        #expect(formatNumber(-1.5, decimals: 1) == "\u{2212}1.5")
    }
}

@Suite struct LogTicks {
    @Test func decadesAreLabelledWithMinorTicksBetween() {
        let ticks = Scale.log.ticks(in: 1.5...600, targetCount: 5)
        let majors = ticks.filter(\.isMajor)
        #expect(majors.map(\.value) == [10, 100])
        #expect(majors.compactMap { $0.label?.markup } == ["10", "100"])
        #expect(ticks.filter { !$0.isMajor }.map(\.value).contains(200))
    }

    @Test func wideRangesUsePowerNotation() {
        let majors = Scale.log.ticks(in: 1e-6...1e2, targetCount: 5).filter(\.isMajor)
        #expect(majors.first?.label?.markup == "10<sup>\u{2212}6</sup>")
        #expect(majors.count <= 6, "\(majors.map(\.value))")
    }

    @Test func lessThanADecadeFallsBackTo125() {
        let majors = Scale.log.ticks(in: 1.5...8, targetCount: 5).filter(\.isMajor).map(\.value)
        #expect(majors == [2, 5])
    }
}

@Suite struct Domains {
    @Test func stickyEndsGetNoMargin() {
        let domain = visibleDomain(low: 0, high: 10, scale: .linear, margin: 0.1, stickyLow: true, stickyHigh: false)
        #expect(domain == 0...11)
    }

    @Test func degenerateRangesAreWidened() {
        let domain = visibleDomain(low: 5, high: 5, scale: .linear, margin: 0.05, stickyLow: false, stickyHigh: false)
        #expect(domain.lowerBound < 5 && domain.upperBound > 5)
    }

    @Test func axisMapIsAffineInTheScaleSpace() {
        let map = AxisMap(scale: .log, domain: 1...100, start: 0, end: 200)
        #expect(abs(map(10) - 100) < 1e-9)
        let linear = AxisMap(scale: .linear, domain: -1...1, start: 100, end: 0)
        #expect(linear(0) == 50 && linear(1) == 0)
    }
}
