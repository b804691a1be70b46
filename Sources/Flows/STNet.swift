import Tensor
import NN

/// An s/t network of a coupling layer: maps the conditioning input (B, cin, H, W) to s_raw and t
/// stacked on the channels (B, cout, H, W), and starts at zero so the coupling starts as the
/// identity.
public protocol CouplingNetwork: Layer {
    /// The last layer, initialised to zero weights and bias.
    var outputConv: Conv2d { get }
}

/// The kind of s/t network inside each coupling of a `RealNVP` (Kirichenko et al. 2020 §6 change
/// the s/t networks to test what the couplings learn).
///
/// Every kind uses `RealNVPConfig.mid` hidden channels and `RealNVPConfig.blocks` blocks, and its
/// output layer starts at zero.
public enum STNet: Sendable, Hashable, Codable {
    /// `STResNet` (the reference), with BatchNorm when `RealNVPConfig.batchNorm` is true.
    case resnet
    /// `STResNet` without BatchNorm, whatever `RealNVPConfig.batchNorm` says.
    case resnetNoBatchNorm
    /// `STHighway`: gated 3×3 convolutions, no normalisation (`batchNorm` is ignored).
    case highway
    /// `STResNet` with a linear bottleneck of the given width in the middle of its blocks
    /// (flows_ood's `ResNetAE`, width 100 there); BatchNorm as `RealNVPConfig.batchNorm`.
    case bottleneck(Int)

    /// A short readable name ("resnet", "resnet-no-bn", "highway", "bottleneck-100").
    public var name: String {
        switch self {
        case .resnet: "resnet"
        case .resnetNoBatchNorm: "resnet-no-bn"
        case .highway: "highway"
        case .bottleneck(let k): "bottleneck-\(k)"
        }
    }

    /// A fresh network of this kind.
    ///
    /// - Parameters:
    ///   - cin: input channels; cout: output channels (2·(transformed channels)).
    ///   - height: H of the images it sees; width: W (only the bottleneck depends on them).
    ///   - mid: hidden channels; blocks: residual or highway blocks.
    ///   - batchNorm: BatchNorm in `.resnet` and `.bottleneck`.
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the initialisation.
    public func makeNetwork(cin: Int, cout: Int, height: Int, width: Int, mid: Int, blocks: Int, batchNorm: Bool,
                            dtype: DType = .float32, using rng: inout some RandomNumberGenerator) -> any CouplingNetwork {
        switch self {
        case .resnet:
            STResNet(cin: cin, cout: cout, mid: mid, blocks: blocks, batchNorm: batchNorm, dtype: dtype, using: &rng)
        case .resnetNoBatchNorm:
            STResNet(cin: cin, cout: cout, mid: mid, blocks: blocks, batchNorm: false, dtype: dtype, using: &rng)
        case .highway:
            STHighway(cin: cin, cout: cout, mid: mid, blocks: blocks, dtype: dtype, using: &rng)
        case .bottleneck(let k):
            STResNet(cin: cin, cout: cout, mid: mid, blocks: blocks, batchNorm: batchNorm,
                     bottleneck: .init(features: k, height: height, width: width), dtype: dtype, using: &rng)
        }
    }
}
