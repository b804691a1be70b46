import Tensor
import NN

/// The size of a `RealNVP`, as in the reference RESULTS.md "(a) realnvp-fmnist-small".
///
/// The defaults give the reference model for 1×28×28 images: 1,513,587 trainable parameters
/// with BatchNorm, 1,507,187 without.
public struct RealNVPConfig: Codable, Sendable, Equatable {
    /// C of the (B, C, H, W) input images; 1 for FashionMNIST.
    public var channels: Int
    /// H of the input images; must be even (one 2×2 squeeze).
    public var height: Int
    /// W of the input images; must be even.
    public var width: Int
    /// Hidden channels of every s/t network (`STResNet.mid`); 64 in the reference.
    public var mid: Int
    /// Residual blocks per s/t network; 2 in the reference.
    public var blocks: Int
    /// BatchNorm before each relu of the s/t networks, or none (`--norm none`).
    public var batchNorm: Bool
    /// Seed of the parameter initialisation and of the dequantisation noise.
    public var seed: UInt64

    /// - Parameters: see the properties; the defaults are the reference model.
    public init(channels: Int = 1, height: Int = 28, width: Int = 28, mid: Int = 64, blocks: Int = 2,
                batchNorm: Bool = true, seed: UInt64 = 0) {
        self.channels = channels
        self.height = height
        self.width = width
        self.mid = mid
        self.blocks = blocks
        self.batchNorm = batchNorm
        self.seed = seed
    }

    /// D = C·H·W, the dimension of the data and of the latent.
    public var dimensions: Int { channels * height * width }
}

/// Two-scale RealNVP (Dinh et al. 2017) in the exact layout of the reference RESULTS.md
/// "(a) realnvp-fmnist-small" (the layer order of flows_ood's `RealNVP(num_scales=2)`):
///
///     x (B, C, H, W) → logit preprocessing (α = 0.05)                       → h
///     scale 1:  checkerboard couplings on C channels, parity 0, 1, 0
///               squeeze → (B, 4C, H/2, W/2)
///               channel couplings on 4C channels, parity 0, 1, 0
///               factor out z₁ = h[:, 2C:4C]; keep h[:, 0:2C]
///     scale 2:  checkerboard couplings on 2C channels, parity 0, 1, 0, 1
///     z = concat(flatten(z₁), flatten(h))  (B, D),  prior N(0, I_D)
///
///     log|det ∂z/∂v| = log|det|(preprocessing) + Σ_couplings Σ s
///
/// Every coupling's s/t network is an `STResNet(mid:, blocks:, batchNorm:)` whose output conv
/// starts at zero, so a fresh model is the logit preprocessing followed by the identity.
/// `forward` returns z and the log-determinant of v ↦ z, with v the dequantised data in [0, 1)
/// (see `LogitPreprocessing`); `inverse` returns v. Deviations from flows_ood are those listed
/// in RESULTS.md (plain convs, zero-init, y = x·exp(s) + t, mid channels not doubled).
public final class RealNVP: FlowLayer {
    public let config: RealNVPConfig
    /// x ↦ h = logit(α + (1 − 2α)·v).
    public let preprocessing: LogitPreprocessing
    /// Scale 1, before the squeeze: checkerboard couplings on C channels, parity 0, 1, 0.
    public let scale1Checkerboard: [AffineCoupling]
    public let squeeze: Squeeze
    /// Scale 1, after the squeeze: channel couplings on 4C channels, parity 0, 1, 0.
    public let scale1Channel: [AffineCoupling]
    /// Scale 2, after the factor-out: checkerboard couplings on 2C channels, parity 0, 1, 0, 1.
    public let scale2Checkerboard: [AffineCoupling]
    public var isTraining = true

    /// - Parameters:
    ///   - config: the sizes and the seed; the defaults are the reference model.
    ///   - dequantization: the preprocessing's noise (`.uniform` for training and scoring,
    ///     `.none` for deterministic tests).
    ///   - dtype: the parameters' dtype.
    public init(config: RealNVPConfig = RealNVPConfig(), dequantization: LogitPreprocessing.Dequantization = .uniform,
                dtype: DType = .float32) {
        precondition(config.channels > 0 && config.height % 2 == 0 && config.width % 2 == 0 && config.height > 0
                     && config.width > 0,
                     "RealNVP: needs C > 0 and even H, W; got C = \(config.channels), \(config.height)×\(config.width)")
        self.config = config
        var rng = SeededGenerator(seed: config.seed)
        preprocessing = LogitPreprocessing(alpha: 0.05, dequantization: dequantization, using: &rng)
        func coupling(_ c: Int, _ mask: Mask) -> AffineCoupling {
            let (cin, cout): (Int, Int)
            switch mask {
            case .checkerboard: (cin, cout) = (c, 2 * c)
            case .channel: (cin, cout) = (c / 2, c)
            }
            let net = STResNet(cin: cin, cout: cout, mid: config.mid, blocks: config.blocks,
                               batchNorm: config.batchNorm, dtype: dtype, using: &rng)
            return AffineCoupling(channels: c, mask: mask, network: net, dtype: dtype)
        }
        let c = config.channels
        scale1Checkerboard = [0, 1, 0].map { coupling(c, .checkerboard(parity: $0)) }
        squeeze = Squeeze()
        scale1Channel = [0, 1, 0].map { coupling(4 * c, .channel(parity: $0)) }
        scale2Checkerboard = [0, 1, 0, 1].map { coupling(2 * c, .checkerboard(parity: $0)) }
    }

    /// The ten couplings in the order `forward` applies them.
    public var couplings: [AffineCoupling] { scale1Checkerboard + scale1Channel + scale2Checkerboard }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("preprocess", preprocessing)]
        out += scale1Checkerboard.enumerated().map { ("scale1.checkerboard.\($0.offset)", $0.element) }
        out += scale1Channel.enumerated().map { ("scale1.channel.\($0.offset)", $0.element) }
        out += scale2Checkerboard.enumerated().map { ("scale2.checkerboard.\($0.offset)", $0.element) }
        return out
    }

    private var imageShape: [Int] { [config.channels, config.height, config.width] }
    /// Shape of z₁ and of the scale-2 state, without the batch: (2C, H/2, W/2).
    private var halfShape: [Int] { [2 * config.channels, config.height / 2, config.width / 2] }

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
        func apply(_ layer: some FlowLayer) {
            let (y, l) = layer.forward(h)
            h = y
            logDet = logDet + l
        }
        for layer in scale1Checkerboard { apply(layer) }
        apply(squeeze)
        for layer in scale1Channel { apply(layer) }
        let c2 = 2 * config.channels
        let z1 = h.slice(axis: 1, c2..<(2 * c2))
        h = h.slice(axis: 1, 0..<c2)
        for layer in scale2Checkerboard { apply(layer) }
        return (Tensor.concat([z1.flattenedBatch(), h.flattenedBatch()], axis: 1), logDet)
    }

    /// Inverse of `forwardBody`: z (B, D) to logit-space h (B, C, H, W).
    public func inverseBody(_ z: Tensor) -> Tensor {
        checkLatents(z, "inverseBody")
        let b = z.shape[0], half = config.dimensions / 2
        let z1 = z.slice(axis: 1, 0..<half).reshaped([b] + halfShape)
        var h = z.slice(axis: 1, half..<config.dimensions).reshaped([b] + halfShape)
        for layer in scale2Checkerboard.reversed() { h = layer.inverse(h) }
        h = Tensor.concat([h, z1], axis: 1)
        for layer in scale1Channel.reversed() { h = layer.inverse(h) }
        h = squeeze.inverse(h)
        for layer in scale1Checkerboard.reversed() { h = layer.inverse(h) }
        return h
    }
}
