import Foundation

/// How data values map to positions along an axis.
public enum Scale: Sendable, Hashable {
    /// Position ∝ value.
    case linear
    /// Position ∝ log₁₀ value; every value must be positive.
    case log

    /// The value in the space where the mapping is linear (identity or log₁₀).
    func forward(_ value: Double) -> Double {
        switch self {
        case .linear: value
        case .log: log10(value)
        }
    }

    /// Inverse of ``forward(_:)``.
    func inverse(_ value: Double) -> Double {
        switch self {
        case .linear: value
        case .log: pow(10, value)
        }
    }

    /// Ticks at "nice" values inside `domain`, with labels.
    ///
    /// Linear: a step of 1, 2, 2.5 or 5 × 10ᵏ chosen so that about `targetCount` ticks fall in the
    /// domain; labels use the fewest decimals that show every tick exactly, U+2212 for minus, and
    /// m×10ᵏ for magnitudes ≥ 10⁵ or < 10⁻³. Log: majors at powers of ten (every n-th decade when
    /// there are many) with minors at 2…9 × 10ᵏ; when the domain holds fewer than two powers of
    /// ten, majors at 1, 2 and 5 × 10ᵏ. Labels are plain numbers for 10⁻³…10⁴, else 10ᵏ.
    ///
    /// - Parameters:
    ///   - domain: the visible data range (positive for `.log`).
    ///   - targetCount: about how many labelled ticks are wanted (at least 2 are returned when
    ///     the domain has positive width).
    /// - Returns: ticks in increasing order; minor ticks have no label.
    public func ticks(in domain: ClosedRange<Double>, targetCount: Int = 5) -> [Tick] {
        switch self {
        case .linear: linearTicks(domain, targetCount: Swift.max(targetCount, 2))
        case .log: logTicks(domain, targetCount: Swift.max(targetCount, 2))
        }
    }

    private func linearTicks(_ domain: ClosedRange<Double>, targetCount: Int) -> [Tick] {
        let span = domain.upperBound - domain.lowerBound
        guard span > 0, span.isFinite else {
            return [Tick(value: domain.lowerBound, label: Label(markup: formatTicks([domain.lowerBound], step: 1)[0]))]
        }
        let step = linearStep(domain, targetCount: targetCount)
        let first = (domain.lowerBound / step - 1e-9).rounded(.up)
        let last = (domain.upperBound / step + 1e-9).rounded(.down)
        let values = first <= last ? stride(from: first, through: last, by: 1).map { $0 * step } : [domain.lowerBound]
        let labels = formatTicks(values, step: step)
        return zip(values, labels).map { Tick(value: $0 == 0 ? 0 : $0, label: Label(markup: $1)) }
    }

    private func logTicks(_ domain: ClosedRange<Double>, targetCount: Int) -> [Tick] {
        let lo = Swift.max(domain.lowerBound, .leastNormalMagnitude), hi = Swift.max(domain.upperBound, lo)
        let a = log10(lo), b = log10(hi)
        let tolerance = 1e-9
        let kLo = Int((a - tolerance).rounded(.up)), kHi = Int((b + tolerance).rounded(.down))
        var majors: [Double] = []
        var minors: [Double] = []
        let inside = { (v: Double) in v >= lo * (1 - tolerance) && v <= hi * (1 + tolerance) }
        if kHi - kLo + 1 >= 2 {
            let decades = kHi - kLo + 1
            let stride = Swift.max(1, Int((Double(decades) / Double(targetCount + 1)).rounded(.up)))
            majors = Swift.stride(from: kLo, through: kHi, by: stride).map { pow(10, Double($0)) }
            if stride == 1 {
                for k in Int(a.rounded(.down))...kHi {
                    for m in 2...9 {
                        let v = Double(m) * pow(10, Double(k))
                        if inside(v) { minors.append(v) }
                    }
                }
            }
        } else {
            let kMin = Int(a.rounded(.down)), kMax = Int(b.rounded(.up))
            for multiples in [[1.0, 2, 5], [1.0, 2, 3, 4, 5, 6, 7, 8, 9]] {
                majors = []
                minors = []
                for k in kMin...kMax {
                    for m in 1...9 {
                        let v = Double(m) * pow(10, Double(k))
                        guard inside(v) else { continue }
                        if multiples.contains(Double(m)) { majors.append(v) } else { minors.append(v) }
                    }
                }
                if majors.count >= 2 { break }
            }
        }
        let plain = majors.allSatisfy { $0 >= 1e-3 * (1 - tolerance) && $0 < 1e4 }
        var ticks: [Tick] = majors.map { value in
            let label: String
            if plain {
                let decimals = Swift.max(0, -Int(log10(value).rounded(.down)))
                label = formatNumber(value, decimals: decimals)
            } else {
                let k = Int(log10(value).rounded())
                let mantissa = value / pow(10, Double(k))
                let power = "10<sup>\(formatNumber(Double(k), decimals: 0))</sup>"
                label = abs(mantissa - 1) < 1e-9 ? power : "\(formatNumber(mantissa, decimals: 0))×\(power)"
            }
            return Tick(value: value, label: Label(markup: label))
        }
        ticks += minors.map { Tick(value: $0, label: nil, isMajor: false) }
        return ticks.sorted { $0.value < $1.value }
    }
}

/// A tick mark on an axis.
public struct Tick: Sendable, Hashable {
    /// Position in data units.
    public var value: Double
    /// Text under or beside the tick; nil draws the mark only.
    public var label: Label?
    /// Major ticks are longer and usually labelled; minor ticks are short and unlabelled.
    public var isMajor: Bool

    /// A tick at `value`.
    ///
    /// - Parameters:
    ///   - value: position in data units.
    ///   - label: text beside the tick, or nil.
    ///   - isMajor: whether the tick is a long (major) one.
    public init(value: Double, label: Label?, isMajor: Bool = true) {
        self.value = value
        self.label = label
        self.isMajor = isMajor
    }
}

/// The step 1, 2, 2.5 or 5 × 10ᵏ whose tick count in `domain` is closest to `targetCount`
/// (at least 2 ticks; 2.5 × 10ᵏ only when clearly better; ties go to the larger step).
func linearStep(_ domain: ClosedRange<Double>, targetCount: Int) -> Double {
    let span = domain.upperBound - domain.lowerBound
    let raw = span / Double(targetCount)
    guard raw > 0, raw.isFinite else { return 1 }
    let k = Int(log10(raw).rounded(.down))
    var best: (step: Double, cost: Double)?
    for exponent in (k - 1)...(k + 1) {
        for mantissa in [1.0, 2, 2.5, 5] {
            let step = mantissa * pow(10, Double(exponent))
            let count = (domain.upperBound / step + 1e-9).rounded(.down) - (domain.lowerBound / step - 1e-9).rounded(.up) + 1
            guard count >= 2 else { continue }
            let cost = abs(count - Double(targetCount)) + (mantissa == 2.5 ? 1.25 : 0)
            if best == nil || cost < best!.cost || (cost == best!.cost && step > best!.step) { best = (step, cost) }
        }
    }
    return best?.step ?? span
}

/// Labels for evenly spaced tick values: the fewest decimals that show every value exactly,
/// U+2212 for minus, m×10ᵏ for very large or very small magnitudes.
func formatTicks(_ values: [Double], step: Double) -> [String] {
    let largest = values.map(abs).max() ?? 0
    let tolerance = Swift.max(abs(step) * 1e-6, 1e-12)
    if largest >= 1e5 || (largest > 0 && largest < 1e-3) {
        return values.map { value in
            guard value != 0 else { return "0" }
            let k = Int(log10(abs(value)).rounded(.down))
            let mantissa = value / pow(10, Double(k))
            let decimals = (0...6).first { abs((mantissa * pow(10, Double($0))).rounded() / pow(10, Double($0)) - mantissa) < 1e-6 } ?? 6
            return "\(formatNumber(mantissa, decimals: decimals))×10<sup>\(formatNumber(Double(k), decimals: 0))</sup>"
        }
    }
    let decimals = (0...12).first { d in
        let p = pow(10, Double(d))
        return values.allSatisfy { abs(($0 * p).rounded() / p - $0) < tolerance }
    } ?? 12
    return values.map { formatNumber($0, decimals: decimals) }
}

/// A mapping from data values to positions on the page along one axis.
struct AxisMap {
    var scale: Scale
    /// The visible data range.
    var domain: ClosedRange<Double>
    /// Page positions of `domain.lowerBound` and `domain.upperBound` (may be decreasing, as for y).
    var start: Double
    var end: Double

    func callAsFunction(_ value: Double) -> Double {
        let a = scale.forward(domain.lowerBound), b = scale.forward(domain.upperBound)
        let t = b == a ? 0.5 : (scale.forward(value) - a) / (b - a)
        return start + t * (end - start)
    }

    /// True when `value` lies in the domain (with a little slack for rounding).
    func contains(_ value: Double) -> Bool {
        let slack = 1e-9 * Swift.max(abs(domain.upperBound - domain.lowerBound), 1e-300)
        return value >= domain.lowerBound - slack && value <= domain.upperBound + slack
    }
}

/// The visible range for data spanning `low...high`: widened by `margin` × span at each end
/// that is not sticky (in log₁₀ space for log scales); a zero-width range is widened to show it.
func visibleDomain(low: Double, high: Double, scale: Scale, margin: Double,
                   stickyLow: Bool, stickyHigh: Bool) -> ClosedRange<Double> {
    var a = scale.forward(low), b = scale.forward(high)
    if b - a <= 0 {
        let half = scale == .log ? 0.5 : Swift.max(abs(a) * 0.1, 0.5)
        return scale.inverse(a - half)...scale.inverse(b + half)
    }
    let span = b - a
    if !stickyLow { a -= margin * span }
    if !stickyHigh { b += margin * span }
    return scale.inverse(a)...scale.inverse(b)
}
