import Testing
import Tensor

// MARK: - Gradient check

/// Checks the reverse-mode gradients of `f` against central finite differences, in Float64.
///
/// With a fixed random R of the output's shape, the scalar loss is L(x) = Σ f(x) ⊙ R. One
/// backward sweep seeded with R gives ∇L for every input; for random directions v the
/// directional derivative ⟨∇L, v⟩ is compared with (L(x + hv) − L(x − hv)) / 2h.
/// Each input is perturbed alone (`directions` times, so a wrong gradient names its input),
/// then all inputs together once.
///
/// Pass `|ΔL − FD| ≤ tolerance · max(|⟨∇L, v⟩|, |FD|) + noise`, where `noise` is the rounding
/// floor of the difference quotient, 16 ε Σ|f(x) ⊙ R| / h (about 1e-9 relative to the loss).
///
/// - Parameters:
///   - inputs: Float64 tensors; each becomes a fresh leaf (`requiringGrad()`).
///   - step: h.
///   - tolerance: relative tolerance.
///   - directions: random directions per input.
///   - seed: seed of R and of the directions.
///   - f: the function under test; it receives the leaves (build views inside it to test
///     non-contiguous operands) and must return a Float64 tensor.
public func expectGradientsMatchFiniteDifferences(
    _ inputs: [Tensor],
    step h: Double = 1e-6,
    tolerance: Double = 1e-6,
    directions: Int = 2,
    seed: UInt64 = 0x6AD,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Tensor]) -> Tensor
) {
    guard inputs.allSatisfy({ $0.dtype == .float64 }) else {
        Issue.record("gradient checks run in Float64; inputs are \(inputs.map(\.dtype))", sourceLocation: sourceLocation)
        return
    }
    var rng = SeededGenerator(seed: seed)
    let leaves = inputs.map { $0.requiringGrad() }
    let y = f(leaves)
    guard y.dtype == .float64 else {
        Issue.record("output dtype \(y.dtype), expected float64", sourceLocation: sourceLocation)
        return
    }
    guard y.requiresGrad else {
        Issue.record("output of shape \(y.shape) records no autodiff node", sourceLocation: sourceLocation)
        return
    }
    let r = Tensor.randn(y.shape, dtype: .float64, using: &rng)
    let weights = r.doubles
    y.backward(seed: r)

    var grads: [[Double]] = []
    for (i, leaf) in leaves.enumerated() {
        guard let g = leaf.grad else {
            Issue.record("input \(i) (shape \(inputs[i].shape)) received no gradient", sourceLocation: sourceLocation)
            return
        }
        guard g.shape == inputs[i].shape, g.dtype == .float64 else {
            Issue.record("input \(i): gradient \(g.shape) \(g.dtype), input \(inputs[i].shape) float64",
                         sourceLocation: sourceLocation)
            return
        }
        grads.append(g.doubles)
    }

    let base = inputs.map(\.doubles)
    func loss(_ xs: [[Double]]) -> (value: Double, magnitude: Double) {
        let args = zip(xs, inputs).map { Tensor($0, shape: $1.shape, dtype: .float64) }
        let out = withoutGrad { f(args) }.doubles
        var l = 0.0, m = 0.0
        for (o, w) in zip(out, weights) { l += o * w; m += Swift.abs(o * w) }
        return (l, m)
    }
    let noise = 16 * Double.ulpOfOne * loss(base).magnitude / h

    func check(_ v: [[Double]?], _ label: String) {
        var analytic = 0.0
        for (g, vi) in zip(grads, v) { if let vi { for (a, b) in zip(g, vi) { analytic += a * b } } }
        func shifted(_ s: Double) -> [[Double]] {
            zip(base, v).map { x, vi in vi.map { vi in zip(x, vi).map { $0 + s * $1 } } ?? x }
        }
        let numeric = (loss(shifted(h)).value - loss(shifted(-h)).value) / (2 * h)
        let error = Swift.abs(analytic - numeric)
        let scale = Swift.max(Swift.abs(analytic), Swift.abs(numeric))
        #expect(error <= tolerance * scale + noise,
                "\(label): ⟨∇L, v⟩ = \(analytic), finite difference = \(numeric), relative error \(error / scale)",
                sourceLocation: sourceLocation)
    }
    func direction(_ i: Int) -> [Double] {
        Tensor.randn(inputs[i].shape, dtype: .float64, using: &rng).doubles
    }
    for i in inputs.indices {
        for d in 0..<directions {
            var v = [[Double]?](repeating: nil, count: inputs.count)
            v[i] = direction(i)
            check(v, "input \(i), direction \(d)")
        }
    }
    if inputs.count > 1 {
        check(inputs.indices.map { direction($0) }, "all inputs")
    }
}

/// One-input form of `expectGradientsMatchFiniteDifferences(_:step:tolerance:directions:seed:sourceLocation:_:)`.
public func expectGradientsMatchFiniteDifferences(
    _ x: Tensor, step h: Double = 1e-6, tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: (Tensor) -> Tensor
) {
    expectGradientsMatchFiniteDifferences([x], step: h, tolerance: tolerance,
                                          sourceLocation: sourceLocation) { f($0[0]) }
}

/// Two-input form of `expectGradientsMatchFiniteDifferences(_:step:tolerance:directions:seed:sourceLocation:_:)`.
public func expectGradientsMatchFiniteDifferences(
    _ a: Tensor, _ b: Tensor, step h: Double = 1e-6, tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: (Tensor, Tensor) -> Tensor
) {
    expectGradientsMatchFiniteDifferences([a, b], step: h, tolerance: tolerance,
                                          sourceLocation: sourceLocation) { f($0[0], $0[1]) }
}
