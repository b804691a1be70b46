import Tensor

/// Fully connected layer: y = x·Wᵀ + b, W of shape (out, in). PyTorch-default initialisation.
public final class Linear: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                weightInit: Initializer = .torchDefault, biasInit: Initializer? = nil,
                dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        weight = Parameter(weightInit.make([outFeatures, inFeatures], dtype: dtype, using: &rng))
        if bias {
            let bound = 1 / Double(inFeatures).squareRoot()
            self.bias = Parameter((biasInit ?? .uniform(-bound, bound)).make([outFeatures], dtype: dtype, using: &rng))
        } else {
            self.bias = nil
        }
    }

    public var ownParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = x.matmul(weight.value.transposed())
        return bias.map { y + $0.value } ?? y
    }
}

/// 2-D convolution over NCHW input with "same"-style zero padding `padding`.
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int
    public var isTraining = true

    /// `padding` defaults to (kernel − 1)/2 ("same" for odd kernels and stride 1).
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
                bias: Bool = true, weightInit: Initializer = .torchDefault, biasInit: Initializer? = nil,
                dtype: DType = .float32, using rng: inout some RandomNumberGenerator) {
        self.stride = stride
        self.padding = padding ?? (kernel - 1) / 2
        weight = Parameter(weightInit.make([outChannels, inChannels, kernel, kernel], dtype: dtype, using: &rng))
        if bias {
            let bound = 1 / Double(inChannels * kernel * kernel).squareRoot()
            self.bias = Parameter((biasInit ?? .uniform(-bound, bound)).make([outChannels], dtype: dtype, using: &rng))
        } else {
            self.bias = nil
        }
    }

    public var ownParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight.value, bias: bias?.value, stride: stride, padding: padding)
    }
}

/// Batch normalisation (Ioffe & Szegedy 2015) over channel axis 1 of (B, C) or (B, C, H, W).
///
/// Training: normalise with the batch mean and population variance, and update the running
/// statistics with `momentum` (running variance uses the unbiased batch variance, as
/// PyTorch does). Evaluation: normalise with the running statistics.
public final class BatchNorm: Layer {
    public let gamma: Parameter
    public let beta: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter
    public let eps: Double
    public let momentum: Double
    public var isTraining = true

    public init(_ channels: Int, eps: Double = 1e-5, momentum: Double = 0.1, dtype: DType = .float32) {
        gamma = Parameter(.ones([channels], dtype: dtype))
        beta = Parameter(.zeros([channels], dtype: dtype))
        runningMean = Parameter(.zeros([channels], dtype: dtype), trainable: false)
        runningVar = Parameter(.ones([channels], dtype: dtype), trainable: false)
        self.eps = eps
        self.momentum = momentum
    }

    public var ownParameters: [(String, Parameter)] {
        [("weight", gamma), ("bias", beta), ("running_mean", runningMean), ("running_var", runningVar)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, thenReLU: false) }

    /// BN(x), or relu(BN(x)) as one fused operation when `thenReLU` (the pre-activation order
    /// of residual blocks): a pass less forward and backward than `bn(x).relu()`, same values.
    /// Both run `Tensor.batchNormalized` (statistics per channel, gradients in two passes).
    public func callAsFunction(_ x: Tensor, thenReLU relu: Bool) -> Tensor {
        precondition(x.rank == 2 || x.rank == 4, "BatchNorm expects (B, C) or (B, C, H, W), got \(x.shape)")
        let c = x.shape[1]
        precondition(c == gamma.shape[0], "BatchNorm(\(gamma.shape[0])) on \(x.shape)")
        guard isTraining else {
            return x.batchNormalized(gamma: gamma.value, beta: beta.value, mean: runningMean.value.detached,
                                     variance: runningVar.value.detached, eps: eps, relu: relu)
        }
        let (y, mean, variance) = x.batchNormalized(gamma: gamma.value, beta: beta.value, eps: eps, relu: relu)
        let n = Double(x.count / c)
        withoutGrad {
            let unbiased = n > 1 ? variance * (n / (n - 1)) : variance
            runningMean.assign(runningMean.value.detached * (1 - momentum) + mean * momentum)
            runningVar.assign(runningVar.value.detached * (1 - momentum) + unbiased * momentum)
        }
        return y
    }
}
