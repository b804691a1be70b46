import Tensor
import NN

/// Which masks the couplings of a `RealNVP` use (Kirichenko et al. 2020 §6, Appendix F).
public enum MaskScheme: String, Sendable, Hashable, Codable, CaseIterable {
    /// The reference layout: checkerboard couplings before each squeeze and on the last scale,
    /// channel couplings after each squeeze.
    case checkerboard
    /// Single scale, 8 quadrant couplings 0→1, 1→2, 2→3, 3→0, twice (flows_ood's
    /// `RealNVPCycleMask`); information needs four couplings to come back to a quadrant, which
    /// removes the "copy the neighbouring pixel" shortcut. `RealNVPConfig.scales` is ignored.
    case cycle
    /// The reference layout with top/bottom half masks (parity 0, 1, 0, …) in place of the
    /// checkerboards. flows_ood's `RealNVPMaskHorizontal` (a single scale of 8 alternating
    /// half-mask couplings, no squeeze) is `scales: 1, lastScaleCouplings: 8`.
    case horizontal
    /// The reference layout with left/right half masks in place of the checkerboards.
    case vertical

    /// The spatial mask of the given parity that replaces the checkerboard (nil for `.cycle`).
    func spatialMask(parity: Int) -> Mask? {
        switch self {
        case .checkerboard: .checkerboard(parity: parity)
        case .horizontal: .horizontal(parity: parity)
        case .vertical: .vertical(parity: parity)
        case .cycle: nil
        }
    }
}

/// A `RealNVPConfig` field with a value the model cannot be built from.
public struct RealNVPConfigError: Error, CustomStringConvertible, Equatable {
    /// The name of the offending field ("height", "scales", …).
    public let field: String
    public let message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "RealNVP configuration, field '\(field)': \(message)" }
}

/// The size and architecture of a `RealNVP`, as in the reference RESULTS.md
/// "(a) realnvp-fmnist-small" by default.
///
/// The defaults give the reference model for 1×28×28 images: 1,513,587 trainable parameters
/// with BatchNorm, 1,507,187 without. Decoding JSON without `scales`, `maskScheme`, `stNet` or
/// `lastScaleCouplings` (configurations written before they existed) gives their defaults.
///
/// flows_ood's single-scale variants: `RealNVPMaskHorizontal` is
/// `scales: 1, maskScheme: .horizontal, lastScaleCouplings: 8`, `RealNVPMaskHorizontal3Layers`
/// the same with 3, `RealNVP8Layers` `scales: 1, lastScaleCouplings: 8` (checkerboard),
/// `RealNVPSmall` `scales: 1, lastScaleCouplings: 2`, `RealNVPCycleMask` `maskScheme: .cycle`.
public struct RealNVPConfig: Codable, Sendable, Hashable {
    /// C of the (B, C, H, W) input images; 1 for FashionMNIST.
    public var channels: Int
    /// H of the input images; divisible by 2^(scales − 1).
    public var height: Int
    /// W of the input images; divisible by 2^(scales − 1).
    public var width: Int
    /// Hidden channels of every s/t network (`STResNet.mid`); 64 in the reference (not doubled
    /// after squeezes, unlike flows_ood).
    public var mid: Int
    /// Residual (or highway) blocks per s/t network; 2 in the reference.
    public var blocks: Int
    /// BatchNorm before each relu of the s/t networks, or none (`--norm none`).
    public var batchNorm: Bool
    /// The s/t network kind; `.resnet` (with `batchNorm`) in the reference.
    public var stNet: STNet
    /// The coupling masks; `.checkerboard` in the reference.
    public var maskScheme: MaskScheme
    /// Number of scales (≥ 1); 2 in the reference. Ignored by `.cycle` (always one scale).
    public var scales: Int
    /// Spatial couplings on the last scale, parities 0, 1, 0, …; 4 in the reference (the
    /// earlier scales always have 3 spatial and 3 channel couplings). Ignored by `.cycle`
    /// (always 8 quadrant couplings).
    public var lastScaleCouplings: Int
    /// Seed of the parameter initialisation and of the dequantisation noise.
    public var seed: UInt64

    /// - Parameters: see the properties; the defaults are the reference model.
    public init(channels: Int = 1, height: Int = 28, width: Int = 28, mid: Int = 64, blocks: Int = 2,
                batchNorm: Bool = true, stNet: STNet = .resnet, maskScheme: MaskScheme = .checkerboard,
                scales: Int = 2, lastScaleCouplings: Int = 4, seed: UInt64 = 0) {
        self.channels = channels
        self.height = height
        self.width = width
        self.mid = mid
        self.blocks = blocks
        self.batchNorm = batchNorm
        self.stNet = stNet
        self.maskScheme = maskScheme
        self.scales = scales
        self.lastScaleCouplings = lastScaleCouplings
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case channels, height, width, mid, blocks, batchNorm, stNet, maskScheme, scales, lastScaleCouplings, seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RealNVPConfig()
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? defaults.channels
        height = try c.decodeIfPresent(Int.self, forKey: .height) ?? defaults.height
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? defaults.width
        mid = try c.decodeIfPresent(Int.self, forKey: .mid) ?? defaults.mid
        blocks = try c.decodeIfPresent(Int.self, forKey: .blocks) ?? defaults.blocks
        batchNorm = try c.decodeIfPresent(Bool.self, forKey: .batchNorm) ?? defaults.batchNorm
        stNet = try c.decodeIfPresent(STNet.self, forKey: .stNet) ?? defaults.stNet
        maskScheme = try c.decodeIfPresent(MaskScheme.self, forKey: .maskScheme) ?? defaults.maskScheme
        scales = try c.decodeIfPresent(Int.self, forKey: .scales) ?? defaults.scales
        lastScaleCouplings = try c.decodeIfPresent(Int.self, forKey: .lastScaleCouplings) ?? defaults.lastScaleCouplings
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? defaults.seed
    }

    /// D = C·H·W, the dimension of the data and of the latent.
    public var dimensions: Int { channels * height * width }

    /// The number of scales the model really has (1 for `.cycle`).
    public var effectiveScales: Int { maskScheme == .cycle ? 1 : scales }

    /// Throws for the first field the model cannot be built from.
    public func validate() throws(RealNVPConfigError) {
        func fail(_ field: String, _ message: String) -> RealNVPConfigError {
            RealNVPConfigError(field: field, message: message)
        }
        if channels < 1 { throw fail("channels", "must be ≥ 1, got \(channels)") }
        if mid < 1 { throw fail("mid", "must be ≥ 1, got \(mid)") }
        if blocks < 0 { throw fail("blocks", "must be ≥ 0, got \(blocks)") }
        if case .bottleneck(let k) = stNet, k < 1 { throw fail("stNet", "bottleneck width must be ≥ 1, got \(k)") }
        if maskScheme != .cycle && (scales < 1 || scales > 16) { throw fail("scales", "must be in 1...16, got \(scales)") }
        if maskScheme != .cycle && (lastScaleCouplings < 1 || lastScaleCouplings > 64) {
            throw fail("lastScaleCouplings", "must be in 1...64, got \(lastScaleCouplings)")
        }
        let step = 1 << (effectiveScales - 1)
        let minimum = maskScheme == .checkerboard ? step : 2 * step
        for (field, size) in [("height", height), ("width", width)] {
            if size < minimum || size % step != 0 {
                throw fail(field, "\(size) must be a positive multiple of \(step) and at least \(minimum) for "
                              + "\(effectiveScales) scale(s) with \(maskScheme.rawValue) masks")
            }
        }
    }
}

/// Multi-scale RealNVP (Dinh et al. 2017); with the default configuration exactly the layout of
/// the reference RESULTS.md "(a) realnvp-fmnist-small" (the layer order of flows_ood's
/// `RealNVP(num_scales=2)`):
///
///     x (B, C, H, W) → logit preprocessing (α = 0.05)                       → h
///     scale s < S (state C_s × H_s × W_s, C_1 = C):
///               spatial couplings on C_s channels, parity 0, 1, 0
///               squeeze → (4C_s, H_s/2, W_s/2)
///               channel couplings on 4C_s channels, parity 0, 1, 0
///               factor out z_s = h[:, 2C_s:4C_s]; keep h[:, 0:2C_s]
///     scale S:  `lastScaleCouplings` spatial couplings on C_S channels, parity 0, 1, 0, 1, …
///     z = concat(flatten(z_1), …, flatten(z_{S−1}), flatten(h))  (B, D),  prior N(0, I_D)
///
///     log|det ∂z/∂v| = log|det|(preprocessing) + Σ_couplings Σ s
///
/// The spatial masks are checkerboards (`.checkerboard`), top/bottom halves (`.horizontal`) or
/// left/right halves (`.vertical`). `.cycle` replaces all of it by one scale of 8 quadrant
/// couplings 0→1, 1→2, 2→3, 3→0, 0→1, 1→2, 2→3, 3→0 on the image, z = flatten(h).
///
/// Each coupling is named `scale<s>.<mask>.<k>` (`scale1.checkerboard.0`, `scale1.channel.2`,
/// `scale2.checkerboard.3`, `scale1.horizontal.1`, `scale1.quadrant.7`), which prefixes its
/// parameters; with the default configuration the names are those of the reference layout.
///
/// Every coupling's s/t network is made by `config.stNet` and its output layer starts at zero, so
/// a fresh model is the logit preprocessing followed by a pure rearrangement of the entries.
/// `forward` returns z and the log-determinant of v ↦ z, with v the dequantised data in [0, 1)
/// (see `LogitPreprocessing`); `inverse` returns v. Deviations from flows_ood are those listed
/// in RESULTS.md (plain convs, zero-init, y = x·exp(s) + t, mid channels not doubled).
public final class RealNVP: FlowLayer {
    /// One step of the body, in `forward` order.
    public enum Step {
        /// An affine coupling with its name (the prefix of its parameters).
        case coupling(name: String, layer: AffineCoupling)
        /// 2×2 squeeze (B, C, H, W) → (B, 4C, H/2, W/2) (see `Squeeze`).
        case squeeze
        /// Keep channels 0..<keep, move the rest to the list of factored-out latents.
        case factorOut(keep: Int)
    }

    public let config: RealNVPConfig
    /// x ↦ h = logit(α + (1 − 2α)·v).
    public let preprocessing: LogitPreprocessing
    /// Everything after the preprocessing, in `forward` order.
    public let steps: [Step]
    /// Shapes (without the batch) of the factored-out latents z_1, …, z_{S−1} and of the final
    /// state, in the order they are concatenated into z.
    public let latentShapes: [[Int]]
    public var isTraining = true

    /// - Parameters:
    ///   - config: the architecture and the seed; the defaults are the reference model. Must pass
    ///     `config.validate()`.
    ///   - dequantization: the preprocessing's noise (`.uniform` for training and scoring,
    ///     `.none` for deterministic tests).
    ///   - dtype: the parameters' dtype.
    public init(config: RealNVPConfig = RealNVPConfig(), dequantization: LogitPreprocessing.Dequantization = .uniform,
                dtype: DType = .float32) {
        do { try config.validate() } catch { preconditionFailure("RealNVP: \(error)") }
        self.config = config
        var rng = SeededGenerator(seed: config.seed)
        preprocessing = LogitPreprocessing(alpha: 0.05, dequantization: dequantization, using: &rng)
        var steps: [Step] = []
        var shapes: [[Int]] = []
        var (c, h, w) = (config.channels, config.height, config.width)
        func coupling(_ name: String, _ mask: Mask) {
            let (cin, cout) = mask.isSpatial ? (c, 2 * c) : (c / 2, c)
            let net = config.stNet.makeNetwork(cin: cin, cout: cout, height: h, width: w, mid: config.mid,
                                               blocks: config.blocks, batchNorm: config.batchNorm, dtype: dtype,
                                               using: &rng)
            steps.append(.coupling(name: name, layer: AffineCoupling(channels: c, mask: mask, network: net, dtype: dtype)))
        }
        if config.maskScheme == .cycle {
            for k in 0..<8 { coupling("scale1.quadrant.\(k)", .quadrant(from: k % 4, to: (k + 1) % 4)) }
        } else {
            let kind = config.maskScheme.rawValue
            for s in 1...config.scales {
                let last = s == config.scales
                let parities: [Int] = (0..<(last ? config.lastScaleCouplings : 3)).map { $0 % 2 }
                for (k, parity) in parities.enumerated() {
                    coupling("scale\(s).\(kind).\(k)", config.maskScheme.spatialMask(parity: parity)!)
                }
                if last { break }
                steps.append(.squeeze)
                (c, h, w) = (4 * c, h / 2, w / 2)
                for (k, parity) in [0, 1, 0].enumerated() { coupling("scale\(s).channel.\(k)", .channel(parity: parity)) }
                steps.append(.factorOut(keep: c / 2))
                shapes.append([c / 2, h, w])
                c /= 2
            }
        }
        shapes.append([c, h, w])
        self.steps = steps
        latentShapes = shapes
    }

    /// The couplings with their names, in the order `forward` applies them.
    public var namedCouplings: [(name: String, layer: AffineCoupling)] {
        steps.compactMap { if case .coupling(let name, let layer) = $0 { (name, layer) } else { nil } }
    }

    /// The couplings in the order `forward` applies them (ten for the reference model).
    public var couplings: [AffineCoupling] { namedCouplings.map(\.layer) }

    public var children: [(String, any Module)] {
        [("preprocess", preprocessing)] + namedCouplings.map { ($0.name, $0.layer) }
    }

    /// D = C·H·W: z has shape (B, D).
    public var latentDimensions: Int? { config.dimensions }

    private var imageShape: [Int] { [config.channels, config.height, config.width] }

    private func checkImages(_ x: Tensor, _ what: String) {
        precondition(x.rank == 4 && Array(x.shape.dropFirst()) == imageShape,
                     "RealNVP.\(what): expects (B, \(imageShape.map(String.init).joined(separator: ", "))), got \(x.shape)")
    }

    private func checkLatents(_ z: Tensor, _ what: String) {
        precondition(z.rank == 2 && z.shape[1] == config.dimensions,
                     "RealNVP.\(what): expects (B, \(config.dimensions)), got \(z.shape)")
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

    /// Everything after the preprocessing: logit-space h (B, C, H, W) to z (B, D) and the
    /// couplings' Σ s per sample (B,).
    public func forwardBody(_ h: Tensor) -> (z: Tensor, logDet: Tensor) {
        checkImages(h, "forwardBody")
        var h = h
        var logDet = Tensor.zeros([h.shape[0]], dtype: h.dtype)
        var latents: [Tensor] = []
        for step in steps {
            switch step {
            case .coupling(_, let layer):
                let (y, l) = layer.forward(h)
                h = y
                logDet = logDet + l
            case .squeeze:
                h = h.squeezed2x2()
            case .factorOut(let keep):
                latents.append(h.slice(axis: 1, keep..<h.shape[1]))
                h = h.slice(axis: 1, 0..<keep)
            }
        }
        latents.append(h)
        return (latents.count == 1 ? h.flattenedBatch() : Tensor.concat(latents.map { $0.flattenedBatch() }, axis: 1),
                logDet)
    }

    /// Inverse of `forwardBody`: z (B, D) to logit-space h (B, C, H, W).
    public func inverseBody(_ z: Tensor) -> Tensor {
        checkLatents(z, "inverseBody")
        return unwind(z, throughCouplings: true)
    }

    /// z (B, D) in image layout (B, C, H, W): the inverse of the pure rearrangement (squeezes,
    /// factor-outs, flattening) of `forwardBody`, with every coupling skipped. For a model whose
    /// couplings are the identity (a fresh one) this is exactly `inverseBody`.
    public func latentImage(_ z: Tensor) -> Tensor {
        checkLatents(z, "latentImage")
        return unwind(z, throughCouplings: false)
    }

    /// Walks the steps backwards from z, inverting the couplings or skipping them.
    private func unwind(_ z: Tensor, throughCouplings: Bool) -> Tensor {
        let b = z.shape[0]
        var pieces: [Tensor] = []
        var offset = 0
        for shape in latentShapes {
            let n = shape.reduce(1, *)
            pieces.append(z.slice(axis: 1, offset..<(offset + n)).reshaped([b] + shape))
            offset += n
        }
        var h = pieces.removeLast()
        for step in steps.reversed() {
            switch step {
            case .coupling(_, let layer):
                if throughCouplings { h = layer.inverse(h) }
            case .squeeze:
                h = h.unsqueezed2x2()
            case .factorOut:
                h = Tensor.concat([h, pieces.removeLast()], axis: 1)
            }
        }
        return h
    }
}
