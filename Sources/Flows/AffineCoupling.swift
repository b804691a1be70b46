import Tensor
import NN

/// Affine coupling on images (RealNVP, Dinh et al. 2017 §3.3–3.4):
///
///     y₂ = x₂ ⊙ exp(s) + t,  y₁ = x₁,  s = scale_c · tanh(s_raw),  (s_raw, t) = ST(x₁)
///     log|det J| = Σ s
///
/// x₁ are the conditioning entries and x₂ the transformed ones, chosen by `mask`:
/// - `.checkerboard(parity:)`: (s_raw, t) = split_channels(ST(x ⊙ m)) with ST: C → 2C channels
///   (first C → s_raw, last C → t); s and t are multiplied by (1 − m); `scale` ∈ R^C.
/// - `.channel(parity:)`: A = x[:, :C/2], B = x[:, C/2:]; parity 0 conditions on B and transforms
///   A, parity 1 the reverse; ST: C/2 → C channels; `scale` ∈ R^{C/2}; output [A', B] or [A, B'].
///
/// `scale` starts at 1 and bounds |s| (STYLE: bounded scales). Exactly the reference
/// RESULTS.md "(a) realnvp-fmnist-small" semantics. Deviation from the paper:
/// y = x ⊙ exp(s) + t with a per-channel tanh rescale instead of a weight-normed `Rescale`.
public final class AffineCoupling: FlowLayer {
    public let mask: Mask
    public let channels: Int
    /// The s/t network; a zero-initialised last layer makes the coupling start as the identity.
    public let network: any Layer
    /// scale_c, shape (C,) for checkerboard, (C/2,) for channel masks; init 1.
    public let scale: Parameter
    public var isTraining = true

    /// - Parameters:
    ///   - channels: C of the (B, C, H, W) input (even for channel masks).
    ///   - mask: which entries condition and which are transformed.
    ///   - network: maps C → 2C channels (checkerboard) or C/2 → C channels (channel), same H×W.
    ///   - dtype: the dtype of `scale`.
    public init(channels: Int, mask: Mask, network: any Layer, dtype: DType = .float32) {
        precondition(mask.parity == 0 || mask.parity == 1, "AffineCoupling: parity \(mask.parity) not 0 or 1")
        if case .channel = mask {
            precondition(channels % 2 == 0, "AffineCoupling: channel mask needs an even C, got \(channels)")
        }
        self.channels = channels
        self.mask = mask
        self.network = network
        let scaleCount: Int
        switch mask {
        case .checkerboard: scaleCount = channels
        case .channel: scaleCount = channels / 2
        }
        scale = Parameter(.ones([scaleCount], dtype: dtype))
    }

    public var ownParameters: [(String, Parameter)] { [("scale", scale)] }
    public var children: [(String, any Module)] { [("st", network)] }

    /// s (bounded, zero outside the transformed entries) and t for conditioning input `cond`.
    /// `outside` is 1 − m for checkerboard masks (nil for channel masks).
    private func scaleAndShift(_ cond: Tensor, outside: Tensor?) -> (s: Tensor, t: Tensor) {
        let h = network(cond)
        let k = scale.shape[0]
        precondition(h.rank == 4 && h.shape[1] == 2 * k && h.shape[2] == cond.shape[2] && h.shape[3] == cond.shape[3],
                     "AffineCoupling: s/t network mapped \(cond.shape) to \(h.shape), expected \(2 * k) channels")
        let parts = h.chunked(2, axis: 1)
        var s = scale.value.reshaped([1, k, 1, 1]) * parts[0].tanh()
        var t = parts[1]
        if let outside { s = s * outside; t = t * outside }
        return (s, t)
    }

    private func check(_ x: Tensor) {
        precondition(x.rank == 4 && x.shape[1] == channels,
                     "AffineCoupling(C = \(channels)) expects (B, \(channels), H, W), got \(x.shape)")
    }

    /// y and log|det J| = Σ s per sample (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        check(x)
        switch mask {
        case .checkerboard:
            let m = mask.checkerboard(height: x.shape[2], width: x.shape[3], dtype: x.dtype)!
            let (s, t) = scaleAndShift(x * m, outside: 1 - m)
            return (x * s.exp() + t, s.sum(axes: [1, 2, 3]))
        case .channel(let parity):
            let halves = x.chunked(2, axis: 1)
            let (cond, moving) = parity == 0 ? (halves[1], halves[0]) : (halves[0], halves[1])
            let (s, t) = scaleAndShift(cond, outside: nil)
            let moved = moving * s.exp() + t
            let y = parity == 0 ? Tensor.concat([moved, cond], axis: 1) : Tensor.concat([cond, moved], axis: 1)
            return (y, s.sum(axes: [1, 2, 3]))
        }
    }

    /// x₂ = (y₂ − t) ⊙ exp(−s), with s and t recomputed from the unchanged y₁ = x₁.
    public func inverse(_ z: Tensor) -> Tensor {
        check(z)
        switch mask {
        case .checkerboard:
            let m = mask.checkerboard(height: z.shape[2], width: z.shape[3], dtype: z.dtype)!
            let (s, t) = scaleAndShift(z * m, outside: 1 - m)
            return (z - t) * (-s).exp()
        case .channel(let parity):
            let halves = z.chunked(2, axis: 1)
            let (cond, moved) = parity == 0 ? (halves[1], halves[0]) : (halves[0], halves[1])
            let (s, t) = scaleAndShift(cond, outside: nil)
            let moving = (moved - t) * (-s).exp()
            return parity == 0 ? Tensor.concat([moving, cond], axis: 1) : Tensor.concat([cond, moving], axis: 1)
        }
    }
}
