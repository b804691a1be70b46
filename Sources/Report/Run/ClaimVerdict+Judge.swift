extension ClaimVerdict {
    /// How many standard errors a difference must exceed before a verdict is called (≈ 95 %).
    public static let z = 2.0

    /// The verdict on an expectation written as a difference (our value minus the bound or the
    /// other value) that should be positive (`expectPositive`) or negative.
    ///
    /// With measured uncertainties (standard errors of the values, combined as if independent,
    /// which overstates the error of paired comparisons on the same test inputs), a difference
    /// within `z` standard errors of zero is `.inconclusive`; beyond it the sign decides. Without
    /// any measured uncertainty the sign alone decides.
    public static func judge(difference: Double, standardErrors: [Double?], expectPositive: Bool) -> ClaimVerdict {
        let holds = expectPositive ? difference > 0 : difference < 0
        let known = standardErrors.compactMap { $0 }
        guard !known.isEmpty else { return holds ? .reproduced : .notReproduced }
        let se = known.map { $0 * $0 }.reduce(0, +).squareRoot()
        if abs(difference) <= z * se { return .inconclusive }
        return holds ? .reproduced : .notReproduced
    }
}
