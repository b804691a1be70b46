import Testing
import Tensor
import TestSupport

@Suite("Fused affine coupling")
struct CouplingTests {
    /// The composite form the fused op replaces.
    static func composite(_ x: Tensor, _ columns: Range<Int>, _ h: Tensor) -> (Tensor, Tensor) {
        let m = columns.count, d = x.shape[1]
        let s = h.slice(axis: 1, 0..<m).tanh(), t = h.slice(axis: 1, m..<(2 * m))
        let moved = x.slice(axis: 1, columns) * s.exp() + t
        var parts: [Tensor] = []
        if columns.lowerBound > 0 { parts.append(x.slice(axis: 1, 0..<columns.lowerBound)) }
        parts.append(moved)
        if columns.upperBound < d { parts.append(x.slice(axis: 1, columns.upperBound..<d)) }
        return (Tensor.concat(parts, axis: 1), s.sum(axes: [1]))
    }

    static let cases: [(d: Int, columns: Range<Int>)] = [(6, 3..<6), (6, 0..<3), (7, 3..<7), (7, 0..<3), (5, 1..<3)]

    @Test(arguments: 0..<5)
    func matchesCompositeAndFiniteDifferences(_ k: Int) {
        let (d, columns) = Self.cases[k]
        let x = normal([4, d], seed: 1100 + UInt64(k)), h = normal([4, 2 * columns.count], seed: 1110 + UInt64(k))
        let (y, logDet) = withoutGrad { x.affineCoupled(columns: columns, by: h) }
        let (yc, lc) = withoutGrad { Self.composite(x, columns, h) }
        expectClose(y.doubles, yc.doubles, tolerance: 1e-15, relativeTolerance: 1e-15, "y")
        expectClose(logDet.doubles, lc.doubles, tolerance: 1e-14, "logDet")
        // Both outputs under one check: y and log|det| side by side.
        expectGradientsMatchFiniteDifferences([x, h]) { t in
            let (y, logDet) = t[0].affineCoupled(columns: columns, by: t[1])
            return Tensor.concat([y, logDet.reshaped([4, 1])], axis: 1)
        }
        // Each output alone (the other one receives no gradient).
        expectGradientsMatchFiniteDifferences([x, h]) { t in t[0].affineCoupled(columns: columns, by: t[1]).output }
        expectGradientsMatchFiniteDifferences([h]) { t in x.affineCoupled(columns: columns, by: t[0]).logDet }
    }
}
