import Tensor
import NN

/// Invertible linear map on vectors (Glow's 1×1 convolution for (B, D) inputs):
///
///     z = x·Wᵀ,   log|det J| = log|det W|   (the same for every sample)
///
/// W ∈ R^{D×D} is unconstrained, no bias; log|det W| comes from an LU factorisation on every
/// forward pass (`Tensor.logAbsDeterminant()`, differentiable: ∂/∂W = W⁻ᵀ). Initialised to a
/// random orthogonal matrix (`Initializer.orthogonal`), as the reference
/// RESULTS.md "(b) glow-latent-512" InvLinear. Cost O(D³) per forward.
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

    /// z = x·Wᵀ and log|det W| broadcast to shape (B,).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let d = weight.shape[0]
        precondition(x.rank == 2 && x.shape[1] == d, "InvertibleLinear(\(d)) expects (B, \(d)), got \(x.shape)")
        let w = weight.value
        return (x.matmul(w.transposed()), Tensor.zeros([x.shape[0]], dtype: x.dtype) + w.logAbsDeterminant())
    }

    /// x = z·W⁻ᵀ.
    public func inverse(_ z: Tensor) -> Tensor {
        z.matmul(weight.value.inverse().transposed())
    }
}
