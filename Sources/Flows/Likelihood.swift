import Foundation
import Tensor

/// The standard normal prior N(0, I) over flattened latents.
public enum StandardNormal {
    /// log N(z; 0, I) per sample: −½‖z‖² − ½·D·log 2π, z of shape (B, ...), result (B,).
    public static func logProb(_ z: Tensor) -> Tensor {
        let flat = z.flattenedBatch()
        let d = Double(flat.shape[1])
        return flat.square().sum(axes: [1]) * -0.5 - 0.5 * d * Foundation.log(2 * Double.pi)
    }

    /// Samples of shape `shape` from N(0, I).
    public static func sample(_ shape: [Int], dtype: DType = .float32, using rng: inout some RandomNumberGenerator) -> Tensor {
        .randn(shape, dtype: dtype, using: &rng)
    }
}

/// A non-finite score: which sample, and its value. Scores are never silently dropped.
public struct NonFiniteScoreError: Error, CustomStringConvertible {
    public let what: String
    public let index: Int
    public let value: Double
    public var description: String { "\(what) of sample \(index) is \(value) (non-finite)" }
}

/// Bits per dimension, the two definitions the papers use.
public enum BitsPerDimension {
    /// Images (Dinh et al. 2017; Kirichenko et al. 2020): `logLikelihood` is log p(v) in nats of
    /// the dequantised, [0, 1)-scaled data v = (x + u)/256 over D dimensions. The density of the
    /// discrete 8-bit image is p(v)·256^−D, so bpd = −log p(v) / (D ln 2) + 8.
    public static func images(logLikelihood: [Double], dimensions d: Int) throws -> [Double] {
        try checked(logLikelihood, "log-likelihood").map { -$0 / (Double(d) * M_LN2) + 8 }
    }

    /// Latent vectors (LDE paper): bpd = −log₂ p(z) / d − log₂ ε with dequantisation noise
    /// U(−ε/2, ε/2), ε = 1/1024 by default; `logLikelihood` is log p(z) in nats.
    public static func latent(logLikelihood: [Double], dimensions d: Int, epsilon: Double = 1.0 / 1024) throws -> [Double] {
        try checked(logLikelihood, "log-likelihood").map { -$0 / (Double(d) * M_LN2) - Foundation.log2(epsilon) }
    }

    /// Throws for the first non-finite value, naming its index.
    public static func checked(_ values: [Double], _ what: String) throws -> [Double] {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw NonFiniteScoreError(what: what, index: i, value: values[i])
        }
        return values
    }
}

extension FlowLayer {
    /// log p(x) in nats per sample under a standard normal prior: log N(z) + log|det ∂z/∂x|.
    public func logLikelihood(of x: Tensor) -> Tensor {
        let (z, logDet) = forward(x)
        return StandardNormal.logProb(z) + logDet
    }
}
