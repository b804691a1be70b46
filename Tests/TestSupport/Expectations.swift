import Testing
import Tensor

// MARK: - Exact comparison

/// Bit patterns of a tensor's elements, so exact comparisons see NaN payloads and the sign of zero.
public func bits(_ t: Tensor) -> [UInt64] {
    switch t.dtype {
    case .float32: t.scalars.map { UInt64($0.bitPattern) }
    case .float64: t.doubles.map { $0.bitPattern }
    }
}

// MARK: - Comparison within a tolerance

/// Expects two arrays to agree element-wise within a tolerance; reports the worst element.
///
/// Element i passes when |actualᵢ − expectedᵢ| ≤ max(tolerance, relativeTolerance · |expectedᵢ|);
/// NaN never passes. With the default `relativeTolerance` of 0 the bound is absolute; with
/// `relativeTolerance` equal to `tolerance` it is tolerance · max(1, |expectedᵢ|).
///
/// - Parameters:
///   - actual: the computed values.
///   - expected: the reference values; the counts must agree.
///   - tolerance: absolute tolerance (the floor of the bound).
///   - relativeTolerance: tolerance relative to |expectedᵢ|.
///   - what: a label that starts the failure message.
public func expectClose(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-12,
                        relativeTolerance: Double = 0, _ what: String = "",
                        sourceLocation: SourceLocation = #_sourceLocation) {
    let label = what.isEmpty ? "" : "\(what): "
    guard actual.count == expected.count else {
        Issue.record("\(label)\(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var failures = 0
    var worst: (index: Int, error: Double, bound: Double, excess: Double)?
    for i in actual.indices {
        let error = Swift.abs(actual[i] - expected[i])
        let bound = Swift.max(tolerance, relativeTolerance * Swift.abs(expected[i]))
        if error <= bound { continue }
        failures += 1
        let excess = error.isNaN ? .infinity : error / bound
        if worst.map({ excess > $0.excess }) ?? true { worst = (i, error, bound, excess) }
    }
    if let worst {
        Issue.record("""
            \(label)element \(worst.index): \(actual[worst.index]) vs expected \(expected[worst.index]) \
            (|Δ| = \(worst.error), allowed \(worst.bound)); \(failures) of \(actual.count) elements outside the tolerance
            """, sourceLocation: sourceLocation)
    }
}

/// Expects `actual` to equal `expected` element-wise within a tolerance and, if `shape` is
/// given, to have that shape.
///
/// The elements are compared as by `expectClose(_:_:tolerance:relativeTolerance:_:sourceLocation:)`
/// on `actual.doubles`.
///
/// - Parameters:
///   - actual: the computed tensor.
///   - expected: the reference values in row-major order.
///   - shape: the expected shape, if it is to be checked.
///   - tolerance: absolute tolerance (the floor of the bound).
///   - relativeTolerance: tolerance relative to |expectedᵢ|.
///   - what: a label that starts the failure message.
public func expectClose(_ actual: Tensor, _ expected: [Double], shape: [Int]? = nil, tolerance: Double = 1e-12,
                        relativeTolerance: Double = 0, _ what: String = "",
                        sourceLocation: SourceLocation = #_sourceLocation) {
    if let shape {
        #expect(actual.shape == shape, what.isEmpty ? nil : Comment(rawValue: what), sourceLocation: sourceLocation)
    }
    expectClose(actual.doubles, expected, tolerance: tolerance, relativeTolerance: relativeTolerance, what,
                sourceLocation: sourceLocation)
}
