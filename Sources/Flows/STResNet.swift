import Tensor
import NN

/// The s/t network of the reference RESULTS.md "(a) realnvp-fmnist-small": a residual CNN with
/// pre-activation blocks (He et al. 2016) and a zero-initialised output convolution.
///
///     h = Conv(cin→mid, 3)(x)
///     repeat `blocks`×:  h = h + Conv(mid→mid,3)(relu(BN(mid)(Conv(mid→mid,3)(relu(BN(mid)(h))))))
///     out = Conv(mid→cout, 3)(relu(BN(mid)(h)))           (weight and bias zero)
///
/// All convolutions are 3×3, stride 1, "same" zero padding, with bias and PyTorch-default
/// initialisation. With `batchNorm: false` every BN is the identity. Parameters:
/// 9·mid·cin + mid + blocks·(2·(9·mid² + mid) + 4·mid·[BN]) + 2·mid·[BN] + 9·mid·cout + cout.
///
/// With a `Bottleneck` (flows_ood's `ResNetAE`, Kirichenko et al. 2020 §6 "st-networks with a
/// bottleneck") the activations after the first ⌊blocks/2⌋ residual blocks are flattened and
/// passed through two linear maps with no skip connection around them:
///
///     h ← reshape(Linear(k → mid·H·W)(Linear(mid·H·W → k)(flatten(h))), (mid, H, W))
///
/// adding 2·mid·H·W·k + k + mid·H·W parameters. Deviation: flows_ood skips the bottleneck when
/// `blocks` = 1 (its position test never fires); here it then sits right after the input conv.
public final class STResNet: CouplingNetwork {
    /// A linear bottleneck of `features` units for (mid, height, width) activations.
    public struct Bottleneck: Sendable, Hashable {
        public var features: Int
        public var height: Int
        public var width: Int
        /// - Parameters: the bottleneck width k and the H×W of the images the network sees.
        public init(features: Int, height: Int, width: Int) {
            precondition(features > 0 && height > 0 && width > 0,
                         "STResNet.Bottleneck: features \(features), \(height)×\(width) must be positive")
            self.features = features
            self.height = height
            self.width = width
        }
    }

    public let inputConv: Conv2d
    /// Per block: (first BN, first conv, second BN, second conv).
    public let blockNorms: [(BatchNorm?, BatchNorm?)]
    public let blockConvs: [(Conv2d, Conv2d)]
    /// The bottleneck's shape and its two linear maps, applied before block `bottleneckPosition`.
    public let bottleneck: (shape: Bottleneck, encode: Linear, decode: Linear)?
    /// ⌊blocks / 2⌋: the number of residual blocks before the bottleneck.
    public let bottleneckPosition: Int
    public let outputNorm: BatchNorm?
    /// Zero-initialised, so a fresh coupling is the identity.
    public let outputConv: Conv2d
    public let mid: Int
    public var isTraining = true

    /// - Parameters:
    ///   - cin: input channels.
    ///   - cout: output channels (2·cin for spatial-mask couplings, 2·(C/2) for channel couplings).
    ///   - mid: hidden channels (64 in the reference).
    ///   - blocks: residual blocks (2 in the reference).
    ///   - batchNorm: BatchNorm2d before each relu, or none.
    ///   - bottleneck: a linear bottleneck in the middle of the blocks, or none (the reference).
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the initialisation (drawn in the order of the layers).
    public init(cin: Int, cout: Int, mid: Int = 64, blocks: Int = 2, batchNorm: Bool = true,
                bottleneck: Bottleneck? = nil, dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        precondition(cin > 0 && cout > 0 && mid > 0 && blocks >= 0,
                     "STResNet: cin \(cin), cout \(cout), mid \(mid) must be positive and blocks \(blocks) ≥ 0")
        func norm() -> BatchNorm? { batchNorm ? BatchNorm(mid, dtype: dtype) : nil }
        self.mid = mid
        inputConv = Conv2d(cin, mid, kernel: 3, dtype: dtype, using: &rng)
        bottleneckPosition = blocks / 2
        var norms: [(BatchNorm?, BatchNorm?)] = [], convs: [(Conv2d, Conv2d)] = []
        var linears: (Linear, Linear)?
        for b in 0...blocks {
            if b == bottleneckPosition, let bottleneck {
                let flat = mid * bottleneck.height * bottleneck.width
                linears = (Linear(flat, bottleneck.features, dtype: dtype, using: &rng),
                           Linear(bottleneck.features, flat, dtype: dtype, using: &rng))
            }
            guard b < blocks else { break }
            let n1 = norm(), c1 = Conv2d(mid, mid, kernel: 3, dtype: dtype, using: &rng)
            let n2 = norm(), c2 = Conv2d(mid, mid, kernel: 3, dtype: dtype, using: &rng)
            norms.append((n1, n2))
            convs.append((c1, c2))
        }
        blockNorms = norms
        blockConvs = convs
        self.bottleneck = bottleneck.map { ($0, linears!.0, linears!.1) }
        outputNorm = norm()
        outputConv = Conv2d(mid, cout, kernel: 3, weightInit: .zeros, biasInit: .zeros, dtype: dtype, using: &rng)
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("in_conv", inputConv)]
        func addBottleneck(at b: Int) {
            if b == bottleneckPosition, let bottleneck {
                out += [("bottleneck.encode", bottleneck.encode), ("bottleneck.decode", bottleneck.decode)]
            }
        }
        for (i, (norms, convs)) in zip(blockNorms, blockConvs).enumerated() {
            addBottleneck(at: i)
            if let n = norms.0 { out.append(("blocks.\(i).bn1", n)) }
            out.append(("blocks.\(i).conv1", convs.0))
            if let n = norms.1 { out.append(("blocks.\(i).bn2", n)) }
            out.append(("blocks.\(i).conv2", convs.1))
        }
        addBottleneck(at: blockConvs.count)
        if let n = outputNorm { out.append(("out_bn", n)) }
        out.append(("out_conv", outputConv))
        return out
    }

    /// relu(BN(h)) (one fused operation), or relu(h) without BatchNorm.
    private static func normalizedReLU(_ h: Tensor, _ norm: BatchNorm?) -> Tensor {
        norm.map { $0(h, thenReLU: true) } ?? h.relu()
    }

    private func squeezeThroughBottleneck(_ h: Tensor) -> Tensor {
        guard let bottleneck else { return h }
        let shape = bottleneck.shape
        precondition(h.shape[2] == shape.height && h.shape[3] == shape.width,
                     "STResNet: bottleneck built for \(shape.height)×\(shape.width), got \(h.shape)")
        let code = bottleneck.encode(h.flattenedBatch())
        return bottleneck.decode(code).reshaped([h.shape[0], mid, shape.height, shape.width])
    }

    /// The s/t map (B, cin, H, W) → (B, cout, H, W).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = inputConv(x)
        for (b, (norms, convs)) in zip(blockNorms, blockConvs).enumerated() {
            if b == bottleneckPosition { h = squeezeThroughBottleneck(h) }
            let a = convs.0(Self.normalizedReLU(h, norms.0))
            h = h + convs.1(Self.normalizedReLU(a, norms.1))
        }
        if blockConvs.count == bottleneckPosition { h = squeezeThroughBottleneck(h) }
        return outputConv(Self.normalizedReLU(h, outputNorm))
    }
}
