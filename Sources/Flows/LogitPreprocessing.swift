import Tensor
import NN
import RealModule

/// Logit preprocessing with uniform dequantisation (RealNVP, Dinh et al. 2017 §4.1).
///
/// For x ∈ [0, 1] (pixel / 255), with D features per sample:
///
///     v = (255·x + u) / 256,   u ~ U[0, 1)          (dequantisation)
///     y = α + (1 − 2α)·v                            (α = 0.05 keeps y away from 0 and 1)
///     h = log y − log(1 − y)
///     log|det ∂h/∂v| = Σ (−log y − log(1 − y)) + D·log(1 − 2α)
///
/// The returned log-determinant is that of v ↦ h, so a model's log-likelihood is the density
/// of v on [0, 1)^D (bits/dim = −ll / (D·ln 2) + 8), as in the reference RESULTS.md
/// "(a) realnvp-fmnist-small". It has no parameters.
///
/// Randomness: the layer owns a `SeededGenerator` split from the one passed at `init`, and
/// each `forward` with `.uniform` dequantisation draws fresh noise from it (in training and in
/// evaluation), so the noise sequence is reproducible given the seed and the call order.
/// `inverse` returns v (the dequantised value in [0, 1)), not the quantised x.
public final class LogitPreprocessing: FlowLayer {
    /// Where u comes from.
    public enum Dequantization: Sendable, Equatable {
        /// u ~ U[0, 1) from the layer's generator (the reference setting).
        case uniform
        /// u = 0: v = 255·x / 256, deterministic (tests, inspection).
        case none
    }

    /// α of y = α + (1 − 2α)·v.
    public let alpha: Double
    public let dequantization: Dequantization
    /// The generator of the dequantisation noise; advanced by every `.uniform` forward pass.
    public var rng: SeededGenerator
    public var isTraining = true

    /// - Parameters:
    ///   - alpha: α ∈ (0, 0.5); 0.05 in the reference model.
    ///   - dequantization: the noise model of u.
    ///   - rng: the layer keeps `rng.split()`, so the caller's generator advances once.
    public init(alpha: Double = 0.05, dequantization: Dequantization = .uniform, using rng: inout SeededGenerator) {
        precondition(alpha > 0 && alpha < 0.5, "LogitPreprocessing: alpha \(alpha) outside (0, 0.5)")
        self.alpha = alpha
        self.dequantization = dequantization
        self.rng = rng.split()
    }

    /// h = logit(α + (1 − 2α)·(255x + u)/256) and Σ(−log y − log(1 − y)) + D·log(1 − 2α) (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let v: Tensor
        switch dequantization {
        case .uniform:
            let u = Tensor.uniform(x.shape, lo: 0, hi: 1, dtype: x.dtype, using: &rng)
            v = (x * 255 + u) / 256
        case .none:
            v = x * (255.0 / 256.0)
        }
        let y = alpha + (1 - 2 * alpha) * v
        let logY = y.log(), log1mY = (1 - y).log()
        let h = logY - log1mY
        let d = Double(x.count / x.shape[0])
        let featureAxes = Array(1..<x.rank)
        let logDet = (-(logY + log1mY)).sum(axes: featureAxes) + d * Double.log(1 - 2 * alpha)
        return (h, logDet)
    }

    /// v = (sigmoid(h) − α) / (1 − 2α), the dequantised data in [0, 1).
    public func inverse(_ z: Tensor) -> Tensor {
        (z.sigmoid() - alpha) / (1 - 2 * alpha)
    }
}
