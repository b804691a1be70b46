import Tensor
import NN

/// A fully connected layer y = x·W_snᵀ + b whose weight is spectrally normalised to a
/// Lipschitz bound c (Miyato et al. 2018; as used by i-ResNet, Behrmann et al. 2019 §3, and
/// Residual Flows, Chen et al. 2019):
///
///     σ̂ = uᵀ W v                           (power-iteration estimate of σ_max(W))
///     W_sn = W / max(1, σ̂ / c)             (= c·W/σ̂ when σ̂ > c, W otherwise)
///
/// u ∈ R^out and v ∈ R^in are persistent buffers (saved in checkpoints, never trained). One
/// power-iteration step is v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖. In training mode `normalizedWeight(updating:)`
/// is called with `updating: true` by the forward pass and runs `powerIterations` steps first;
/// in evaluation mode (and in every inverse) the stored u, v are used as they are, so forward and
/// inverse see the same W_sn. `convergePowerIteration` runs steps until σ̂ settles (at init and
/// before evaluation). Gradients treat u and v as constants and flow through σ̂ = uᵀWv (as in
/// Miyato et al.). Since σ̂ ≤ σ_max(W), ‖W_sn‖₂ ≤ c holds up to the power iteration's error.
///
/// W uses PyTorch's `nn.Linear` default initialisation, b likewise; u starts as a normalised
/// Gaussian vector from `rng`, followed by a converged power iteration.
public final class SpectralNormLinear: Layer {
    /// W, shape (out, in).
    public let weight: Parameter
    /// b, shape (out,).
    public let bias: Parameter
    /// u, shape (out,): the buffer of the left singular vector estimate.
    public let leftVector: Parameter
    /// v, shape (in,): the buffer of the right singular vector estimate.
    public let rightVector: Parameter
    /// c, the bound on ‖W_sn‖₂.
    public let coefficient: Double
    /// Power-iteration steps per training-mode forward pass.
    public var powerIterations: Int
    public var isTraining = true

    /// - Parameters:
    ///   - inFeatures: in.
    ///   - outFeatures: out.
    ///   - coefficient: c > 0 (below 1 for a contractive residual branch).
    ///   - powerIterations: steps per training-mode forward pass (≥ 0).
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of W, b and the initial u.
    public init(_ inFeatures: Int, _ outFeatures: Int, coefficient: Double, powerIterations: Int = 1,
                dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        precondition(inFeatures > 0 && outFeatures > 0, "SpectralNormLinear: \(inFeatures) → \(outFeatures)")
        precondition(coefficient > 0, "SpectralNormLinear: coefficient \(coefficient) must be > 0")
        precondition(powerIterations >= 0, "SpectralNormLinear: powerIterations \(powerIterations) must be ≥ 0")
        self.coefficient = coefficient
        self.powerIterations = powerIterations
        weight = Parameter(Initializer.torchDefault.make([outFeatures, inFeatures], dtype: dtype, using: &rng))
        let bound = 1 / Double(inFeatures).squareRoot()
        bias = Parameter(.uniform([outFeatures], lo: -bound, hi: bound, dtype: dtype, using: &rng))
        var u = (0..<outFeatures).map { _ in rng.nextNormal() }
        Self.normalize(&u)
        leftVector = Parameter(Tensor(u, shape: [outFeatures], dtype: dtype), trainable: false)
        rightVector = Parameter(.zeros([inFeatures], dtype: dtype), trainable: false)
        convergePowerIteration()
    }

    public var ownParameters: [(String, Parameter)] {
        [("weight", weight), ("bias", bias), ("u", leftVector), ("v", rightVector)]
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    private static func normalize(_ x: inout [Double]) {
        var norm = 0.0
        for e in x { norm += e * e }
        norm = norm.squareRoot()
        guard norm > 0 else { return }
        for i in x.indices { x[i] /= norm }
    }

    /// Runs `steps` power-iteration steps on the current W, updating the u, v buffers (no
    /// autodiff). Returns the new estimate σ̂ = ‖Wv‖.
    @discardableResult
    public func powerIterate(steps: Int) -> Double {
        let (m, n) = (outFeatures, inFeatures)
        let w = weight.value.doubles
        var u = leftVector.value.doubles, v = rightVector.value.doubles
        var sigma = 0.0
        for _ in 0..<steps {
            for j in 0..<n { v[j] = 0 }
            for i in 0..<m {
                let ui = u[i], row = i * n
                for j in 0..<n { v[j] += w[row + j] * ui }
            }
            Self.normalize(&v)
            var norm = 0.0
            for i in 0..<m {
                var s = 0.0
                let row = i * n
                for j in 0..<n { s += w[row + j] * v[j] }
                u[i] = s
                norm += s * s
            }
            sigma = norm.squareRoot()
            Self.normalize(&u)
        }
        let dt = weight.value.dtype
        leftVector.assign(Tensor(u, shape: [m], dtype: dt))
        rightVector.assign(Tensor(v, shape: [n], dtype: dt))
        return sigma
    }

    /// Power iteration until the relative change of σ̂ between two steps is below `tolerance`
    /// or `maxSteps` steps have run. Returns the number of steps run.
    @discardableResult
    public func convergePowerIteration(maxSteps: Int = 500, tolerance: Double = 1e-10) -> Int {
        var previous = powerIterate(steps: 1)
        for step in 1..<max(maxSteps, 2) {
            let sigma = powerIterate(steps: 1)
            if Swift.abs(sigma - previous) <= tolerance * Swift.max(sigma, 1e-300) { return step + 1 }
            previous = sigma
        }
        return maxSteps
    }

    /// σ̂ = uᵀWv with the stored u, v (differentiable in W), shape (1, 1).
    public func spectralNormEstimate() -> Tensor {
        Self.spectralNormEstimate(weight.value, u: leftVector.value, v: rightVector.value)
    }

    /// σ̂ = uᵀWv for a weight W (out, in) and fixed u (out,), v (in,); shape (1, 1). Differentiable in W.
    public static func spectralNormEstimate(_ w: Tensor, u: Tensor, v: Tensor) -> Tensor {
        u.reshaped([1, u.count]).matmul(w).matmul(v.reshaped([v.count, 1]))
    }

    /// W / max(1, σ̂/c) for a weight W and fixed u, v. Differentiable in W.
    public static func normalized(_ w: Tensor, u: Tensor, v: Tensor, coefficient c: Double) -> Tensor {
        let ratio = spectralNormEstimate(w, u: u, v: v) / c
        return w / ratio.maximum(.ones([1, 1], dtype: w.dtype))
    }

    /// W_sn = W / max(1, σ̂/c); with `updating` true, `powerIterations` steps update u and v first.
    public func normalizedWeight(updating: Bool) -> Tensor {
        if updating && powerIterations > 0 { powerIterate(steps: powerIterations) }
        return Self.normalized(weight.value, u: leftVector.value, v: rightVector.value, coefficient: coefficient)
    }

    /// y = x·W_snᵀ + b with the stored u, v (no power-iteration update).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.matmul(normalizedWeight(updating: false).transposed()) + bias.value
    }
}
