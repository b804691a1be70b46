import Tensor
import NN

/// A normalizing flow layer: an invertible map x ↦ z with a tractable log-determinant.
///
/// `forward` maps data towards the latent space and returns the per-sample log|det ∂z/∂x|
/// (shape (B,)); `inverse` maps back. Layers compose in sequence (`SequentialFlow`).
public protocol FlowLayer: Module {
    func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor)
    func inverse(_ z: Tensor) -> Tensor
}
