import Tensor
import NN

/// The s/t network of Glow's affine coupling (Kingma & Dhariwal 2018 §3.3, "NN()"):
///
///     h = relu(Conv(cin→hidden, 3×3)(x))
///     h = relu(Conv(hidden→hidden, 1×1)(h))
///     out = Conv(hidden→cout, 3×3)(h)              (weight and bias zero-initialised)
///
/// All convolutions have stride 1, "same" zero padding and a bias; the first two use PyTorch's
/// default initialisation. The zero-initialised last convolution makes a fresh coupling the
/// identity (Glow §3.3). Parameters: 9·cin·hidden + hidden + hidden² + hidden + 9·hidden·cout + cout.
/// Deviation from Glow: no ActNorm inside the network and no learned log-scale factor on the
/// zero-initialised output convolution (the coupling's own tanh rescale bounds s instead).
public final class GlowSTNet: CouplingNetwork {
    /// 3×3, cin → hidden.
    public let inputConv: Conv2d
    /// 1×1, hidden → hidden.
    public let hiddenConv: Conv2d
    /// 3×3, hidden → cout; zero-initialised.
    public let outputConv: Conv2d
    public var isTraining = true

    /// - Parameters:
    ///   - cin: input channels (C/2 for a channel coupling on C channels).
    ///   - cout: output channels (C: C/2 for s, C/2 for t).
    ///   - hidden: hidden channels (512 in Glow; 64 by default here).
    ///   - dtype: the parameters' dtype.
    ///   - rng: the source of the first two convolutions' initialisation.
    public init(cin: Int, cout: Int, hidden: Int = 64, dtype: DType = .float32,
                using rng: inout some RandomNumberGenerator) {
        precondition(cin > 0 && cout > 0 && hidden > 0, "GlowSTNet: cin \(cin), cout \(cout), hidden \(hidden) must be > 0")
        inputConv = Conv2d(cin, hidden, kernel: 3, dtype: dtype, using: &rng)
        hiddenConv = Conv2d(hidden, hidden, kernel: 1, dtype: dtype, using: &rng)
        outputConv = Conv2d(hidden, cout, kernel: 3, weightInit: .zeros, biasInit: .zeros, dtype: dtype, using: &rng)
    }

    /// Trainable parameters of a `GlowSTNet(cin:cout:hidden:)`, by the formula in the type's doc.
    public static func parameterCount(cin: Int, cout: Int, hidden: Int) -> Int {
        9 * cin * hidden + hidden + hidden * hidden + hidden + 9 * hidden * cout + cout
    }

    public var children: [(String, any Module)] {
        [("conv1", inputConv), ("conv2", hiddenConv), ("conv3", outputConv)]
    }

    /// The s/t map (B, cin, H, W) → (B, cout, H, W).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        outputConv(hiddenConv(inputConv(x).relu()).relu())
    }
}
