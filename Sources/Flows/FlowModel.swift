import Foundation
import Tensor
import NN

/// What a flow models: images (C, H, W) in [0, 1], or vectors of D features.
public enum FlowDataKind: Codable, Sendable, Equatable {
    /// (C, H, W) images with values x = pixel / 255 ∈ [0, 1]; the flow dequantises internally
    /// and its log-likelihood is the density of v = (255x + u)/256 on [0, 1)^D.
    case image(channels: Int, height: Int, width: Int)
    /// Real vectors of `features` dimensions (classifier features, autoencoder latents).
    case vector(features: Int)

    /// The shape of one sample, without the batch axis.
    public var sampleShape: [Int] {
        switch self {
        case let .image(c, h, w): [c, h, w]
        case let .vector(d): [d]
        }
    }

    /// D, the number of scalars per sample.
    public var dimensions: Int { sampleShape.reduce(1, *) }

    /// The bits-per-dimension definition that applies to this kind of data.
    public var bitsPerDimension: BitsPerDimensionConvention {
        switch self {
        case .image: .images
        case .vector: .latent(epsilon: FlowSpec.latentEpsilon)
        }
    }
}

/// Which bits-per-dimension definition converts a log-likelihood (nats) into bpd.
public enum BitsPerDimensionConvention: Sendable, Equatable {
    /// 8-bit images: bpd = −log p(v) / (D ln 2) + 8 (`BitsPerDimension.images`).
    case images
    /// Latent vectors at precision ε (LDE paper): bpd = −log₂ p(z) / D − log₂ ε
    /// (`BitsPerDimension.latent`).
    case latent(epsilon: Double)

    /// Converts per-sample log-likelihoods (nats) of D-dimensional samples into bits per dimension.
    /// - Throws: `NonFiniteScoreError` naming the first non-finite sample.
    public func bitsPerDimension(logLikelihood: [Double], dimensions d: Int) throws -> [Double] {
        switch self {
        case .images: try BitsPerDimension.images(logLikelihood: logLikelihood, dimensions: d)
        case .latent(let eps): try BitsPerDimension.latent(logLikelihood: logLikelihood, dimensions: d, epsilon: eps)
        }
    }

    /// The bpd of one (mean) log-likelihood; non-finite values pass through (for progress lines).
    public func bitsPerDimension(meanLogLikelihood ll: Double, dimensions d: Int) -> Double {
        switch self {
        case .images: -ll / (Double(d) * M_LN2) + 8
        case .latent(let eps): -ll / (Double(d) * M_LN2) - Foundation.log2(eps)
        }
    }
}

/// A normalizing-flow model by description: rebuilds the same flow (same initial parameters)
/// from the same value, is saved in checkpoints and run configurations, and says what data the
/// flow takes and which bits-per-dimension definition applies.
///
/// JSON form (synthesised): `{"realNVP": {"config": {...}}}`,
/// `{"glowLatent": {"features": 512, "blocks": 10, "hidden": 2048, "seed": 0}}`,
/// `{"realNVPVector": {"features": 64, "couplings": 8, "hidden": 256, "seed": 0}}`.
///
/// To add a model, add a case and one arm to `parts` (the only switch over the cases).
public enum FlowSpec: Codable, Sendable, Equatable {
    /// Two-scale image RealNVP (`RealNVP`), input (C, H, W) in [0, 1] with internal uniform
    /// dequantisation and logit preprocessing.
    case realNVP(RealNVPConfig)
    /// Glow-style flow on vectors (`VectorFlows.glowLatent`): `blocks` × [ActNorm, invertible
    /// linear, affine coupling with `hidden` units]; `seed` seeds the initialisation.
    case glowLatent(features: Int, blocks: Int, hidden: Int, seed: UInt64)
    /// RealNVP on vectors (`VectorFlows.realNVPVector`): `couplings` alternating half couplings
    /// with `hidden` units; `seed` seeds the initialisation.
    case realNVPVector(features: Int, couplings: Int, hidden: Int, seed: UInt64)
    /// Multi-scale image Glow (`Glow`), input (C, H, W) in [0, 1] with internal dequantisation.
    case glow(GlowConfig)
    /// Vector residual flow (`ResidualFlow`, Chen et al. 2019).
    case residualFlow(ResidualFlowConfig)

    /// The JSON key of `.realNVP`'s configuration ("config" rather than "_0").
    enum RealNVPCodingKeys: String, CodingKey { case _0 = "config" }
    enum GlowCodingKeys: String, CodingKey { case _0 = "config" }
    enum ResidualFlowCodingKeys: String, CodingKey { case _0 = "config" }

    /// The quantisation precision ε of latent vectors (LDE paper §3: 1/1024, the finest step
    /// half precision resolves around 1). Vector flows train on z + u, u ~ U(−ε/2, ε/2)^D.
    public static let latentEpsilon = 1.0 / 1024

    /// A short human-readable name with the sizes, for logs.
    public var summary: String { parts.summary }

    /// The data this flow takes.
    public var dataKind: FlowDataKind { parts.kind }

    /// D, the number of scalars per sample.
    public var dimensions: Int { dataKind.dimensions }

    /// The bits-per-dimension definition: 256-level images, or LDE latents with ε = 1/1024.
    public var bitsPerDimension: BitsPerDimensionConvention { dataKind.bitsPerDimension }

    /// Amplitude ε of the uniform noise U(−ε/2, ε/2) the trainer adds to vector data, or nil for
    /// image flows (which dequantise inside `forward`).
    public var trainingNoiseWidth: Double? {
        if case .vector = dataKind { return FlowSpec.latentEpsilon }
        return nil
    }

    /// Builds the flow with freshly initialised parameters (deterministic given the spec).
    /// - Parameter dtype: the parameters' dtype.
    public func makeFlow(dtype: DType = .float32) -> any FlowLayer { parts.make(dtype) }

    /// The single switch over the cases: data kind, summary and factory of each model.
    private var parts: (kind: FlowDataKind, summary: String, make: (DType) -> any FlowLayer) {
        switch self {
        case let .realNVP(c):
            var name = "realnvp \(c.channels)×\(c.height)×\(c.width) mid \(c.mid) blocks \(c.blocks)\(c.batchNorm ? "" : " no-bn")"
            if c.stNet != .resnet { name += " st-net \(c.stNet.name)" }
            if c.maskScheme != .checkerboard { name += " \(c.maskScheme.rawValue) masks" }
            if c.maskScheme != .cycle && (c.scales != 2 || c.lastScaleCouplings != 4) {
                name += " scales \(c.scales) last-scale couplings \(c.lastScaleCouplings)"
            }
            return (.image(channels: c.channels, height: c.height, width: c.width), name,
                    { RealNVP(config: c, dequantization: .uniform, dtype: $0) })
        case let .glowLatent(features, blocks, hidden, seed):
            return (.vector(features: features), "glow-latent D \(features) blocks \(blocks) hidden \(hidden)", { dtype in
                var rng = SeededGenerator(seed: seed)
                return VectorFlows.glowLatent(features: features, blocks: blocks, hidden: hidden, dtype: dtype, using: &rng)
            })
        case let .realNVPVector(features, couplings, hidden, seed):
            return (.vector(features: features), "realnvp-vector D \(features) couplings \(couplings) hidden \(hidden)", { dtype in
                var rng = SeededGenerator(seed: seed)
                return VectorFlows.realNVPVector(features: features, couplings: couplings, hidden: hidden, dtype: dtype, using: &rng)
            })
        case let .glow(c):
            return (.image(channels: c.channels, height: c.height, width: c.width),
                    "glow \(c.channels)×\(c.height)×\(c.width) levels \(c.levels) depth \(c.depth) hidden \(c.hidden)"
                        + (c.lu ? "" : " full 1×1") + (c.stNet == .convNet ? "" : " st-net \(c.stNet.name)"),
                    { Glow(config: c, dequantization: .uniform, dtype: $0) })
        case let .residualFlow(c):
            return (.vector(features: c.features), "residual-flow D \(c.features) blocks \(c.blocks) hidden \(c.hidden)",
                    { ResidualFlow(config: c, dtype: $0) })
        }
    }
}

/// A layer that draws random numbers in `forward` from a generator it owns (dequantisation
/// noise). Trainers and scorers find these layers in a model and reseed them, so training is
/// reproducible across resumptions and scoring is reproducible given a seed.
public protocol StochasticLayer: AnyObject {
    /// The generator `forward` draws from.
    var rng: SeededGenerator { get set }
}

extension LogitPreprocessing: StochasticLayer {}
extension ResidualFlow: StochasticLayer {}

extension Module {
    /// Every `StochasticLayer` in this module's tree, in `children` order (self first).
    public func stochasticLayers() -> [any StochasticLayer] {
        var out: [any StochasticLayer] = []
        if let s = self as? any StochasticLayer { out.append(s) }
        for (_, child) in children { out += child.stochasticLayers() }
        return out
    }

    /// Reseeds every stochastic layer: layer k gets `SeededGenerator(seed: derivedSeed(seed, k))`.
    public func reseedStochasticLayers(seed: UInt64) {
        for (k, layer) in stochasticLayers().enumerated() {
            layer.rng = SeededGenerator(seed: derivedSeed(seed, UInt64(k)))
        }
    }
}
