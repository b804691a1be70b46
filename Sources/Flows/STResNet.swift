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
public final class STResNet: Layer {
    public let inputConv: Conv2d
    /// Per block: (first BN, first conv, second BN, second conv).
    public let blockNorms: [(BatchNorm?, BatchNorm?)]
    public let blockConvs: [(Conv2d, Conv2d)]
    public let outputNorm: BatchNorm?
    /// Zero-initialised, so a fresh coupling is the identity.
    public let outputConv: Conv2d
    public var isTraining = true

    /// - Parameters:
    ///   - cin: input channels.
    ///   - cout: output channels (2·cin for checkerboard couplings, 2·(C/2) for channel couplings).
    ///   - mid: hidden channels (64 in the reference).
    ///   - blocks: residual blocks (2 in the reference).
    ///   - batchNorm: BatchNorm2d before each relu, or none.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the convolutions' initialisation.
    public init(cin: Int, cout: Int, mid: Int = 64, blocks: Int = 2, batchNorm: Bool = true,
                dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        func norm() -> BatchNorm? { batchNorm ? BatchNorm(mid, dtype: dtype) : nil }
        inputConv = Conv2d(cin, mid, kernel: 3, dtype: dtype, using: &rng)
        var norms: [(BatchNorm?, BatchNorm?)] = [], convs: [(Conv2d, Conv2d)] = []
        for _ in 0..<blocks {
            let n1 = norm(), c1 = Conv2d(mid, mid, kernel: 3, dtype: dtype, using: &rng)
            let n2 = norm(), c2 = Conv2d(mid, mid, kernel: 3, dtype: dtype, using: &rng)
            norms.append((n1, n2))
            convs.append((c1, c2))
        }
        blockNorms = norms
        blockConvs = convs
        outputNorm = norm()
        outputConv = Conv2d(mid, cout, kernel: 3, weightInit: .zeros, biasInit: .zeros, dtype: dtype, using: &rng)
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("in_conv", inputConv)]
        for (i, (norms, convs)) in zip(blockNorms, blockConvs).enumerated() {
            if let n = norms.0 { out.append(("blocks.\(i).bn1", n)) }
            out.append(("blocks.\(i).conv1", convs.0))
            if let n = norms.1 { out.append(("blocks.\(i).bn2", n)) }
            out.append(("blocks.\(i).conv2", convs.1))
        }
        if let n = outputNorm { out.append(("out_bn", n)) }
        out.append(("out_conv", outputConv))
        return out
    }

    private static func normalized(_ h: Tensor, _ norm: BatchNorm?) -> Tensor { norm.map { $0(h) } ?? h }

    /// The s/t map (B, cin, H, W) → (B, cout, H, W).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = inputConv(x)
        for (norms, convs) in zip(blockNorms, blockConvs) {
            let a = convs.0(Self.normalized(h, norms.0).relu())
            h = h + convs.1(Self.normalized(a, norms.1).relu())
        }
        return outputConv(Self.normalized(h, outputNorm).relu())
    }
}
