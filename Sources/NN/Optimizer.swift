import Tensor
import RealModule

/// How weight decay enters an update.
public enum WeightDecay: Sendable, Equatable, Codable {
    case none
    /// λ·w added to the gradient (PyTorch's `weight_decay` for Adam and RMSprop).
    case l2(Double)
    /// w ← w − lr·λ·w applied separately from the adaptive step (AdamW, Loshchilov & Hutter 2019).
    case decoupled(Double)
}

extension WeightDecay {
    /// (λ added to the gradient, λ applied to the weights directly).
    var coefficients: (l2: Float, decoupled: Float) {
        switch self {
        case .none: return (0, 0)
        case .l2(let wd): return (Float(wd), 0)
        case .decoupled(let wd): return (0, Float(wd))
        }
    }
}

/// An optimiser over a fixed list of parameters.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    var learningRate: Double { get set }
    /// Applies one update from the parameters' accumulated gradients.
    func step()
    /// Optimiser state (moments, step count) by name, for checkpoints and resumption.
    func stateTensors() -> [String: Tensor]
    /// Restores state saved by `stateTensors()`.
    func loadState(_ state: [String: Tensor]) throws
}

extension Optimizer {
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Checks that `state` holds "<slot>.<i>" with the right shape for every slot and parameter.
func validateSlots(_ state: [String: Tensor], _ slots: KeyValuePairs<String, [Tensor]>) throws {
    for (name, arr) in slots {
        for i in arr.indices {
            guard let t = state["\(name).\(i)"] else { throw OptimizerStateError(field: "\(name).\(i)", problem: "missing") }
            guard t.shape == arr[i].shape else {
                throw OptimizerStateError(field: "\(name).\(i)", problem: "shape \(t.shape), expected \(arr[i].shape)")
            }
        }
    }
}

/// Errors restoring optimiser state.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let field: String
    public let problem: String
    public var description: String { "optimizer state '\(field)': \(problem)" }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before
/// clipping (PyTorch's `clip_grad_norm_`). A non-finite norm is returned unchanged.
///
/// Each clipped parameter gets a fresh scaled gradient rather than an in-place update: a
/// gradient from `backward()` may be a strided view (a Linear weight's is transposed) or share
/// its buffer with another parameter's (both inputs of an addition receive the same tensor).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Double) -> Double {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        for x in g.doubles { total += x * x }
    }
    let norm = total.squareRoot()
    if norm.isFinite && norm > maxNorm {
        let f = maxNorm / (norm + 1e-6)
        for p in parameters {
            guard let g = p.grad else { continue }
            p.replaceGrad(with: withoutGrad { g * f })
        }
    }
    return norm
}

/// Adam (Kingma & Ba 2015) with bias correction, as PyTorch implements it.
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Double
    public let beta1, beta2, eps: Double
    public let weightDecay: WeightDecay
    public private(set) var stepCount = 0
    private var m: [Tensor]
    private var v: [Tensor]

    public init(_ parameters: [Parameter], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: WeightDecay = .none) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay
        m = parameters.map { .zeros($0.shape) }
        v = parameters.map { .zeros($0.shape) }
    }

    public func step() {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - Double.pow(beta1, t), bc2 = 1 - Double.pow(beta2, t)
        let lr = Float(learningRate), b1 = Float(beta1), b2 = Float(beta2)
        let stepSize = Float(learningRate / bc1), bc2Sqrt = Float(bc2.squareRoot()), epsF = Float(eps)
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad?.contiguous() else { continue }
            let n = p.value.count
            let (l2, decoupled) = weightDecay.coefficients
            g.withUnsafePointer(as: Float.self) { gp in
                p.value.withUnsafeMutablePointer(as: Float.self) { w in
                    m[i].withUnsafeMutablePointer(as: Float.self) { mp in
                        v[i].withUnsafeMutablePointer(as: Float.self) { vp in
                            // Element-wise and memory-bound: ranges on the engine's threads, the
                            // weight-decay branch hoisted so the loop vectorises. Same arithmetic
                            // per element in any split.
                            Engine.forEachRange(of: n, costPerItem: 8) { r in
                                let (w, gp, mp, vp) = (w + r.lowerBound, gp + r.lowerBound, mp + r.lowerBound, vp + r.lowerBound)
                                let count = r.count
                                if decoupled != 0 {
                                    for j in 0..<count { w[j] -= lr * decoupled * w[j] }
                                }
                                // Four lanes at a time (LLVM will not vectorise the scalar loop:
                                // too many pointers to check for aliasing), then the tail; the
                                // same operations in the same order per element either way.
                                var j = 0
                                let (l2v, b1v, b2v) = (SIMD4<Float>(repeating: l2), SIMD4<Float>(repeating: b1), SIMD4<Float>(repeating: b2))
                                let (c1v, c2v) = (SIMD4<Float>(repeating: 1 - b1), SIMD4<Float>(repeating: 1 - b2))
                                let (stepv, bcv, epsv) = (SIMD4<Float>(repeating: stepSize), SIMD4<Float>(repeating: bc2Sqrt), SIMD4<Float>(repeating: epsF))
                                while j &+ 4 <= count {
                                    let wj = UnsafeRawPointer(w + j).loadUnaligned(as: SIMD4<Float>.self)
                                    let gj = UnsafeRawPointer(gp + j).loadUnaligned(as: SIMD4<Float>.self) + l2v * wj
                                    let mj = b1v * UnsafeRawPointer(mp + j).loadUnaligned(as: SIMD4<Float>.self) + c1v * gj
                                    let vj = b2v * UnsafeRawPointer(vp + j).loadUnaligned(as: SIMD4<Float>.self) + c2v * gj * gj
                                    UnsafeMutableRawPointer(mp + j).storeBytes(of: mj, as: SIMD4<Float>.self)
                                    UnsafeMutableRawPointer(vp + j).storeBytes(of: vj, as: SIMD4<Float>.self)
                                    UnsafeMutableRawPointer(w + j).storeBytes(of: wj - stepv * mj / (vj.squareRoot() / bcv + epsv),
                                                                              as: SIMD4<Float>.self)
                                    j &+= 4
                                }
                                while j < count {
                                    let gj = gp[j] + l2 * w[j]
                                    let mj = b1 * mp[j] + (1 - b1) * gj
                                    let vj = b2 * vp[j] + (1 - b2) * gj * gj
                                    mp[j] = mj
                                    vp[j] = vj
                                    w[j] -= stepSize * mj / (vj.squareRoot() / bc2Sqrt + epsF)
                                    j &+= 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var s: [String: Tensor] = ["step": Tensor(scalar: Double(stepCount))]
        for i in parameters.indices { s["m.\(i)"] = m[i]; s["v.\(i)"] = v[i] }
        return s
    }

    public func loadState(_ state: [String: Tensor]) throws {
        guard let st = state["step"] else { throw OptimizerStateError(field: "step", problem: "missing") }
        try validateSlots(state, ["m": m, "v": v])
        stepCount = Int(st.item)
        for i in parameters.indices {
            m[i].assignValues(from: state["m.\(i)"]!)
            v[i].assignValues(from: state["v.\(i)"]!)
        }
    }
}

/// RMSprop (Tieleman & Hinton 2012) as PyTorch implements it (no centring), optional momentum.
public final class RMSprop: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Double
    public let alpha, eps, momentum: Double
    public let weightDecay: WeightDecay
    private var square: [Tensor]
    private var buffer: [Tensor]

    public init(_ parameters: [Parameter], learningRate: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                momentum: Double = 0, weightDecay: WeightDecay = .none) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.alpha = alpha; self.eps = eps; self.momentum = momentum
        self.weightDecay = weightDecay
        square = parameters.map { .zeros($0.shape) }
        buffer = parameters.map { .zeros($0.shape) }
    }

    public func step() {
        let lr = Float(learningRate), a = Float(alpha), e = Float(eps), mom = Float(momentum)
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad?.contiguous() else { continue }
            let n = p.value.count
            let (l2, decoupled) = weightDecay.coefficients
            g.withUnsafePointer(as: Float.self) { gp in
                p.value.withUnsafeMutablePointer(as: Float.self) { w in
                    square[i].withUnsafeMutablePointer(as: Float.self) { sq in
                        buffer[i].withUnsafeMutablePointer(as: Float.self) { buf in
                            for j in 0..<n {
                                if decoupled != 0 { w[j] -= lr * decoupled * w[j] }
                                let gj = gp[j] + l2 * w[j]
                                sq[j] = a * sq[j] + (1 - a) * gj * gj
                                let upd = gj / (sq[j].squareRoot() + e)
                                if mom != 0 {
                                    buf[j] = mom * buf[j] + upd
                                    w[j] -= lr * buf[j]
                                } else {
                                    w[j] -= lr * upd
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var s: [String: Tensor] = [:]
        for i in parameters.indices { s["square.\(i)"] = square[i]; s["buffer.\(i)"] = buffer[i] }
        return s
    }

    public func loadState(_ state: [String: Tensor]) throws {
        try validateSlots(state, ["square": square, "buffer": buffer])
        for i in parameters.indices {
            square[i].assignValues(from: state["square.\(i)"]!)
            buffer[i].assignValues(from: state["buffer.\(i)"]!)
        }
    }
}
