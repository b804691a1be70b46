import Tensor
import NN

/// Affine coupling on images (RealNVP, Dinh et al. 2017 §3.3–3.4):
///
///     y₂ = x₂ ⊙ exp(s) + t,  y₁ = x₁,  s = scale_c · tanh(s_raw),  (s_raw, t) = ST(x₁)
///     log|det J| = Σ s
///
/// x₁ are the conditioning entries and x₂ the transformed ones, chosen by `mask`:
/// - spatial masks (`.checkerboard`, `.horizontal`, `.vertical`, `.quadrant`, see `Mask`):
///   with the conditioning map c and the transformed map r (both (1, 1, H, W), 0/1),
///   (s_raw, t) = split_channels(ST(x ⊙ c)) with ST: C → 2C channels (first C → s_raw, last C → t);
///   s and t are multiplied by r, so entries outside r keep y = x; `scale` ∈ R^C.
///   For the checkerboard and half masks r = 1 − c; for `.quadrant(from:to:)` the two quadrants
///   outside c and r pass through unchanged.
/// - `.channel(parity:)`: A = x[:, :C/2], B = x[:, C/2:]; parity 0 conditions on B and transforms
///   A, parity 1 the reverse; ST: C/2 → C channels; `scale` ∈ R^{C/2}; output [A', B] or [A, B'].
///
/// `scale` starts at 1 and bounds |s| (STYLE: bounded scales). Exactly the reference
/// RESULTS.md "(a) realnvp-fmnist-small" semantics for the checkerboard and channel masks.
/// Deviation from the paper: y = x ⊙ exp(s) + t with a per-channel tanh rescale instead of a
/// weight-normed `Rescale`; flows_ood shifts before scaling, y = (x + t) ⊙ exp(s).
public final class AffineCoupling: FlowLayer {
    public let mask: Mask
    public let channels: Int
    /// The s/t network; a zero-initialised last layer makes the coupling start as the identity.
    public let network: any Layer
    /// scale_c, shape (C,) for spatial masks, (C/2,) for channel masks; init 1.
    public let scale: Parameter
    public var isTraining = true
    /// The last spatial masks built, reused while H, W and the dtype stay the same.
    private var maskCache: (height: Int, width: Int, dtype: DType, conditioning: Tensor, transformed: Tensor)?

    /// - Parameters:
    ///   - channels: C of the (B, C, H, W) input (even for channel masks).
    ///   - mask: which entries condition and which are transformed.
    ///   - network: maps C → 2C channels (spatial masks) or C/2 → C channels (channel), same H×W.
    ///   - dtype: the dtype of `scale`.
    public init(channels: Int, mask: Mask, network: any Layer, dtype: DType = .float32) {
        if let problem = mask.problem { preconditionFailure("AffineCoupling(\(mask)): \(problem)") }
        if case .channel = mask {
            precondition(channels % 2 == 0, "AffineCoupling: channel mask needs an even C, got \(channels)")
        }
        self.channels = channels
        self.mask = mask
        self.network = network
        scale = Parameter(.ones([mask.isSpatial ? channels : channels / 2], dtype: dtype))
    }

    public var ownParameters: [(String, Parameter)] { [("scale", scale)] }
    public var children: [(String, any Module)] { [("st", network)] }

    /// The conditioning and transformed maps for an input of x's size.
    private func spatialMasks(like x: Tensor) -> (conditioning: Tensor, transformed: Tensor) {
        let (h, w) = (x.shape[2], x.shape[3])
        if let c = maskCache, c.height == h, c.width == w, c.dtype == x.dtype { return (c.conditioning, c.transformed) }
        let m = mask.spatialMasks(height: h, width: w, dtype: x.dtype)!
        maskCache = (h, w, x.dtype, m.conditioning, m.transformed)
        return m
    }

    /// s (bounded, zero outside the transformed entries) and t for conditioning input `cond`.
    /// `transformed` is the map r for spatial masks (nil for channel masks).
    private func scaleAndShift(_ cond: Tensor, transformed: Tensor?) -> (s: Tensor, t: Tensor) {
        let h = network(cond)
        let k = scale.shape[0]
        precondition(h.rank == 4 && h.shape[0] == cond.shape[0] && h.shape[1] == 2 * k && h.shape[2] == cond.shape[2]
                     && h.shape[3] == cond.shape[3],
                     "AffineCoupling: s/t network mapped \(cond.shape) to \(h.shape), expected \(2 * k) channels")
        let parts = h.chunked(2, axis: 1)
        var s = scale.value.reshaped([1, k, 1, 1]) * parts[0].tanh()
        var t = parts[1]
        if let transformed { s = s * transformed; t = t * transformed }
        return (s, t)
    }

    private func check(_ x: Tensor) {
        precondition(x.rank == 4 && x.shape[1] == channels,
                     "AffineCoupling(C = \(channels)) expects (B, \(channels), H, W), got \(x.shape)")
    }

    /// The coupling's output together with its s and t laid out like the input.
    public struct Output {
        /// y, shape (B, C, H, W).
        public var z: Tensor
        /// Σ s per sample, shape (B,).
        public var logDet: Tensor
        /// s (bounded log-scale), shape (B, C, H, W), 0 on every entry that is not transformed.
        public var logScale: Tensor
        /// t, shape (B, C, H, W), 0 on every entry that is not transformed.
        public var shift: Tensor
    }

    /// y and log|det J| = Σ s per sample (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let out = apply(x, exposeAffine: false)
        return (out.z, out.logDet)
    }

    /// `forward` plus s and t in the input's layout (for inspection: channel couplings pad the
    /// conditioning half with zeros, which costs an extra concatenation).
    public func forwardDetailed(_ x: Tensor) -> Output { apply(x, exposeAffine: true) }

    private func apply(_ x: Tensor, exposeAffine: Bool) -> Output {
        check(x)
        switch mask {
        case .channel(let parity):
            let halves = x.chunked(2, axis: 1)
            let (cond, moving) = parity == 0 ? (halves[1], halves[0]) : (halves[0], halves[1])
            let (s, t) = scaleAndShift(cond, transformed: nil)
            let moved = moving * s.exp() + t
            let y = parity == 0 ? Tensor.concat([moved, cond], axis: 1) : Tensor.concat([cond, moved], axis: 1)
            var out = Output(z: y, logDet: s.sum(axes: [1, 2, 3]), logScale: s, shift: t)
            if exposeAffine {
                let zero = Tensor.zeros(s.shape, dtype: s.dtype)
                out.logScale = Tensor.concat(parity == 0 ? [s, zero] : [zero, s], axis: 1)
                out.shift = Tensor.concat(parity == 0 ? [t, zero] : [zero, t], axis: 1)
            }
            return out
        default:
            let m = spatialMasks(like: x)
            let (s, t) = scaleAndShift(x * m.conditioning, transformed: m.transformed)
            return Output(z: x * s.exp() + t, logDet: s.sum(axes: [1, 2, 3]), logScale: s, shift: t)
        }
    }

    /// x₂ = (y₂ − t) ⊙ exp(−s), with s and t recomputed from the unchanged y₁ = x₁.
    public func inverse(_ z: Tensor) -> Tensor {
        check(z)
        switch mask {
        case .channel(let parity):
            let halves = z.chunked(2, axis: 1)
            let (cond, moved) = parity == 0 ? (halves[1], halves[0]) : (halves[0], halves[1])
            let (s, t) = scaleAndShift(cond, transformed: nil)
            let moving = (moved - t) * (-s).exp()
            return parity == 0 ? Tensor.concat([moving, cond], axis: 1) : Tensor.concat([cond, moving], axis: 1)
        default:
            let m = spatialMasks(like: z)
            let (s, t) = scaleAndShift(z * m.conditioning, transformed: m.transformed)
            return (z - t) * (-s).exp()
        }
    }
}
