import RealModule

extension Tensor {
    func normalizedAxes(_ axes: [Int]) -> [Int] {
        let ax = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        precondition(ax.allSatisfy { $0 >= 0 && $0 < rank }, "axes \(axes) for shape \(shape)")
        return ax.sorted()
    }

    /// Sum over `axes` (all axes when nil). Differentiable.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = axes.map(normalizedAxes) ?? Array(0..<rank)
        let kept = shapeKeeping(ax)
        var out = sumRaw(ax).reshaped(keepDims ? kept : kept.enumerated().filter { !ax.contains($0.offset) }.map(\.element))
        let inShape = shape
        out.node = GradNode.make("sum", [self]) { g in [g.reshaped(kept).expanded(to: inShape)] }
        return out
    }

    /// Mean over `axes` (all axes when nil). Differentiable.
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = axes.map(normalizedAxes) ?? Array(0..<rank)
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: ax, keepDims: keepDims) * (1.0 / Double(Swift.max(n, 1)))
    }

    /// Population variance over `axes`.
    public func variance(axes: [Int], keepDims: Bool = false) -> Tensor {
        let m = mean(axes: axes, keepDims: true)
        return (self - m).square().mean(axes: axes, keepDims: keepDims)
    }

    func shapeKeeping(_ ax: [Int]) -> [Int] {
        var s = shape
        for a in ax { s[a] = 1 }
        return s
    }

    /// Sum over sorted axes without autodiff; result has the keepDims shape.
    func sumRaw(_ ax: [Int]) -> Tensor {
        let kept = shapeKeeping(ax)
        if ax.isEmpty { return contiguous().detached.copy() }
        let out = Tensor(uninitialized: kept, dtype: dtype)
        let reducedCount = ax.reduce(1) { $0 * shape[$1] }
        let keptCount = out.count
        let isTrailing = ax == Array((rank - ax.count)..<rank)
        let isLeading = ax == Array(0..<ax.count)
        let src: Tensor
        let mode: Int  // 0: rows (reduce contiguous trailing block), 1: columns (reduce leading)
        if isTrailing { src = contiguous(); mode = 0 }
        else if isLeading { src = contiguous(); mode = 1 }
        else {
            // Interleaved kept and reduced axes (e.g. a bias gradient over [0, 2, 3]):
            // accumulate in place without permuting a copy.
            switch dtype {
            case .float32: reduceSumStrided(self, out, Float.self)
            case .float64: reduceSumStrided(self, out, Double.self)
            }
            return out
        }
        switch dtype {
        case .float32: reduceSumKernel(src, out, rows: keptCount, reduce: reducedCount, columns: mode == 1, Float.self)
        case .float64: reduceSumKernel(src, out, rows: keptCount, reduce: reducedCount, columns: mode == 1, Double.self)
        }
        return out
    }

    /// Maximum over one axis; the gradient goes to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (values, indices) = maxWithIndices(axis: axis)
        let ax = axis < 0 ? axis + rank : axis
        var kept = shape
        kept[ax] = 1
        var out = keepDims ? values.reshaped(kept) : values.reshaped(kept.enumerated().filter { $0.offset != ax }.map(\.element))
        out = out.detached
        let inShape = shape, dt = dtype
        out.node = GradNode.make("max", [self]) { g in
            [Tensor.scatterAlongLastAxis(g.contiguous(), indices, axis: ax, shape: inShape, dtype: dt)]
        }
        return out
    }

    /// Maximum values (keepDims shape with the axis removed) and their first indices along `axis`.
    public func maxWithIndices(axis: Int) -> (Tensor, [Int]) {
        let ax = axis < 0 ? axis + rank : axis
        var order = (0..<rank).filter { $0 != ax }
        order.append(ax)
        let src = detached.permuted(order).contiguous()
        let n = shape[ax]
        let rows = count / Swift.max(n, 1)
        var outShape = shape
        outShape.remove(at: ax)
        let out = Tensor(uninitialized: outShape, dtype: dtype)
        var idx = [Int](repeating: 0, count: rows)
        func run<T: TensorScalar>(_: T.Type) {
            let x = src.pointer(as: T.self), y = out.mutablePointer(as: T.self)
            for r in 0..<rows {
                var best = x[r * n], bi = 0
                for j in 1..<Swift.max(n, 1) where x[r * n + j] > best || (x[r * n + j].isNaN && !best.isNaN) {
                    best = x[r * n + j]; bi = j
                }
                y[r] = best
                idx[r] = bi
            }
        }
        switch dtype { case .float32: run(Float.self); case .float64: run(Double.self) }
        return (out, idx)
    }

    /// Gradient of a max along `axis`: places g (rows in permuted order) at the argmax.
    static func scatterAlongLastAxis(_ g: Tensor, _ indices: [Int], axis ax: Int, shape: [Int], dtype: DType) -> Tensor {
        let rank = shape.count
        var order = (0..<rank).filter { $0 != ax }
        order.append(ax)
        let permShape = order.map { shape[$0] }
        let n = shape[ax]
        let z = Tensor.zeros(permShape, dtype: dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let gp = g.pointer(as: T.self), zp = z.mutablePointer(as: T.self)
            for r in 0..<indices.count { zp[r * n + indices[r]] = gp[r] }
        }
        switch dtype { case .float32: run(Float.self); case .float64: run(Double.self) }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in order.enumerated() { inverse[a] = i }
        return z.permuted(inverse).contiguous()
    }

    /// log Σ exp over `axis`, computed stably. Differentiable.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let m = max(axis: axis, keepDims: true).detached
        let s = (self - m).exp().sum(axes: [axis], keepDims: true).log() + m
        if keepDims { return s }
        let ax = axis < 0 ? axis + rank : axis
        return s.reshaped(s.shape.enumerated().filter { $0.offset != ax }.map(\.element))
    }

    /// log softmax over `axis`. Differentiable.
    public func logSoftmax(axis: Int) -> Tensor {
        self - logSumExp(axis: axis, keepDims: true)
    }

    /// softmax over `axis`. Differentiable.
    public func softmax(axis: Int) -> Tensor { logSoftmax(axis: axis).exp() }
}

func reduceSumKernel<T: TensorScalar>(_ src: Tensor, _ out: Tensor, rows: Int, reduce: Int, columns: Bool, _: T.Type) {
    let x = src.pointer(as: T.self), y = out.mutablePointer(as: T.self)
    if !columns {
        parallelRanges(rows, costPerItem: reduce) { r in
            for i in r {
                let p = x + i * reduce
                var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0
                var j = 0
                while j + 4 <= reduce { a0 += p[j]; a1 += p[j + 1]; a2 += p[j + 2]; a3 += p[j + 3]; j += 4 }
                while j < reduce { a0 += p[j]; j += 1 }
                y[i] = (a0 + a1) + (a2 + a3)
            }
        }
    } else {
        // src is (reduce, rows): sum the rows of a matrix column-wise.
        parallelRanges(rows, costPerItem: reduce) { r in
            for j in r { y[j] = 0 }
            for i in 0..<reduce {
                let p = x + i * rows
                for j in r { y[j] += p[j] }
            }
        }
    }
}

/// Sum of `src` into `out` (keepDims shape), for any pattern of reduced axes: walks the input in
/// memory order, with the output strides of reduced axes set to 0.
func reduceSumStrided<T: TensorScalar>(_ src: Tensor, _ out: Tensor, _: T.Type) {
    var outStrides = out.strides
    for d in 0..<src.rank where out.shape[d] == 1 { outStrides[d] = 0 }
    let (shape, st) = coalesce(src.shape, [src.strides, outStrides])
    let x = src.storage.pointer(as: T.self) + src.offset
    let y = out.mutablePointer(as: T.self)
    y.update(repeating: 0, count: out.count)
    let inner = shape[shape.count - 1]
    let si = st[0][shape.count - 1], so = st[1][shape.count - 1]
    // Split over the first outer dimension that indexes distinct outputs (no write races).
    let split = (0..<(shape.count - 1)).first { st[1][$0] != 0 }
    forEachOuter(shape, splitting: split) { idx in
        var xo = 0, yo = 0
        for (k, i) in idx.enumerated() { xo += i * st[0][k]; yo += i * st[1][k] }
        let xp = x + xo, yp = y + yo
        if so == 0 {
            var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0
            var j = 0
            if si == 1 {
                while j + 4 <= inner { a0 += xp[j]; a1 += xp[j + 1]; a2 += xp[j + 2]; a3 += xp[j + 3]; j += 4 }
            }
            while j < inner { a0 += xp[j * si]; j += 1 }
            yp.pointee += (a0 + a1) + (a2 + a3)
        } else {
            for j in 0..<inner { yp[j * so] += xp[j * si] }
        }
    }
}
