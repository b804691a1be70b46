import Tensor
import NN

/// Flow layers applied in order: z = f_K ∘ … ∘ f_1(x), log|det J| = Σ_k log|det J_k|.
///
/// `inverse` applies the layers' inverses in reverse order: x = f_1⁻¹ ∘ … ∘ f_K⁻¹(z).
public final class SequentialFlow: FlowLayer {
    /// The layers, first applied first by `forward`.
    public let layers: [any FlowLayer]
    /// D of the (B, D) latent when the composition is a whole vector model (set by
    /// `VectorFlows`), so it can be sampled; nil for an arbitrary composition.
    public let latentDimensions: Int?
    public var isTraining = true

    /// - Parameters:
    ///   - layers: the layers in the order `forward` applies them.
    ///   - latentDimensions: D of the latent if the composition is a whole model on (B, D)
    ///     vectors, or nil.
    public init(_ layers: [any FlowLayer], latentDimensions: Int? = nil) {
        precondition(latentDimensions.map { $0 >= 1 } ?? true, "SequentialFlow: latentDimensions \(latentDimensions!) must be ≥ 1")
        self.layers = layers
        self.latentDimensions = latentDimensions
    }

    public var children: [(String, any Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    /// z and the per-sample sum of the layers' log-determinants (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        var h = x
        var total: Tensor?
        for layer in layers {
            let (z, logDet) = layer.forward(h)
            h = z
            total = total.map { $0 + logDet } ?? logDet
        }
        return (h, total ?? .zeros([x.shape[0]], dtype: x.dtype))
    }

    /// x from z: the inverses in reverse order.
    public func inverse(_ z: Tensor) -> Tensor {
        layers.reversed().reduce(z) { $1.inverse($0) }
    }
}
