import RealModule

/// Element-wise binary operations (with NumPy broadcasting) and fused gradient kernels.
enum BinaryOp {
    case add, sub, mul, div, maximum, minimum
    /// (g, y) -> g·(1 − y²), y = tanh(x)
    case tanhGrad
    /// (g, y) -> g·y·(1 − y), y = sigmoid(x)
    case sigmoidGrad
    /// (g, x) -> x > 0 ? g : 0
    case reluGrad
    /// (g, x) -> g·sigmoid(x)
    case softplusGrad

    @inline(__always)
    func apply<T: TensorScalar>(_ a: T, _ b: T) -> T {
        switch self {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        case .maximum: return a.isNaN || b.isNaN ? a + b : (a >= b ? a : b)
        case .minimum: return a.isNaN || b.isNaN ? a + b : (a <= b ? a : b)
        case .tanhGrad: return a * (1 - b * b)
        case .sigmoidGrad: return a * b * (1 - b)
        case .reluGrad: return b > 0 ? a : 0
        case .softplusGrad: return a / (1 + T.exp(-b))
        }
    }
}

/// Shape of the NumPy broadcast of two shapes.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "cannot broadcast shapes \(a) and \(b)")
        out[i] = da == 1 ? db : da
    }
    return out
}

extension Tensor {
    /// Strides that read this tensor as if it had shape `target` (size-1 dims get stride 0).
    func broadcastStrides(to target: [Int]) -> [Int] {
        let pad = target.count - rank
        precondition(pad >= 0, "cannot broadcast \(shape) to \(target)")
        var s = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            let d = shape[i]
            precondition(d == target[i + pad] || d == 1, "cannot broadcast \(shape) to \(target)")
            s[i + pad] = d == 1 ? 0 : strides[i]
        }
        return s
    }

    /// Binary kernel without autodiff.
    func binaryRaw(_ other: Tensor, _ op: BinaryOp) -> Tensor {
        precondition(dtype == other.dtype, "\(op): dtype \(dtype) vs \(other.dtype)")
        let outShape = shape == other.shape ? shape : broadcastShape(shape, other.shape)
        let out = Tensor(uninitialized: outShape, dtype: dtype)
        switch dtype {
        case .float32: binaryKernel(self, other, out, op, Float.self)
        case .float64: binaryKernel(self, other, out, op, Double.self)
        }
        return out
    }

    /// `self + other` without recording autodiff history (used for gradient accumulation).
    func adding(_ other: Tensor) -> Tensor { binaryRaw(other, .add) }

    /// Sums a broadcast gradient back down to `target` shape.
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let pad = rank - target.count
        var axes: [Int] = Array(0..<pad)
        for i in 0..<target.count where target[i] == 1 && shape[i + pad] != 1 { axes.append(i + pad) }
        var r = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        if r.shape != target { r = r.reshaped(target) }
        return r
    }

    func binary(_ other: Tensor, _ op: BinaryOp) -> Tensor {
        var out = binaryRaw(other, op)
        let a = self, b = other
        switch op {
        case .add:
            out.node = GradNode.make("add", [a, b]) { g in
                [a.node == nil ? nil : g.sumToShape(a.shape), b.node == nil ? nil : g.sumToShape(b.shape)]
            }
        case .sub:
            out.node = GradNode.make("sub", [a, b]) { g in
                [a.node == nil ? nil : g.sumToShape(a.shape), b.node == nil ? nil : (-g).sumToShape(b.shape)]
            }
        case .mul:
            let ad = a.detached, bd = b.detached
            out.node = GradNode.make("mul", [a, b]) { g in
                [a.node == nil ? nil : (g * bd).sumToShape(a.shape),
                 b.node == nil ? nil : (g * ad).sumToShape(b.shape)]
            }
        case .div:
            let ad = a.detached, bd = b.detached
            out.node = GradNode.make("div", [a, b]) { g in
                let ga = g / bd
                return [a.node == nil ? nil : ga.sumToShape(a.shape),
                        b.node == nil ? nil : (-(ga * ad) / bd).sumToShape(b.shape)]
            }
        case .maximum, .minimum:
            let ad = a.detached, od = out.detached
            out.node = GradNode.make(op == .maximum ? "maximum" : "minimum", [a, b]) { g in
                // The gradient goes to `a` where it was chosen (ties go to a).
                let takeA = ad.binaryRaw(od, .sub).isZeroMask()
                return [a.node == nil ? nil : (g * takeA).sumToShape(a.shape),
                        b.node == nil ? nil : (g * (1 - takeA)).sumToShape(b.shape)]
            }
        default:
            preconditionFailure("gradient kernel \(op) is not differentiable")
        }
        return out
    }

    /// 1 where the element is exactly zero, else 0.
    func isZeroMask() -> Tensor { unaryRaw(.isZero) }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .add) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .sub) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .mul) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .div) }
    public static func + (a: Tensor, b: Double) -> Tensor { a.affine(scale: 1, shift: b) }
    public static func - (a: Tensor, b: Double) -> Tensor { a.affine(scale: 1, shift: -b) }
    public static func * (a: Tensor, b: Double) -> Tensor { a.affine(scale: b, shift: 0) }
    public static func / (a: Tensor, b: Double) -> Tensor { a.affine(scale: 1 / b, shift: 0) }
    public static func + (a: Double, b: Tensor) -> Tensor { b.affine(scale: 1, shift: a) }
    public static func - (a: Double, b: Tensor) -> Tensor { b.affine(scale: -1, shift: a) }
    public static func * (a: Double, b: Tensor) -> Tensor { b.affine(scale: a, shift: 0) }
    public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1, shift: 0) }

    /// Element-wise maximum (NaN propagates; at ties the gradient goes to `self`).
    public func maximum(_ other: Tensor) -> Tensor { binary(other, .maximum) }
    /// Element-wise minimum (NaN propagates; at ties the gradient goes to `self`).
    public func minimum(_ other: Tensor) -> Tensor { binary(other, .minimum) }

    /// Fused gradient kernels used by VJPs (same shapes, no autodiff).
    func gradKernel(_ aux: Tensor, _ op: BinaryOp) -> Tensor { binaryRaw(aux, op) }
}

func binaryKernel<T: TensorScalar>(_ a: Tensor, _ b: Tensor, _ out: Tensor, _ op: BinaryOp, _: T.Type) {
    let pa = a.storage.pointer(as: T.self) + a.offset
    let pb = b.storage.pointer(as: T.self) + b.offset
    let po = out.mutablePointer(as: T.self)
    let n = out.count
    if a.isContiguous && b.isContiguous && a.shape == b.shape {
        parallelRanges(n) { r in
            switch op {
            case .add: for i in r { po[i] = pa[i] + pb[i] }
            case .sub: for i in r { po[i] = pa[i] - pb[i] }
            case .mul: for i in r { po[i] = pa[i] * pb[i] }
            case .div: for i in r { po[i] = pa[i] / pb[i] }
            default: for i in r { po[i] = op.apply(pa[i], pb[i]) }
            }
        }
        return
    }
    let (shape, st) = coalesce(out.shape, [a.broadcastStrides(to: out.shape), b.broadcastStrides(to: out.shape), out.strides])
    let inner = shape[shape.count - 1]
    let outerShape = Array(shape.dropLast())
    let rows = outerShape.reduce(1, *)
    let sa = st[0], sb = st[1], so = st[2]
    let ia = sa[sa.count - 1], ib = sb[sb.count - 1], io = so[so.count - 1]
    parallelRanges(rows, costPerItem: inner) { r in
        for row in r {
            var rem = row, oa = 0, ob = 0, oo = 0
            for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
                let i = rem % outerShape[d]; rem /= outerShape[d]
                oa += i * sa[d]; ob += i * sb[d]; oo += i * so[d]
            }
            let xa = pa + oa, xb = pb + ob, xo = po + oo
            if io == 1 && ia == 1 && ib == 0 {
                let c = xb.pointee
                switch op {
                case .add: for j in 0..<inner { xo[j] = xa[j] + c }
                case .mul: for j in 0..<inner { xo[j] = xa[j] * c }
                case .sub: for j in 0..<inner { xo[j] = xa[j] - c }
                default: for j in 0..<inner { xo[j] = op.apply(xa[j], c) }
                }
            } else if io == 1 && ia == 0 && ib == 1 {
                let c = xa.pointee
                switch op {
                case .add: for j in 0..<inner { xo[j] = c + xb[j] }
                case .mul: for j in 0..<inner { xo[j] = c * xb[j] }
                default: for j in 0..<inner { xo[j] = op.apply(c, xb[j]) }
                }
            } else if io == 1 && ia == 1 && ib == 1 {
                // Row-wise operands (broadcast rows, column slices): the op chosen outside the loop.
                switch op {
                case .add: for j in 0..<inner { xo[j] = xa[j] + xb[j] }
                case .sub: for j in 0..<inner { xo[j] = xa[j] - xb[j] }
                case .mul: for j in 0..<inner { xo[j] = xa[j] * xb[j] }
                case .div: for j in 0..<inner { xo[j] = xa[j] / xb[j] }
                default: for j in 0..<inner { xo[j] = op.apply(xa[j], xb[j]) }
                }
            } else {
                for j in 0..<inner { xo[j &* io] = op.apply(xa[j &* ia], xb[j &* ib]) }
            }
        }
    }
}

/// Element-wise unary functions.
enum UnaryOp {
    case exp, log, tanh, sigmoid, softplus, relu, sqrt, square, abs, log1p, isZero, sign, positive
    /// x·scale + shift (parameters passed separately)
    case affine
    /// clamp to [lo, hi]
    case clamp
    /// 1 where lo <= x <= hi, else 0
    case inRange
    /// x^p
    case pow
}

extension Tensor {
    func unaryRaw(_ op: UnaryOp, _ p0: Double = 0, _ p1: Double = 0) -> Tensor {
        let src = contiguous()
        let out = Tensor(uninitialized: shape, dtype: dtype)
        switch dtype {
        case .float32: unaryKernel(src, out, op, Float(p0), Float(p1))
        case .float64: unaryKernel(src, out, op, p0, p1)
        }
        return out
    }

    /// x·scale + shift.
    public func affine(scale: Double, shift: Double) -> Tensor {
        var out = unaryRaw(.affine, scale, shift)
        out.node = GradNode.make("affine", [self]) { g in [scale == 1 ? g : g.unaryRaw(.affine, scale, 0)] }
        return out
    }

    public func exp() -> Tensor {
        var out = unaryRaw(.exp)
        let y = out.detached
        out.node = GradNode.make("exp", [self]) { g in [g.binaryRaw(y, .mul)] }
        return out
    }

    public func log() -> Tensor {
        var out = unaryRaw(.log)
        let x = detached
        out.node = GradNode.make("log", [self]) { g in [g.binaryRaw(x, .div)] }
        return out
    }

    /// log(1 + x), accurate for small x.
    public func log1p() -> Tensor {
        var out = unaryRaw(.log1p)
        let x = detached
        out.node = GradNode.make("log1p", [self]) { g in [g.binaryRaw(x.unaryRaw(.affine, 1, 1), .div)] }
        return out
    }

    public func tanh() -> Tensor {
        var out = unaryRaw(.tanh)
        let y = out.detached
        out.node = GradNode.make("tanh", [self]) { g in [g.gradKernel(y, .tanhGrad)] }
        return out
    }

    public func sigmoid() -> Tensor {
        var out = unaryRaw(.sigmoid)
        let y = out.detached
        out.node = GradNode.make("sigmoid", [self]) { g in [g.gradKernel(y, .sigmoidGrad)] }
        return out
    }

    /// log(1 + eˣ), computed stably as max(x, 0) + log1p(e^{−|x|}).
    public func softplus() -> Tensor {
        var out = unaryRaw(.softplus)
        let x = detached
        out.node = GradNode.make("softplus", [self]) { g in [g.gradKernel(x, .softplusGrad)] }
        return out
    }

    public func relu() -> Tensor {
        var out = unaryRaw(.relu)
        let x = detached
        out.node = GradNode.make("relu", [self]) { g in [g.gradKernel(x, .reluGrad)] }
        return out
    }

    public func sqrt() -> Tensor {
        var out = unaryRaw(.sqrt)
        let y = out.detached
        out.node = GradNode.make("sqrt", [self]) { g in [g.binaryRaw(y.unaryRaw(.affine, 2, 0), .div)] }
        return out
    }

    public func square() -> Tensor {
        var out = unaryRaw(.square)
        let x = detached
        out.node = GradNode.make("square", [self]) { g in [g.binaryRaw(x.unaryRaw(.affine, 2, 0), .mul)] }
        return out
    }

    /// |x| (subgradient 0 at 0).
    public func abs() -> Tensor {
        var out = unaryRaw(.abs)
        let x = detached
        out.node = GradNode.make("abs", [self]) { g in [g.binaryRaw(x.unaryRaw(.sign), .mul)] }
        return out
    }

    /// xᵖ for a constant exponent (negative x needs an integer p; otherwise NaN).
    public func pow(_ p: Double) -> Tensor {
        var out = unaryRaw(.pow, p)
        let x = detached
        out.node = GradNode.make("pow", [self]) { g in
            [g.binaryRaw(x.unaryRaw(.pow, p - 1).unaryRaw(.affine, p, 0), .mul)]
        }
        return out
    }

    /// Clamps to [lo, hi]; the gradient passes where lo <= x <= hi.
    public func clamped(min lo: Double = -.infinity, max hi: Double = .infinity) -> Tensor {
        var out = unaryRaw(.clamp, lo, hi)
        let x = detached
        out.node = GradNode.make("clamp", [self]) { g in [g.binaryRaw(x.unaryRaw(.inRange, lo, hi), .mul)] }
        return out
    }

    /// 1 where x > 0, else 0 (no gradient).
    public func positiveMask() -> Tensor { unaryRaw(.positive) }
}

func unaryKernel<T: TensorScalar>(_ src: Tensor, _ out: Tensor, _ op: UnaryOp, _ p0: T, _ p1: T) {
    let x = src.pointer(as: T.self), y = out.mutablePointer(as: T.self)
    let cost: Int
    switch op {
    case .affine, .relu, .square, .abs, .isZero, .sign, .clamp, .inRange, .positive: cost = 1
    default: cost = 16
    }
    parallelRanges(out.count, costPerItem: cost) { r in
        switch op {
        case .affine: for i in r { y[i] = x[i] * p0 + p1 }
        case .exp: for i in r { y[i] = T.exp(x[i]) }
        case .log: for i in r { y[i] = T.log(x[i]) }
        case .log1p: for i in r { y[i] = T.log(onePlus: x[i]) }
        case .tanh: for i in r { y[i] = T.tanh(x[i]) }
        case .sigmoid:
            for i in r {
                let v = x[i]
                if v >= 0 { y[i] = 1 / (1 + T.exp(-v)) } else { let e = T.exp(v); y[i] = e / (1 + e) }
            }
        case .softplus:
            for i in r { let v = x[i]; y[i] = Swift.max(v, 0) + T.log(onePlus: T.exp(-Swift.abs(v))) }
        case .relu: for i in r { y[i] = x[i] > 0 ? x[i] : 0 }
        case .sqrt: for i in r { y[i] = x[i].squareRoot() }
        case .square: for i in r { y[i] = x[i] * x[i] }
        case .abs: for i in r { y[i] = Swift.abs(x[i]) }
        case .isZero: for i in r { y[i] = x[i] == 0 ? 1 : 0 }
        case .sign: for i in r { y[i] = x[i] > 0 ? 1 : (x[i] < 0 ? -1 : 0) }
        case .positive: for i in r { y[i] = x[i] > 0 ? 1 : 0 }
        case .clamp: for i in r { y[i] = Swift.min(Swift.max(x[i], p0), p1) }
        case .inRange: for i in r { y[i] = x[i] >= p0 && x[i] <= p1 ? 1 : 0 }
        case .pow:
            // Integer exponents take the integer power: defined for negative bases, x⁰ = 1.
            if let n = Int(exactly: p0) { for i in r { y[i] = T.pow(x[i], n) } }
            else { for i in r { y[i] = T.pow(x[i], p0) } }
        }
    }
}
