import Tensor
import NN

/// Affine coupling on vectors (RealNVP, Dinh et al. 2017 §3.3; as the coupling of Glow,
/// Kingma & Dhariwal 2018 §3.3, applied to (B, D) latents):
///
///     a = x[:, :D/2], b = x[:, D/2:]                 (conditionOn: .first)
///     h = L₂(relu(L₁(a))),  L₁: D/2 → hidden,  L₂: hidden → D
///     s = tanh(h[:, :D/2]),  t = h[:, D/2:]
///     y = [a, b ⊙ exp(s) + t],   log|det J| = Σ s
///
/// With `conditionOn: .second` the halves swap roles: b conditions and a is transformed, and the
/// output keeps the input's order, [a ⊙ exp(s(b)) + t(b), b]. L₂ has zero-initialised weight and
/// bias, so the layer starts as the identity; L₁ uses PyTorch's `nn.Linear` default
/// initialisation. Exactly the reference RESULTS.md "(b) glow-latent-512" AffineCoupling for
/// `.first` (D = 512, hidden = 2048: 1,575,424 parameters). Deviation from the paper: the scale
/// is bounded by a plain `tanh` (no learned rescale), and the s/t network is a one-hidden-layer
/// MLP instead of a ResNet.
public final class VectorAffineCoupling: FlowLayer {
    /// Which half of the features conditions the coupling (and passes through unchanged).
    public enum Half: Sendable, Equatable {
        /// x[:, :D/2] conditions, x[:, D/2:] is transformed.
        case first
        /// x[:, D/2:] conditions, x[:, :D/2] is transformed.
        case second
    }

    /// D.
    public let features: Int
    public let conditionOn: Half
    /// L₁: D/2 → hidden.
    public let hiddenLayer: Linear
    /// L₂: hidden → D (first D/2 outputs → s before tanh, last D/2 → t); zero-initialised.
    public let outputLayer: Linear
    public var isTraining = true

    /// - Parameters:
    ///   - features: D ≥ 2; for odd D the first part has ⌊D/2⌋ features and the second the rest.
    ///   - hidden: width of the s/t network's hidden layer.
    ///   - conditionOn: the half that conditions and passes through unchanged.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of L₁'s random initialisation.
    public init(features: Int, hidden: Int, conditionOn: Half = .first, dtype: DType = .float32,
                using rng: inout some RandomNumberGenerator) {
        precondition(features >= 2, "VectorAffineCoupling: features \(features) must be ≥ 2")
        precondition(hidden >= 1, "VectorAffineCoupling: hidden \(hidden) must be ≥ 1")
        self.features = features
        self.conditionOn = conditionOn
        let first = features / 2, second = features - first
        let (cond, moving) = conditionOn == .first ? (first, second) : (second, first)
        hiddenLayer = Linear(cond, hidden, dtype: dtype, using: &rng)
        outputLayer = Linear(hidden, 2 * moving, weightInit: .zeros, biasInit: .zeros, dtype: dtype, using: &rng)
    }

    public var children: [(String, any Module)] { [("l1", hiddenLayer), ("l2", outputLayer)] }

    /// s = tanh(h[:, :m]) and t = h[:, m:] with h = L₂(relu(L₁(cond))), m the moving part's size.
    private func scaleAndShift(_ cond: Tensor) -> (s: Tensor, t: Tensor) {
        let h = outputLayer(hiddenLayer(cond).relu())
        let m = h.shape[1] / 2
        return (h.slice(axis: 1, 0..<m).tanh(), h.slice(axis: 1, m..<(2 * m)))
    }

    /// (conditioning half, transformed half) of x.
    private func split(_ x: Tensor) -> (cond: Tensor, moving: Tensor) {
        precondition(x.rank == 2 && x.shape[1] == features,
                     "VectorAffineCoupling(D = \(features)) expects (B, \(features)), got \(x.shape)")
        let half = features / 2
        let first = x.slice(axis: 1, 0..<half), second = x.slice(axis: 1, half..<features)
        return conditionOn == .first ? (first, second) : (second, first)
    }

    private func join(cond: Tensor, moving: Tensor) -> Tensor {
        conditionOn == .first ? Tensor.concat([cond, moving], axis: 1) : Tensor.concat([moving, cond], axis: 1)
    }

    /// y and log|det J| = Σ s per sample (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let (cond, _) = split(x)
        let h = outputLayer(hiddenLayer(cond).relu())
        // One fused op for s = tanh(h[:, :m]), t = h[:, m:], y₂ = x₂ ⊙ exp(s) + t and Σ s.
        let half = features / 2
        let moving = conditionOn == .first ? half..<features : 0..<half
        let (y, logDet) = x.affineCoupled(columns: moving, by: h)
        return (y, logDet)
    }

    /// x₂ = (y₂ − t) ⊙ exp(−s), with s and t recomputed from the unchanged conditioning half.
    public func inverse(_ z: Tensor) -> Tensor {
        let (cond, moved) = split(z)
        let (s, t) = scaleAndShift(cond)
        return join(cond: cond, moving: (moved - t) * (-s).exp())
    }
}
