import Tensor
import NN

/// The highway s/t network of flows_ood (Srivastava et al. 2015 gating; Kirichenko et al. 2020
/// use it in Glow and in the coupling-layer experiments of §6):
///
///     h = Conv(cin→mid, 3)(x)
///     repeat `blocks`×:  g = σ(Conv_g(mid→mid, 3)(h)),  h = Conv_h(mid→mid, 3)(h) ⊙ g + h ⊙ (1 − g)
///     out = Conv(mid→cout, 1)(h)                        (weight and bias zero)
///
/// All hidden convolutions are 3×3 "same" with bias; as in flows_ood their weights start
/// N(0, 0.05²) and their biases at 0, and there is no normalisation and no other non-linearity
/// than the gates. Parameters: 9·mid·cin + mid + blocks·2·(9·mid² + mid) + mid·cout + cout.
public final class STHighway: CouplingNetwork {
    public let inputConv: Conv2d
    /// Per layer: (transform conv h, gate conv g).
    public let layers: [(transform: Conv2d, gate: Conv2d)]
    /// Zero-initialised 1×1 convolution, so a fresh coupling is the identity.
    public let outputConv: Conv2d
    public var isTraining = true

    /// - Parameters:
    ///   - cin: input channels.
    ///   - cout: output channels (2·cin for spatial-mask couplings, 2·(C/2) for channel couplings).
    ///   - mid: hidden channels.
    ///   - blocks: highway layers.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the initialisation.
    public init(cin: Int, cout: Int, mid: Int = 64, blocks: Int = 2, dtype: DType = .float32,
                using rng: inout some RandomNumberGenerator) {
        func conv(_ i: Int, _ o: Int) -> Conv2d {
            Conv2d(i, o, kernel: 3, weightInit: .normal(std: 0.05), biasInit: .zeros, dtype: dtype, using: &rng)
        }
        inputConv = conv(cin, mid)
        layers = (0..<blocks).map { _ in (conv(mid, mid), conv(mid, mid)) }
        outputConv = Conv2d(mid, cout, kernel: 1, weightInit: .zeros, biasInit: .zeros, dtype: dtype, using: &rng)
    }

    /// Trainable parameters of an `STHighway(cin:cout:mid:blocks:)`, by the formula in the type's doc.
    public static func parameterCount(cin: Int, cout: Int, mid: Int, blocks: Int) -> Int {
        9 * mid * cin + mid + blocks * 2 * (9 * mid * mid + mid) + mid * cout + cout
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("in_conv", inputConv)]
        for (i, layer) in layers.enumerated() {
            out += [("layers.\(i).conv_h", layer.transform), ("layers.\(i).conv_gate", layer.gate)]
        }
        out.append(("out_conv", outputConv))
        return out
    }

    /// The s/t map (B, cin, H, W) → (B, cout, H, W).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = inputConv(x)
        for layer in layers {
            let g = layer.gate(h).sigmoid()
            h = layer.transform(h) * g + h * (1 - g)
        }
        return outputConv(h)
    }
}
