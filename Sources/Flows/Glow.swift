import Tensor
import NN

/// The s/t network inside every coupling of a `Glow`.
public enum GlowCouplingNetwork: Sendable, Hashable, Codable {
    /// `GlowSTNet`: 3×3 conv → relu → 1×1 conv → relu → zero-initialised 3×3 conv, with
    /// `GlowConfig.hidden` channels (Glow §3.3, "NN()"). The default.
    case convNet
    /// `STHighway` with `GlowConfig.hidden` channels and `blocks` gated layers, as in the
    /// FashionMNIST Glow of flows_ood (Kirichenko et al. 2020 train Glow with `st_type='highway'`).
    case highway(blocks: Int)

    /// A short readable name: "convnet", "highway-3".
    public var name: String {
        switch self {
        case .convNet: "convnet"
        case .highway(let blocks): "highway-\(blocks)"
        }
    }

    /// Trainable parameters of one network mapping cin → cout channels with `hidden` channels.
    public func parameterCount(cin: Int, cout: Int, hidden: Int) -> Int {
        switch self {
        case .convNet: GlowSTNet.parameterCount(cin: cin, cout: cout, hidden: hidden)
        case .highway(let blocks): STHighway.parameterCount(cin: cin, cout: cout, mid: hidden, blocks: blocks)
        }
    }

    /// A fresh network of this kind (its output layer starts at zero).
    /// - Parameters: cin, cout: channels in and out; hidden: hidden channels; dtype: the
    ///   parameters' dtype; rng: the source of the initialisation.
    public func makeNetwork(cin: Int, cout: Int, hidden: Int, dtype: DType = .float32,
                            using rng: inout some RandomNumberGenerator) -> any CouplingNetwork {
        switch self {
        case .convNet: GlowSTNet(cin: cin, cout: cout, hidden: hidden, dtype: dtype, using: &rng)
        case .highway(let blocks): STHighway(cin: cin, cout: cout, mid: hidden, blocks: blocks, dtype: dtype, using: &rng)
        }
    }
}

/// A field of a flow configuration with a value the model cannot be built from.
public struct FlowConfigError: Error, CustomStringConvertible, Equatable {
    /// The model ("Glow", "residual flow").
    public let model: String
    /// The name of the offending field ("levels", "stNet", …).
    public let field: String
    public let message: String
    public init(model: String, field: String, message: String) {
        self.model = model
        self.field = field
        self.message = message
    }
    public var description: String { "\(model) configuration, field '\(field)': \(message)" }
}

/// The size of a `Glow` image flow.
///
/// The defaults give a small Glow for 1×28×28 images: 2 levels of 8 steps, hidden 64, LU 1×1
/// convolutions, Glow's own s/t network. Decoding JSON without `stNet` (configurations written
/// before it existed) gives `.convNet`.
public struct GlowConfig: Codable, Sendable, Equatable {
    /// C of the (B, C, H, W) input images; 1 for FashionMNIST.
    public var channels: Int
    /// H of the input images; must be divisible by 2^levels.
    public var height: Int
    /// W of the input images; must be divisible by 2^levels.
    public var width: Int
    /// L, the number of levels (squeeze, K steps, split); ≥ 1.
    public var levels: Int
    /// K, the number of steps [ActNorm, 1×1 conv, coupling] per level; ≥ 1.
    public var depth: Int
    /// Hidden channels of every coupling's s/t network.
    public var hidden: Int
    /// LU-parameterised 1×1 convolutions (Glow §3.2) if true, unconstrained W otherwise.
    public var lu: Bool
    /// The s/t network of every coupling.
    public var stNet: GlowCouplingNetwork
    /// Seed of the parameter initialisation and of the dequantisation noise.
    public var seed: UInt64

    /// - Parameters: see the properties.
    public init(channels: Int = 1, height: Int = 28, width: Int = 28, levels: Int = 2, depth: Int = 8,
                hidden: Int = 64, lu: Bool = true, stNet: GlowCouplingNetwork = .convNet, seed: UInt64 = 0) {
        self.channels = channels
        self.height = height
        self.width = width
        self.levels = levels
        self.depth = depth
        self.hidden = hidden
        self.lu = lu
        self.stNet = stNet
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case channels, height, width, levels, depth, hidden, lu, stNet, seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        channels = try c.decode(Int.self, forKey: .channels)
        height = try c.decode(Int.self, forKey: .height)
        width = try c.decode(Int.self, forKey: .width)
        levels = try c.decode(Int.self, forKey: .levels)
        depth = try c.decode(Int.self, forKey: .depth)
        hidden = try c.decode(Int.self, forKey: .hidden)
        lu = try c.decode(Bool.self, forKey: .lu)
        stNet = try c.decodeIfPresent(GlowCouplingNetwork.self, forKey: .stNet) ?? .convNet
        seed = try c.decode(UInt64.self, forKey: .seed)
    }

    /// D = C·H·W, the dimension of the data and of the latent.
    public var dimensions: Int { channels * height * width }

    /// c_l = 4C·2^l, the channels inside level l (after its squeeze).
    public func levelChannels(_ level: Int) -> Int { 4 * channels << level }

    /// Throws for the first field the model cannot be built from.
    public func validate() throws(FlowConfigError) {
        func fail(_ field: String, _ message: String) -> FlowConfigError {
            FlowConfigError(model: "Glow", field: field, message: message)
        }
        for (field, value) in [("channels", channels), ("levels", levels), ("depth", depth), ("hidden", hidden)] where value < 1 {
            throw fail(field, "must be ≥ 1, got \(value)")
        }
        if levels > 16 { throw fail("levels", "must be ≤ 16, got \(levels)") }
        if case .highway(let blocks) = stNet, blocks < 0 { throw fail("stNet", "highway blocks must be ≥ 0, got \(blocks)") }
        let divisor = 1 << levels
        for (field, size) in [("height", height), ("width", width)] where size < divisor || size % divisor != 0 {
            throw fail(field, "\(size) must be a positive multiple of 2^levels = \(divisor) for \(levels) level(s)")
        }
    }

    /// Trainable parameters of `Glow(config: self)`:
    ///
    ///     Σ_{l<L} K · [ 2c                                  (ActNorm: b, logs)
    ///                 + (lu ? 2c² + c : c²)                  (1×1 conv: L, U stored as full c×c
    ///                                                         matrices, log|s|; or W)
    ///                 + c/2                                  (coupling scale)
    ///                 + N(c/2 → c) ]                         (the s/t network)
    ///
    /// with c = c_l = 4C·2^l, h = `hidden` and N the network's count
    /// (`GlowCouplingNetwork.parameterCount`): 9·(c/2)·h + h + h² + h + 9·h·c + c for
    /// `.convNet`, 9·h·(c/2) + h + blocks·2·(9h² + h) + h·c + c for `.highway`. Of the LU
    /// form's 2c² + c stored values c² are free: the masked-out entries of L and U always
    /// receive zero gradient.
    public var parameterCount: Int {
        let h = hidden
        return (0..<levels).reduce(0) { total, l in
            let c = levelChannels(l)
            let step = 2 * c + (lu ? 2 * c * c + c : c * c) + c / 2
                + stNet.parameterCount(cin: c / 2, cout: c, hidden: h)
            return total + depth * step
        }
    }
}

/// One step of flow (Glow §3, Figure 2a): ActNorm → invertible 1×1 convolution → affine
/// coupling on channel halves, all on (B, c, H, W).
///
///     log|det J| = H·W·Σ logs + H·W·log|det W| + Σ s
///
/// The coupling is `AffineCoupling(mask: .channel(parity: 0))` with a `GlowSTNet` (or another
/// `GlowCouplingNetwork`): it transforms the first c/2 channels conditioned on the last c/2
/// (as in flows_ood's Glow).
public final class GlowStep: FlowLayer {
    public let actNorm: ActNorm
    public let invConv: InvertibleConv1x1
    public let coupling: AffineCoupling
    public var isTraining = true

    /// - Parameters:
    ///   - channels: c, even.
    ///   - hidden: hidden channels of the coupling's s/t network.
    ///   - parameterization: of the 1×1 convolution.
    ///   - network: the kind of s/t network (Glow's `GlowSTNet` by default).
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the 1×1 convolution's and the s/t network's initialisation.
    public init(channels: Int, hidden: Int, parameterization: InvertibleConv1x1.Parameterization,
                network kind: GlowCouplingNetwork = .convNet, dtype: DType = .float32,
                using rng: inout some RandomNumberGenerator) {
        precondition(channels >= 2 && channels % 2 == 0, "GlowStep: channels \(channels) must be even and ≥ 2")
        actNorm = ActNorm(channels, dtype: dtype)
        invConv = InvertibleConv1x1(channels, parameterization: parameterization, dtype: dtype, using: &rng)
        let net = kind.makeNetwork(cin: channels / 2, cout: channels, hidden: hidden, dtype: dtype, using: &rng)
        coupling = AffineCoupling(channels: channels, mask: .channel(parity: 0), network: net, dtype: dtype)
    }

    public var children: [(String, any Module)] {
        [("actnorm", actNorm), ("invconv", invConv), ("coupling", coupling)]
    }

    /// y and the per-sample sum of the three log-determinants (shape (B,)).
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        let (a, l1) = actNorm.forward(x)
        let (b, l2) = invConv.forward(a)
        let (c, l3) = coupling.forward(b)
        return (c, l1 + l2 + l3)
    }

    /// The three inverses in reverse order.
    public func inverse(_ z: Tensor) -> Tensor {
        actNorm.inverse(invConv.inverse(coupling.inverse(z)))
    }
}

/// Multi-scale Glow (Kingma & Dhariwal 2018 §3 and Figure 2b) on (B, C, H, W) images:
///
///     x (B, C, H, W) → logit preprocessing (α = 0.05, uniform dequantisation)   → h
///     for level l = 0 … L−1, with c_l = 4C·2^l channels of H/2^{l+1} × W/2^{l+1}:
///         squeeze 2×2                         → (B, c_l, H/2^{l+1}, W/2^{l+1})
///         K × GlowStep(c_l)                   [ActNorm, 1×1 conv, channel coupling]
///         if l < L−1: factor out z_l = h[:, c_l/2 : c_l]; keep h[:, 0 : c_l/2]
///     z = concat(flatten(z_0), …, flatten(z_{L−2}), flatten(h))  (B, D),  prior N(0, I_D)
///
///     log|det ∂z/∂v| = log|det|(preprocessing) + Σ_steps log|det|(step)
///
/// z_l has D/2^{l+1} entries (channel-major within each sample, as `flattenedBatch`), the final h
/// D/2^{L−1}. `forward` returns z and the log-determinant of v ↦ z, with v the dequantised data in
/// [0, 1) (see `LogitPreprocessing`); `inverse` returns v. Parameter count: `GlowConfig.parameterCount`.
/// Parameter names: "preprocess", "level{l}.step{k}.actnorm.{bias,logs,initialized}",
/// "level{l}.step{k}.invconv.{lower,upper,log_abs_scale,…}", "level{l}.step{k}.coupling.{scale,st.conv1…}"
/// (`.highway`: "…coupling.st.{in_conv,layers.{i}.conv_h,layers.{i}.conv_gate,out_conv}").
///
/// Deviations from Glow: the split uses the fixed prior N(0, I) for the factored-out half
/// (no learned conditional prior, no learned top prior); the coupling is additive-affine
/// y = x·exp(s) + t with s = scale·tanh(ŝ) (`AffineCoupling`) instead of sigmoid(ŝ + 2);
/// flows_ood's FashionMNIST model uses 16 steps, hidden 200 and a highway s/t network — the
/// sizes and the s/t network come from `GlowConfig` (`stNet: .highway(blocks:)` for flows_ood's,
/// Glow's own `GlowSTNet` by default).
public final class Glow: FlowLayer {
    public let config: GlowConfig
    /// x ↦ h = logit(α + (1 − 2α)·v).
    public let preprocessing: LogitPreprocessing
    public let squeeze: Squeeze
    /// steps[l][k]: step k of level l.
    public let steps: [[GlowStep]]
    public var isTraining = true

    /// - Parameters:
    ///   - config: the sizes and the seed; must pass `config.validate()`.
    ///   - dequantization: the preprocessing's noise (`.uniform` for training and scoring,
    ///     `.none` for deterministic tests).
    ///   - dtype: the parameters' dtype.
    public init(config: GlowConfig = GlowConfig(), dequantization: LogitPreprocessing.Dequantization = .uniform,
                dtype: DType = .float32) {
        do { try config.validate() } catch { preconditionFailure("Glow: \(error)") }
        self.config = config
        var rng = SeededGenerator(seed: config.seed)
        preprocessing = LogitPreprocessing(alpha: 0.05, dequantization: dequantization, using: &rng)
        squeeze = Squeeze()
        let parameterization: InvertibleConv1x1.Parameterization = config.lu ? .lu : .full
        steps = (0..<config.levels).map { l in
            (0..<config.depth).map { _ in
                GlowStep(channels: config.levelChannels(l), hidden: config.hidden, parameterization: parameterization,
                         network: config.stNet, dtype: dtype, using: &rng)
            }
        }
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("preprocess", preprocessing)]
        for (l, level) in steps.enumerated() {
            out += level.enumerated().map { ("level\(l).step\($0.offset)", $0.element) }
        }
        return out
    }

    /// D = C·H·W: z has shape (B, D).
    public var latentDimensions: Int? { config.dimensions }

    /// Shapes (without the batch) of the latent's parts in the order they appear in z:
    /// z_0, …, z_{L−2}, then the final h.
    public var latentShapes: [[Int]] {
        let c = config
        var shapes: [[Int]] = []
        for l in 0..<c.levels {
            let cl = c.levelChannels(l), hl = c.height >> (l + 1), wl = c.width >> (l + 1)
            shapes.append(l < c.levels - 1 ? [cl / 2, hl, wl] : [cl, hl, wl])
        }
        return shapes
    }

    private var imageShape: [Int] { [config.channels, config.height, config.width] }

    private func checkImages(_ x: Tensor, _ what: String) {
        precondition(x.rank == 4 && Array(x.shape.dropFirst()) == imageShape,
                     "Glow.\(what): expects (B, \(imageShape.map(String.init).joined(separator: ", "))), got \(x.shape)")
    }

    /// Data x ∈ [0, 1] (B, C, H, W) to z (B, D) and log|det ∂z/∂v| (B,), preprocessing included.
    public func forward(_ x: Tensor) -> (z: Tensor, logDet: Tensor) {
        checkImages(x, "forward")
        let (h, preLogDet) = preprocessing.forward(x)
        let (z, bodyLogDet) = forwardBody(h)
        return (z, preLogDet + bodyLogDet)
    }

    /// z (B, D) to v ∈ [0, 1) (B, C, H, W): `inverseBody` then the inverse logit.
    public func inverse(_ z: Tensor) -> Tensor {
        preprocessing.inverse(inverseBody(z))
    }

    /// Everything after the preprocessing: logit-space h (B, C, H, W) to z (B, D) and the steps'
    /// summed log-determinants per sample (B,).
    public func forwardBody(_ h: Tensor) -> (z: Tensor, logDet: Tensor) {
        checkImages(h, "forwardBody")
        var h = h
        var logDet = Tensor.zeros([h.shape[0]], dtype: h.dtype)
        var parts: [Tensor] = []
        for (l, level) in steps.enumerated() {
            h = squeeze.forward(h).z
            for step in level {
                let (y, ld) = step.forward(h)
                h = y
                logDet = logDet + ld
            }
            if l < steps.count - 1 {
                let c = h.shape[1]
                parts.append(h.slice(axis: 1, (c / 2)..<c).flattenedBatch())
                h = h.slice(axis: 1, 0..<(c / 2))
            }
        }
        parts.append(h.flattenedBatch())
        return (Tensor.concat(parts, axis: 1), logDet)
    }

    /// Inverse of `forwardBody`: z (B, D) to logit-space h (B, C, H, W).
    public func inverseBody(_ z: Tensor) -> Tensor {
        precondition(z.rank == 2 && z.shape[1] == config.dimensions,
                     "Glow.inverseBody: expects (B, \(config.dimensions)), got \(z.shape)")
        let b = z.shape[0]
        let shapes = latentShapes
        var parts: [Tensor] = []
        var start = 0
        for shape in shapes {
            let n = shape.reduce(1, *)
            parts.append(z.slice(axis: 1, start..<(start + n)).reshaped([b] + shape))
            start += n
        }
        var h = parts[shapes.count - 1]
        for l in stride(from: steps.count - 1, through: 0, by: -1) {
            if l < steps.count - 1 { h = Tensor.concat([h, parts[l]], axis: 1) }
            for step in steps[l].reversed() { h = step.inverse(h) }
            h = squeeze.inverse(h)
        }
        return h
    }
}
