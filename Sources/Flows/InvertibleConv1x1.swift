import Tensor
import NN
import RealModule

/// Invertible 1×1 convolution (Glow, Kingma & Dhariwal 2018 §3.2) on (B, C, H, W):
///
///     z[b, :, i, j] = W · x[b, :, i, j],   log|det J| = H·W·log|det W|
///
/// Two parameterisations of W ∈ R^{C×C}, both initialised from one random orthogonal matrix:
/// - `.full`: W itself is the parameter; log|det W| by LU on every forward (O(C³); reused in
///   evaluation while W is unchanged).
/// - `.lu`: W = P·L·(U + diag(sign(s) ⊙ exp(log|s|))) with P a fixed permutation (buffer),
///   L unit lower-triangular, U strictly upper-triangular, sign(s) a fixed buffer and
///   log|s| trainable, so log|det W| = Σ log|s| (O(C)).
/// Deviation: none; the inverse builds W and inverts it by LU in both forms.
public final class InvertibleConv1x1: FlowLayer {
    /// How W is parameterised.
    public enum Parameterization: Sendable, Equatable {
        /// W unconstrained.
        case full
        /// W = P L (U + diag(sign(s)·exp(log|s|))) (Glow §3.2).
        case lu
    }

    public let parameterization: Parameterization
    public let channels: Int
    /// `.full`: W, shape (C, C).
    public let weight: Parameter?
    /// `.lu`: P (buffer), L's strictly lower entries, U's strictly upper entries, log|s|, sign(s) (buffer).
    public let permutation: Parameter?
    public let lower: Parameter?
    public let upper: Parameter?
    public let logAbsScale: Parameter?
    public let signScale: Parameter?
    public var isTraining = true

    /// `.full`: log|det W| reused in evaluation while W is unchanged.
    private let logDetCache = LogAbsDeterminantCache()
    private let lowerMask: Tensor
    private let upperMask: Tensor
    private let identity: Tensor

    /// - Parameters:
    ///   - channels: C.
    ///   - parameterization: `.full` or `.lu`.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the random orthogonal initialisation.
    public init(_ channels: Int, parameterization: Parameterization = .lu, dtype: DType = .float32,
                using rng: inout some RandomNumberGenerator) {
        let c = channels
        self.channels = c
        self.parameterization = parameterization
        let w0 = Initializer.randomOrthogonal(c, using: &rng)
        var lm = [Double](repeating: 0, count: c * c), um = lm, eye = lm
        for i in 0..<c {
            eye[i * c + i] = 1
            for j in 0..<c where j < i { lm[i * c + j] = 1 }
            for j in 0..<c where j > i { um[i * c + j] = 1 }
        }
        lowerMask = Tensor(lm, shape: [c, c], dtype: dtype)
        upperMask = Tensor(um, shape: [c, c], dtype: dtype)
        identity = Tensor(eye, shape: [c, c], dtype: dtype)
        switch parameterization {
        case .full:
            weight = Parameter(Tensor(w0, shape: [c, c], dtype: dtype))
            (permutation, lower, upper, logAbsScale, signScale) = (nil, nil, nil, nil, nil)
        case .lu:
            guard let f = LUDecomposition(w0, n: c) else { preconditionFailure("InvertibleConv1x1: singular init") }
            // P·W0 = L·U, so W0 = Pᵀ·L·U: the layer's fixed permutation is Pᵀ.
            var pT = [Double](repeating: 0, count: c * c)
            for i in 0..<c { pT[f.perm[i] * c + i] = 1 }
            let u = f.upper
            let diag = (0..<c).map { u[$0 * c + $0] }
            weight = nil
            permutation = Parameter(Tensor(pT, shape: [c, c], dtype: dtype), trainable: false)
            lower = Parameter(Tensor(zip(f.lower, lm).map { $0 * $1 }, shape: [c, c], dtype: dtype))
            upper = Parameter(Tensor(zip(u, um).map { $0 * $1 }, shape: [c, c], dtype: dtype))
            logAbsScale = Parameter(Tensor(diag.map { Double.log(Swift.abs($0)) }, shape: [c], dtype: dtype))
            signScale = Parameter(Tensor(diag.map { $0 < 0 ? -1 : 1 }, shape: [c], dtype: dtype), trainable: false)
        }
    }

    public var ownParameters: [(String, Parameter)] {
        switch parameterization {
        case .full: [("weight", weight!)]
        case .lu: [("permutation", permutation!), ("lower", lower!), ("upper", upper!),
                   ("log_abs_scale", logAbsScale!), ("sign_scale", signScale!)]
        }
    }

    /// W (differentiable in the parameters) and log|det W|.
    public func matrix() -> (w: Tensor, logAbsDet: Tensor) {
        switch parameterization {
        case .full:
            let w = weight!.value
            return (w, logDetCache.value(for: w))
        case .lu:
            let c = channels
            let l = lower!.value * lowerMask + identity
            let s = signScale!.value * logAbsScale!.value.exp()
            let u = upper!.value * upperMask + identity * s.reshaped([1, c])
            return (permutation!.value.matmul(l.matmul(u)), logAbsScale!.value.sum())
        }
    }

    private func check(_ x: Tensor) {
        precondition(x.rank == 4 && x.shape[1] == channels,
                     "InvertibleConv1x1(\(channels)) expects (B, \(channels), H, W), got \(x.shape)")
    }

    /// z = W ⋆ x (1×1 convolution) and H·W·log|det W| broadcast to shape (B,).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        check(x)
        let (w, logAbsDet) = matrix()
        let z = x.conv2d(w.reshaped([channels, channels, 1, 1]))
        let logDet = Tensor.zeros([x.shape[0]], dtype: x.dtype) + logAbsDet * Double(x.shape[2] * x.shape[3])
        return (z, logDet)
    }

    /// x = W⁻¹ ⋆ z.
    public func inverse(_ z: Tensor) -> Tensor {
        check(z)
        return z.conv2d(matrix().w.inverse().reshaped([channels, channels, 1, 1]))
    }
}
