import Tensor

/// A trainable tensor (or a buffer such as BatchNorm's running statistics) owned by a module.
///
/// The value is an autodiff leaf, so using it in a forward pass accumulates its gradient
/// in `grad` on `backward()`. Optimisers update the value in place.
public final class Parameter {
    public private(set) var value: Tensor
    /// False for buffers: saved in checkpoints, never updated by optimisers.
    public let isTrainable: Bool

    public init(_ value: Tensor, trainable: Bool = true) {
        self.isTrainable = trainable
        self.value = trainable ? value.copy().requiringGrad() : value.copy()
    }

    public var grad: Tensor? { value.grad }
    public var shape: [Int] { value.shape }
    public func zeroGrad() { value.node?.zeroGrad() }

    /// Replaces the accumulated gradient (gradient clipping).
    func replaceGrad(with newGrad: Tensor) {
        precondition(newGrad.shape == value.shape, "replaceGrad: \(newGrad.shape) for \(value.shape)")
        value.node?.setGrad(newGrad)
    }

    /// Replaces the values in place (checkpoint loading, data-dependent initialisation).
    public func assign(_ newValue: Tensor) {
        precondition(newValue.shape == value.shape, "Parameter.assign: \(newValue.shape) into \(value.shape)")
        value.assignValues(from: newValue)
    }
}

/// A node of a model: owns parameters and child modules, and a training/evaluation mode.
///
/// Models are built at run time from configurations, so the structure is discovered by
/// walking `children` rather than fixed at compile time.
public protocol Module: AnyObject {
    /// Parameters and buffers owned directly by this module, with local names.
    var ownParameters: [(String, Parameter)] { get }
    /// Child modules with local names.
    var children: [(String, any Module)] { get }
    /// Training mode (batch statistics, noise) or evaluation mode.
    var isTraining: Bool { get set }
}

extension Module {
    public var ownParameters: [(String, Parameter)] { [] }
    public var children: [(String, any Module)] { [] }

    /// Every parameter and buffer with its dotted path ("blocks.0.conv.weight"), in a stable order.
    public func namedParameters() -> [(String, Parameter)] {
        var out = ownParameters
        for (name, child) in children {
            out += child.namedParameters().map { ("\(name).\($0.0)", $0.1) }
        }
        return out
    }

    /// The trainable parameters.
    public var trainableParameters: [Parameter] { namedParameters().map(\.1).filter(\.isTrainable) }

    /// Number of trainable scalars.
    public var parameterCount: Int { trainableParameters.reduce(0) { $0 + $1.value.count } }

    /// Sets training or evaluation mode on this module and all its descendants.
    public func setTraining(_ on: Bool) {
        isTraining = on
        for (_, c) in children { c.setTraining(on) }
    }

    public func zeroGrad() { for p in trainableParameters { p.zeroGrad() } }
}

/// A module that maps one tensor to one tensor.
public protocol Layer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}

/// Layers applied in order.
public final class Sequential: Layer {
    public let layers: [any Layer]
    public var isTraining = true
    public init(_ layers: [any Layer]) { self.layers = layers }
    public var children: [(String, any Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }
    public func callAsFunction(_ x: Tensor) -> Tensor { layers.reduce(x) { $1($0) } }
}

/// Element-wise activation or shape function as a layer (no parameters).
public final class Function: Layer {
    public let name: String
    let body: (Tensor) -> Tensor
    public var isTraining = true
    public init(_ name: String, _ body: @escaping (Tensor) -> Tensor) {
        self.name = name
        self.body = body
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { body(x) }

    public static var relu: Function { Function("relu") { $0.relu() } }
    public static var tanh: Function { Function("tanh") { $0.tanh() } }
    public static var flatten: Function { Function("flatten") { $0.flattenedBatch() } }
    public static func maxPool2d(_ k: Int) -> Function { Function("maxPool2d") { $0.maxPool2d(kernel: k) } }
    public static var globalAvgPool2d: Function { Function("globalAvgPool2d") { $0.globalAvgPool2d() } }
}
