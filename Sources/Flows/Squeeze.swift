import Tensor
import NN

/// 2×2 squeeze as a flow layer (RealNVP, Dinh et al. 2017 §3.6): (B, C, H, W) → (B, 4C, H/2, W/2).
///
///     z[b, 4c + 2·dy + dx, i, j] = x[b, c, 2i + dy, 2j + dx],   log|det J| = 0
///
/// A permutation of the entries, so the log-determinant is zero. H and W must be even.
/// It has no parameters.
public final class Squeeze: FlowLayer {
    public var isTraining = true

    public init() {}

    /// The squeezed tensor and a zero log|det| per sample (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        (x.squeezed2x2(), .zeros([x.shape[0]], dtype: x.dtype))
    }

    /// The unsqueeze (B, 4C, H, W) → (B, C, 2H, 2W).
    public func inverse(_ z: Tensor) -> Tensor { z.unsqueezed2x2() }
}
