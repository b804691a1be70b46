import Tensor
import NN

/// A normalizing flow layer: an invertible map x ↦ z with a tractable log-determinant.
///
/// `forward` maps data towards the latent space and returns the per-sample log|det ∂z/∂x|
/// (shape (B,)); `inverse` maps back. Layers compose in sequence (`SequentialFlow`).
public protocol FlowLayer: Module {
    func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor)
    func inverse(_ z: Tensor) -> Tensor
    /// D of the flattened latent z (B, D) when this flow is a whole model with a fixed sample
    /// size (`RealNVP`, `Glow`, `ResidualFlow`, the `VectorFlows` models); nil for layers that
    /// take inputs of any size. Sampling (`sample(count:temperature:using:)`) needs it.
    var latentDimensions: Int? { get }
}

extension FlowLayer {
    /// nil: a layer does not fix its input size unless it says so.
    public var latentDimensions: Int? { nil }
}
