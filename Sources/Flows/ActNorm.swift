import Tensor
import NN
import RealModule

/// Activation normalisation (Glow, Kingma & Dhariwal 2018 §3.1): a per-channel affine map
///
///     y = (x + b) ⊙ exp(logs),   log|det J| = H·W·Σ_c logs_c   ((B, C, H, W) input)
///                                log|det J| = Σ_c logs_c       ((B, C) input)
///
/// Data-dependent initialisation: the first `forward` in training mode sets b = −mean(x) and
/// logs = −log(std(x) + 1e-6) per channel (population std over batch and spatial axes), so
/// that batch's output has zero mean and unit std per channel. The `initialized` flag is a
/// buffer parameter (0 or 1), so a loaded checkpoint does not re-initialise.
/// Deviation from Glow: log-scale parameterisation `exp(logs)` with the +1e-6 inside the log,
/// as in the reference RESULTS.md "(b) glow-latent-512".
public final class ActNorm: FlowLayer {
    /// b, shape (C,).
    public let bias: Parameter
    /// logs, shape (C,).
    public let logScale: Parameter
    /// Buffer, shape (1,): 1 once the data-dependent initialisation has run.
    public let initialized: Parameter
    public var isTraining = true

    /// - Parameters:
    ///   - channels: C, the size of axis 1.
    ///   - dtype: the parameters' dtype.
    public init(_ channels: Int, dtype: DType = .float32) {
        bias = Parameter(.zeros([channels], dtype: dtype))
        logScale = Parameter(.zeros([channels], dtype: dtype))
        initialized = Parameter(.zeros([1], dtype: dtype), trainable: false)
    }

    public var ownParameters: [(String, Parameter)] {
        [("bias", bias), ("logs", logScale), ("initialized", initialized)]
    }

    /// Whether the data-dependent initialisation has run (or was loaded).
    public var isInitialized: Bool { initialized.value.doubles[0] != 0 }

    private func layout(_ x: Tensor) -> (axes: [Int], broadcast: [Int], pixels: Int) {
        let c = bias.shape[0]
        precondition((x.rank == 2 || x.rank == 4) && x.shape[1] == c,
                     "ActNorm(\(c)) expects (B, \(c)) or (B, \(c), H, W), got \(x.shape)")
        return x.rank == 4 ? ([0, 2, 3], [1, c, 1, 1], x.shape[2] * x.shape[3]) : ([0], [1, c], 1)
    }

    /// Sets b = −mean(x) and logs = −log(std(x) + 1e-6) per channel and marks the layer initialised.
    public func initialize(from x: Tensor) {
        let (axes, _, _) = layout(x)
        withoutGrad {
            let xd = x.detached
            let mean = xd.mean(axes: axes, keepDims: true)
            let std = (xd - mean).square().mean(axes: axes).sqrt()
            bias.assign(-mean.reshaped([bias.shape[0]]))
            logScale.assign(-(std + 1e-6).log())
            initialized.assign(.ones([1], dtype: initialized.value.dtype))
        }
    }

    /// y = (x + b) ⊙ exp(logs) and log|det J| = pixels·Σ logs per sample (shape (B,)).
    /// Runs the data-dependent initialisation first if training and not yet initialised.
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let (_, shape, pixels) = layout(x)
        if isTraining && !isInitialized { initialize(from: x) }
        let logs = logScale.value
        let z = (x + bias.value.reshaped(shape)) * logs.exp().reshaped(shape)
        // Rank-1 throughout: Σ logs as shape (1,), broadcast to (B,).
        let logDet = Tensor.zeros([x.shape[0]], dtype: x.dtype) + logs.sum(axes: [0], keepDims: true) * Double(pixels)
        return (z, logDet)
    }

    /// x = z ⊙ exp(−logs) − b.
    public func inverse(_ z: Tensor) -> Tensor {
        let (_, shape, _) = layout(z)
        return z * (-logScale.value).exp().reshaped(shape) - bias.value.reshaped(shape)
    }
}
