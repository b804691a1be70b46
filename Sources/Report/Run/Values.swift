import Foundation
import OOD

/// A number from our runs, addressed by an inline-value key (`auroc:lde-main/lde/textures`).
public struct ResolvedValue: Sendable {
    /// Mean over seeds, in the metric's own units (AUROC in [0, 1]).
    public var value: Double
    /// Standard deviation over seeds (0 for one seed).
    public var std: Double
    public var seeds: Int
    /// The standard error of `value` where our runs give one: over seeds, std/√n; for one seed,
    /// from the AUROC's 95 % bootstrap interval (width / 3.92) or the per-sample spread of a mean
    /// bits/dim. Nil when nothing measures it (counts, seconds, accuracy, one-seed FPR95...).
    public var standardError: Double? = nil
    /// As shown in prose: "93.4" for percentages (AUROC ×100), "3.12" for bpd, "1,513,587" for counts.
    public var text: String
}

/// Formats `x` with `decimals` decimals (no locale, deterministic).
func fixed(_ x: Double, _ decimals: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "NaN" : (x > 0 ? "∞" : "−∞") }
    let s = String(format: "%.\(decimals)f", x)
    return s.hasPrefix("-") ? "−" + s.dropFirst() : s
}

/// 1513587 → "1,513,587".
func grouped(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "−" : "") + out
}

extension MetricKind {
    /// Whether the metric is a rate shown in percent.
    var isPercentage: Bool { true }

    /// The metric's value as shown: percent with one decimal.
    func format(_ x: Double) -> String { fixed(100 * x, 1) }

    /// The key prefix in inline values.
    var valueName: String { rawValue }

    init?(valueName: String) {
        self.init(rawValue: valueName)
    }
}

/// An error in an inline value or claim key, with where it was written.
public struct ValueError: Error, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public var description: String { "\(location): error: \(message)" }
}
