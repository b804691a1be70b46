import Tensor
import NN

/// A ResNet basic block (He et al. 2016, "Deep residual learning", §3.3 and Fig. 2 left):
///
///     y = relu( BN(conv3×3(relu(BN(conv3×3_s(x))))) + shortcut(x) )
///
/// where the first convolution has stride s, and shortcut(x) is x itself when the shape is
/// kept, else BN(conv1×1_s(x)) (option B of the paper). Convolutions have no bias (BatchNorm
/// follows each).
public final class ResidualBlock: Layer {
    public let conv1: Conv2d
    public let bn1: BatchNorm
    public let conv2: Conv2d
    public let bn2: BatchNorm
    /// The projection (1×1 convolution and BatchNorm) when the channels or the stride change.
    public let projection: Sequential?
    public var isTraining = true

    /// - Parameters:
    ///   - inChannels, outChannels: channel counts.
    ///   - stride: stride of the first convolution (and of the projection).
    ///   - rng: the source of the convolutions' initialisation.
    public init(_ inChannels: Int, _ outChannels: Int, stride: Int = 1, using rng: inout some RandomNumberGenerator) {
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false, using: &rng)
        bn1 = BatchNorm(outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, bias: false, using: &rng)
        bn2 = BatchNorm(outChannels)
        if stride != 1 || inChannels != outChannels {
            projection = Sequential([
                Conv2d(inChannels, outChannels, kernel: 1, stride: stride, padding: 0, bias: false, using: &rng),
                BatchNorm(outChannels),
            ])
        } else {
            projection = nil
        }
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
        if let projection { out.append(("shortcut", projection)) }
        return out
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = bn2(conv2(bn1(conv1(x)).relu()))
        return (h + (projection.map { $0(x) } ?? x)).relu()
    }
}

/// A small ResNet for 28×28 inputs that trains on a CPU: the CIFAR-style ResNet layout
/// (He et al. 2016 §4.2) with one basic block per stage.
///
///     conv3×3(C_in → w) BN ReLU                       28×28
///     ResidualBlock(w → w)                            28×28
///     ResidualBlock(w → 2w, stride 2)                 14×14
///     ResidualBlock(2w → 4w, stride 2)                 7×7
///     global average pool                             → 4w features
///
/// Deviation from ResNet-18 (the LDE paper's CIFAR-10 backbone): one block per stage instead of
/// two, three stages instead of four, and no max-pool stem, to keep FashionMNIST training at a
/// few minutes per epoch on two cores. w = 32 gives 128 features, as cnn-fmnist does.
public enum ResNetBackbone {
    /// The feature extractor (everything before the linear head); features = 4·width.
    public static func make(inputChannels: Int, width: Int, using rng: inout some RandomNumberGenerator) -> Sequential {
        precondition(width >= 1, "ResNetBackbone: width \(width)")
        return Sequential([
            Conv2d(inputChannels, width, kernel: 3, padding: 1, bias: false, using: &rng),
            BatchNorm(width),
            Function.relu,
            ResidualBlock(width, width, using: &rng),
            ResidualBlock(width, 2 * width, stride: 2, using: &rng),
            ResidualBlock(2 * width, 4 * width, stride: 2, using: &rng),
            Function.globalAvgPool2d,
        ])
    }
}
