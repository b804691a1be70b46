import Testing
@testable import Report

@Suite struct ClaimVerdictTests {
    @Test func signDecidesWithoutAMeasuredUncertainty() {
        #expect(ClaimVerdict.judge(difference: 0.001, standardErrors: [nil], expectPositive: true) == .reproduced)
        #expect(ClaimVerdict.judge(difference: -0.001, standardErrors: [nil, nil], expectPositive: true) == .notReproduced)
        #expect(ClaimVerdict.judge(difference: -0.3, standardErrors: [], expectPositive: false) == .reproduced)
    }

    @Test func differencesWithinTwoStandardErrorsAreInconclusive() {
        // Combined error √(0.03² + 0.04²) = 0.05; the bar is 2 · 0.05 = 0.1.
        #expect(ClaimVerdict.judge(difference: 0.099, standardErrors: [0.03, 0.04], expectPositive: true) == .inconclusive)
        #expect(ClaimVerdict.judge(difference: 0.101, standardErrors: [0.03, 0.04], expectPositive: true) == .reproduced)
        #expect(ClaimVerdict.judge(difference: 0.101, standardErrors: [0.03, 0.04], expectPositive: false) == .notReproduced)
        #expect(ClaimVerdict.judge(difference: -0.05, standardErrors: [0.03, nil], expectPositive: true) == .inconclusive)
        // A tie with any measured error is inconclusive, never reproduced.
        #expect(ClaimVerdict.judge(difference: 0, standardErrors: [0.001], expectPositive: false) == .inconclusive)
    }

    @Test func qualitativeClaimsTakeNoValueAndOthersNeedOne() {
        let table = "@AUROCTable(id: \"tab:t\", evaluation: \"eval\")\n\n"
        #expect(book(table + """
        @Claim(id: "claim:q", paper: .kirichenko2020, text: "Couplings copy edges.", paperEvidence: "Figure 1b, c", evidence: "tab:t", expect: .qualitative)
        """) != nil)
        #expect(diagnostic(table + """
        @Claim(id: "claim:q", paper: .kirichenko2020, text: "Couplings copy edges.", evidence: "tab:t", value: "auroc:eval/msp/digits", expect: .qualitative)
        """) == """
        chapters/01-test.md:3:104: error: a '.qualitative' claim has no 'value' to test; remove it or state an expectation
        @Claim(id: "claim:q", paper: .kirichenko2020, text: "Couplings copy edges.", evidence: "tab:t", value: "auroc:eval/msp/digits", expect: .qualitative)
                                                                                                               ^
        """)
        #expect(diagnostic(table + """
        @Claim(id: "claim:q", paper: .lde2023, text: "LDE wins.", evidence: "tab:t", expect: .above(0.9))
        """) == """
        chapters/01-test.md:3:86: error: @Claim with 'expect: .above' needs a 'value:' key to test
        @Claim(id: "claim:q", paper: .lde2023, text: "LDE wins.", evidence: "tab:t", expect: .above(0.9))
                                                                                             ^
        """)
    }
}
