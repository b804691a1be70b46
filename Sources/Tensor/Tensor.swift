/// An n-dimensional array of Float32 (or Float64) values with shape and strides,
/// optionally carrying a node of the reverse-mode autodiff graph.
///
/// Tensors are values: operations return new tensors and never change their inputs.
/// Views (`permuted`, `slice`, `transposed`) share storage and only change strides;
/// kernels call `contiguous()` where they need dense row-major memory.
public struct Tensor {
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    public let storage: Storage
    /// The autodiff node that produced this tensor, or nil for constants.
    public internal(set) var node: GradNode?

    public var dtype: DType { storage.dtype }
    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }

    init(storage: Storage, shape: [Int], strides: [Int], offset: Int = 0, node: GradNode? = nil) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.node = node
    }

    /// A new dense tensor with uninitialised contents.
    init(uninitialized shape: [Int], dtype: DType) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let storage = Storage(dtype: dtype, count: shape.reduce(1, *))
        self.init(storage: storage, shape: shape, strides: Tensor.denseStrides(shape))
    }

    /// Row-major strides of a dense tensor of `shape`.
    public static func denseStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= Swift.max(shape[i], 1)
        }
        return s
    }

    /// True when elements are laid out densely in row-major order from `offset`.
    public var isContiguous: Bool {
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != acc { return false }
            acc *= shape[i]
        }
        return true
    }

    // MARK: Creation

    /// A tensor from Float values in row-major order.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor: \(values.count) values for shape \(shape)")
        self.init(uninitialized: shape, dtype: .float32)
        let p = storage.pointer(as: Float.self)
        values.withUnsafeBufferPointer { src in p.update(from: src.baseAddress!, count: values.count) }
    }

    /// A tensor from Double values in row-major order.
    public init(_ values: [Double], shape: [Int], dtype: DType = .float64) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor: \(values.count) values for shape \(shape)")
        self.init(uninitialized: shape, dtype: dtype)
        switch dtype {
        case .float64:
            let p = storage.pointer(as: Double.self)
            for i in 0..<values.count { p[i] = values[i] }
        case .float32:
            let p = storage.pointer(as: Float.self)
            for i in 0..<values.count { p[i] = Float(values[i]) }
        }
    }

    /// A scalar (rank-0) tensor.
    public init(scalar: Double, dtype: DType = .float32) {
        self.init([scalar], shape: [], dtype: dtype)
    }

    /// A tensor filled with `value`.
    public static func full(_ value: Double, shape: [Int], dtype: DType = .float32) -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: dtype)
        switch dtype {
        case .float32: t.storage.pointer(as: Float.self).update(repeating: Float(value), count: t.count)
        case .float64: t.storage.pointer(as: Double.self).update(repeating: value, count: t.count)
        }
        return t
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(0, shape: shape, dtype: dtype) }
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(1, shape: shape, dtype: dtype) }

    /// 0, 1, ..., n-1.
    public static func arange(_ n: Int, dtype: DType = .float32) -> Tensor {
        Tensor((0..<n).map(Double.init), shape: [n], dtype: dtype)
    }

    // MARK: Reading values

    /// All elements in row-major order as Float.
    public var scalars: [Float] {
        let c = contiguous()
        switch c.dtype {
        case .float32:
            return Array(UnsafeBufferPointer(start: c.storage.pointer(as: Float.self) + c.offset, count: c.count))
        case .float64:
            let p = c.storage.pointer(as: Double.self) + c.offset
            return (0..<c.count).map { Float(p[$0]) }
        }
    }

    /// All elements in row-major order as Double.
    public var doubles: [Double] {
        let c = contiguous()
        switch c.dtype {
        case .float32:
            let p = c.storage.pointer(as: Float.self) + c.offset
            return (0..<c.count).map { Double(p[$0]) }
        case .float64:
            return Array(UnsafeBufferPointer(start: c.storage.pointer(as: Double.self) + c.offset, count: c.count))
        }
    }

    /// The single element of a one-element tensor.
    public var item: Double {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements")
        return doubles[0]
    }

    /// The element at a multi-index.
    public subscript(index: Int...) -> Double {
        precondition(index.count == rank, "index \(index) for shape \(shape)")
        var o = offset
        for (i, (ix, n)) in zip(index, shape).enumerated() {
            precondition(ix >= 0 && ix < n, "index \(index) out of range for shape \(shape)")
            o += ix * strides[i]
        }
        switch dtype {
        case .float32: return Double(storage.pointer(as: Float.self)[o])
        case .float64: return storage.pointer(as: Double.self)[o]
        }
    }

    /// Pointer to the first element of a contiguous tensor (read-only use by callers).
    @inline(__always)
    public func withUnsafePointer<T: TensorScalar, R>(as: T.Type, _ body: (UnsafePointer<T>) throws -> R) rethrows -> R {
        precondition(isContiguous, "withUnsafePointer needs a contiguous tensor, shape \(shape) strides \(strides)")
        return try body(storage.pointer(as: T.self) + offset)
    }

    /// Dense pointer for kernels (only on tensors created by the kernel itself).
    @inline(__always)
    func mutablePointer<T: TensorScalar>(as: T.Type) -> UnsafeMutablePointer<T> {
        storage.pointer(as: T.self) + offset
    }

    @inline(__always)
    func pointer<T: TensorScalar>(as: T.Type) -> UnsafePointer<T> {
        UnsafePointer(storage.pointer(as: T.self) + offset)
    }

    /// A dense row-major copy (or self if already dense). Differentiable.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        var out = Tensor(uninitialized: shape, dtype: dtype)
        switch dtype {
        case .float32: stridedCopy(from: self, to: out, Float.self)
        case .float64: stridedCopy(from: self, to: out, Double.self)
        }
        out.node = GradNode.make("contiguous", [self]) { g in [g] }
        return out
    }

    /// The same values with no autodiff history.
    public var detached: Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
    }

    /// A copy converted to `dtype` (differentiable).
    public func cast(to target: DType) -> Tensor {
        if target == dtype { return self }
        let src = contiguous()
        var out = Tensor(uninitialized: shape, dtype: target)
        let n = count
        switch (dtype, target) {
        case (.float32, .float64):
            let s = src.pointer(as: Float.self), d = out.mutablePointer(as: Double.self)
            for i in 0..<n { d[i] = Double(s[i]) }
        case (.float64, .float32):
            let s = src.pointer(as: Double.self), d = out.mutablePointer(as: Float.self)
            for i in 0..<n { d[i] = Float(s[i]) }
        default: break
        }
        let from = dtype
        out.node = GradNode.make("cast", [self]) { g in [g.cast(to: from)] }
        return out
    }

    /// A deep copy with fresh storage (no autodiff history).
    public func copy() -> Tensor {
        let c = contiguous().detached
        let out = Tensor(uninitialized: shape, dtype: dtype)
        out.storage.raw.copyMemory(from: c.storage.raw + c.offset * dtype.byteSize, byteCount: count * dtype.byteSize)
        return out
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = count <= 16 ? doubles.map { "\($0)" }.joined(separator: ", ") : "…"
        return "Tensor(\(dtype), shape: \(shape), [\(values)])"
    }
}

/// Copies an arbitrary strided tensor into a dense one of the same shape.
func stridedCopy<T: TensorScalar>(from src: Tensor, to dst: Tensor, _: T.Type) {
    let (shape, strideLists) = coalesce(src.shape, [src.strides, dst.strides])
    let s = src.storage.pointer(as: T.self) + src.offset
    let d = dst.storage.pointer(as: T.self) + dst.offset
    let ss = strideLists[0]
    // Every destination element is written once, so any split is race-free.
    forEachOuter(shape, splitting: 0) { idx in
        var so = 0, dO = 0
        for (k, i) in idx.enumerated() { so += i * ss[k]; dO += i * strideLists[1][k] }
        let inner = shape.last ?? 1
        let si = ss.last ?? 1, di = strideLists[1].last ?? 1
        var sp = s + so, dp = d + dO
        for _ in 0..<inner { dp.pointee = sp.pointee; sp += si; dp += di }
    }
}

/// Merges adjacent dimensions that are contiguous for every stride list, dropping size-1
/// dimensions, so inner loops run as long as possible. Always returns rank >= 1.
func coalesce(_ shape: [Int], _ strideLists: [[Int]]) -> ([Int], [[Int]]) {
    var outShape: [Int] = []
    var outStrides = [[Int]](repeating: [], count: strideLists.count)
    for d in 0..<shape.count where shape[d] != 1 {
        if let last = outShape.last,
           strideLists.indices.allSatisfy({ outStrides[$0].last! == strideLists[$0][d] * shape[d] }) {
            outShape[outShape.count - 1] = last * shape[d]
            for k in strideLists.indices { outStrides[k][outStrides[k].count - 1] = strideLists[k][d] }
        } else {
            outShape.append(shape[d])
            for k in strideLists.indices { outStrides[k].append(strideLists[k][d]) }
        }
    }
    if outShape.isEmpty { return ([1], strideLists.map { _ in [1] }) }
    return (outShape, outStrides)
}

/// Calls `body` with every index of all dimensions but the last (the inner loop is the caller's).
///
/// With `splitting: d`, the indices are shared out among the engine's threads by ranges of
/// outer dimension `d` when the work (`shape` element count) is large; `body` must then only
/// write memory that is disjoint across different values of index `d`.
func forEachOuter(_ shape: [Int], splitting dim: Int? = nil, _ body: ([Int]) -> Void) {
    let outer = Array(shape.dropLast())
    if outer.reduce(1, *) == 0 || shape.contains(0) { return }
    guard let dim, dim < outer.count, outer[dim] > 1 else {
        forEachOuter(outer, lower: [Int](repeating: 0, count: outer.count), upper: outer, body)
        return
    }
    parallelRanges(outer[dim], costPerItem: shape.reduce(1, *) / outer[dim], minWork: 1 << 16) { r in
        var lo = [Int](repeating: 0, count: outer.count), hi = outer
        lo[dim] = r.lowerBound
        hi[dim] = r.upperBound
        forEachOuter(outer, lower: lo, upper: hi, body)
    }
}

/// Row-major walk over the box lower[k] ..< upper[k] of the outer dimensions.
private func forEachOuter(_ outer: [Int], lower: [Int], upper: [Int], _ body: ([Int]) -> Void) {
    var idx = lower
    if zip(lower, upper).contains(where: { $0 >= $1 }) { return }
    while true {
        body(idx)
        var k = outer.count - 1
        while k >= 0 {
            idx[k] += 1
            if idx[k] < upper[k] { break }
            idx[k] = lower[k]
            k -= 1
        }
        if k < 0 { return }
    }
}
