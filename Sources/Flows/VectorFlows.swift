import Tensor
import NN

/// Flows on (B, D) vectors, such as classifier features or autoencoder latents.
public enum VectorFlows {
    /// Glow-style flow on vectors (Kingma & Dhariwal 2018 §3, with the 1×1 convolution as a
    /// D×D linear map): `blocks` × [ActNorm(D) → InvertibleLinear(D) → VectorAffineCoupling(D,
    /// hidden, conditionOn: .first)], prior N(0, I_D).
    ///
    /// Exactly the reference RESULTS.md "(b) glow-latent-512": per block 2D (ActNorm) + D²
    /// (InvertibleLinear) + (D/2·hidden + hidden) + (hidden·D + D) (coupling) trainable
    /// parameters; D = 512, blocks = 10, hidden = 2048 gives 18,385,920. Every coupling
    /// conditions on the first half; the learned linear maps do the mixing. ActNorm initialises
    /// from the first training batch.
    ///
    /// - Parameters:
    ///   - features: D, even.
    ///   - blocks: number of [ActNorm, InvertibleLinear, coupling] blocks.
    ///   - hidden: hidden width of each coupling's s/t network.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the orthogonal and coupling initialisations.
    public static func glowLatent(features: Int = 512, blocks: Int = 10, hidden: Int = 2048,
                                  dtype: DType = .float32,
                                  using rng: inout some RandomNumberGenerator) -> SequentialFlow {
        precondition(blocks >= 1, "glowLatent: blocks \(blocks) must be ≥ 1")
        var layers: [any FlowLayer] = []
        for _ in 0..<blocks {
            layers.append(ActNorm(features, dtype: dtype))
            layers.append(InvertibleLinear(features, dtype: dtype, using: &rng))
            layers.append(VectorAffineCoupling(features: features, hidden: hidden, conditionOn: .first,
                                               dtype: dtype, using: &rng))
        }
        return SequentialFlow(layers, latentDimensions: features)
    }

    /// RealNVP on vectors (Dinh et al. 2017 §3.3–3.5 with fixed half masks): `couplings`
    /// VectorAffineCoupling layers whose conditioning half alternates .first, .second, .first, …,
    /// so every feature is transformed by every second layer. No ActNorm and no learned mixing;
    /// with zero-initialised output layers the flow starts as the identity, log|det J| = 0.
    /// Deviation from the paper: no batch normalisation between couplings, tanh-bounded scales.
    ///
    /// - Parameters:
    ///   - features: D, even.
    ///   - couplings: number of coupling layers (≥ 2 so that every feature is transformed).
    ///   - hidden: hidden width of each coupling's s/t network.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the couplings' initialisations.
    public static func realNVPVector(features: Int, couplings: Int, hidden: Int,
                                     dtype: DType = .float32,
                                     using rng: inout some RandomNumberGenerator) -> SequentialFlow {
        precondition(couplings >= 1, "realNVPVector: couplings \(couplings) must be ≥ 1")
        let layers: [any FlowLayer] = (0..<couplings).map { k in
            VectorAffineCoupling(features: features, hidden: hidden, conditionOn: k % 2 == 0 ? .first : .second,
                                 dtype: dtype, using: &rng)
        }
        return SequentialFlow(layers, latentDimensions: features)
    }
}
