import Tensor
import NN

/// Flow layers applied in order: z = f_K ∘ … ∘ f_1(x), log|det J| = Σ_k log|det J_k|.
///
/// `inverse` applies the layers' inverses in reverse order: x = f_1⁻¹ ∘ … ∘ f_K⁻¹(z).
public final class SequentialFlow: FlowLayer {
    /// The layers, first applied first by `forward`.
    public let layers: [any FlowLayer]
    public var isTraining = true

    /// - Parameter layers: the layers in the order `forward` applies them.
    public init(_ layers: [any FlowLayer]) { self.layers = layers }

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
