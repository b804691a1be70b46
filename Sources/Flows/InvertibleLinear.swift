import Foundation
import Tensor
import NN

/// Invertible linear map on vectors (Glow's 1×1 convolution for (B, D) inputs):
///
///     z = x·Wᵀ,   log|det J| = log|det W|   (the same for every sample)
///
/// W ∈ R^{D×D} is unconstrained, no bias; log|det W| comes from an LU factorisation on every
/// forward pass (`Tensor.logAbsDeterminant()`, differentiable: ∂/∂W = W⁻ᵀ). Initialised to a
/// random orthogonal matrix (`Initializer.orthogonal`), as the reference
/// RESULTS.md "(b) glow-latent-512" InvLinear. Cost O(D³) per forward, except in evaluation
/// (no autodiff recording) while W stays bitwise the same, when the last value is reused
/// (`LogAbsDeterminantCache`).
public final class InvertibleLinear: FlowLayer {
    /// W, shape (D, D).
    public let weight: Parameter
    public var isTraining = true

    /// - Parameters:
    ///   - features: D.
    ///   - dtype: the weight's dtype.
    ///   - rng: the source of the random orthogonal initialisation.
    public init(_ features: Int, dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        weight = Parameter(Initializer.orthogonal.make([features, features], dtype: dtype, using: &rng))
    }

    public var ownParameters: [(String, Parameter)] { [("weight", weight)] }

    /// log|det W| of the last weight seen, reused in evaluation while W is unchanged.
    private let logDetCache = LogAbsDeterminantCache()

    /// z = x·Wᵀ and log|det W| broadcast to shape (B,).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let d = weight.shape[0]
        precondition(x.rank == 2 && x.shape[1] == d, "InvertibleLinear(\(d)) expects (B, \(d)), got \(x.shape)")
        let w = weight.value
        return (x.matmul(w.transposed()), Tensor.zeros([x.shape[0]], dtype: x.dtype) + logDetCache.value(for: w))
    }

    /// x = z·W⁻ᵀ.
    public func inverse(_ z: Tensor) -> Tensor {
        z.matmul(weight.value.inverse().transposed())
    }
}

/// log|det W| of the last matrix it was asked about, reused while the matrix is bitwise the
/// same and no gradient is being recorded for it (evaluation: the value is a function of W
/// alone, so reusing it is exact). Comparing the 512×512 weights of glow-latent costs about
/// a memory read of W, against an O(D³) LU. With autodiff recording the factorisation always
/// runs, since its node carries the gradient W⁻ᵀ.
final class LogAbsDeterminantCache {
    private var weight: Tensor?
    private var cached: Tensor?

    func value(for w: Tensor) -> Tensor {
        if GradMode.isEnabled && w.requiresGrad { return w.logAbsDeterminant() }
        if let weight, let cached, weight.shape == w.shape, weight.dtype == w.dtype, Self.sameBits(weight, w) {
            return cached
        }
        let v = w.logAbsDeterminant()
        weight = w.copy()
        cached = v
        return v
    }

    private static func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
        let b = b.contiguous()
        switch a.dtype {
        case .float32:
            return a.withUnsafePointer(as: Float.self) { pa in
                b.withUnsafePointer(as: Float.self) { pb in memcmp(pa, pb, a.count * 4) == 0 }
            }
        case .float64:
            return a.withUnsafePointer(as: Double.self) { pa in
                b.withUnsafePointer(as: Double.self) { pb in memcmp(pa, pb, a.count * 8) == 0 }
            }
        }
    }
}
