extension Tensor {
    /// The same elements with a new shape (one dimension may be -1). A view when contiguous.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape \(shape) to \(newShape)")
            target[i] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshape: \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let src = contiguous()
        var out = Tensor(storage: src.storage, shape: target, strides: Tensor.denseStrides(target), offset: src.offset)
        let old = shape
        out.node = GradNode.make("reshape", [src]) { g in [g.reshaped(old)] }
        return out
    }

    /// Flattens all dimensions after the first: (B, ...) -> (B, D).
    public func flattenedBatch() -> Tensor { reshaped([shape[0], -1]) }

    /// A view with dimensions reordered: result dimension i is input dimension `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permute \(axes) of rank-\(rank) tensor")
        var out = Tensor(storage: storage, shape: axes.map { shape[$0] }, strides: axes.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        out.node = GradNode.make("permute", [self]) { g in [g.permuted(inverse)] }
        return out
    }

    /// Matrix transpose of a rank-2 tensor (a view).
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed: rank \(rank)")
        return permuted([1, 0])
    }

    /// A view of `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank && range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) of axis \(axis) in shape \(shape)")
        var newShape = shape
        newShape[ax] = range.count
        var out = Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + range.lowerBound * strides[ax])
        let full = shape, dt = dtype
        out.node = GradNode.make("slice", [self]) { g in
            let z = Tensor.zeros(full, dtype: dt)
            z.assign(g, axis: ax, at: range.lowerBound)
            return [z]
        }
        return out
    }

    /// Writes `src` into this (dense, freshly created) tensor at `start` along `axis`.
    func assign(_ src: Tensor, axis: Int, at start: Int) {
        var newShape = shape
        newShape[axis] = src.shape[axis]
        let view = Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + start * strides[axis])
        precondition(src.shape == newShape, "assign: \(src.shape) into \(newShape)")
        switch dtype {
        case .float32: stridedCopy(from: src, to: view, Float.self)
        case .float64: stridedCopy(from: src, to: view, Double.self)
        }
    }

    /// Concatenation along `axis`.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat of no tensors")
        let r = parts[0].rank
        let ax = axis < 0 ? axis + r : axis
        var outShape = parts[0].shape
        outShape[ax] = 0
        for p in parts {
            precondition(p.rank == r && p.dtype == parts[0].dtype, "concat: \(p.shape) with \(parts[0].shape)")
            for d in 0..<r where d != ax {
                precondition(p.shape[d] == parts[0].shape[d], "concat along \(axis): \(p.shape) vs \(parts[0].shape)")
            }
            outShape[ax] += p.shape[ax]
        }
        var out = Tensor(uninitialized: outShape, dtype: parts[0].dtype)
        var start = 0
        var starts: [Int] = []
        for p in parts {
            out.assign(p, axis: ax, at: start)
            starts.append(start)
            start += p.shape[ax]
        }
        let sizes = parts.map { $0.shape[ax] }
        out.node = GradNode.make("concat", parts) { g in
            zip(starts, sizes).map { s, n in g.slice(axis: ax, s..<(s + n)) }
        }
        return out
    }

    /// Splits along `axis` into pieces of the given sizes (views).
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let ax = axis < 0 ? axis + rank : axis
        precondition(sizes.reduce(0, +) == shape[ax], "split \(sizes) of axis \(axis) in \(shape)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: ax, start..<(start + n))
        }
    }

    /// Splits along `axis` into `parts` equal pieces.
    public func chunked(_ parts: Int, axis: Int) -> [Tensor] {
        let ax = axis < 0 ? axis + rank : axis
        precondition(shape[ax] % parts == 0, "chunk \(shape) into \(parts) along \(axis)")
        return split(axis: ax, sizes: Array(repeating: shape[ax] / parts, count: parts))
    }

    /// A broadcast view with the shape `target` (size-1 dimensions repeated, no copy).
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        var out = Tensor(storage: storage, shape: target, strides: broadcastStrides(to: target), offset: offset)
        let orig = shape
        out.node = GradNode.make("expand", [self]) { g in [g.sumToShape(orig)] }
        return out
    }

    /// 2×2 squeeze: (B, C, H, W) -> (B, 4C, H/2, W/2); output channel 4c + 2·dy + dx holds
    /// pixel (2i + dy, 2j + dx) of input channel c (RealNVP, Dinh et al. 2017 §3.6).
    public func squeezed2x2() -> Tensor {
        precondition(rank == 4 && shape[2] % 2 == 0 && shape[3] % 2 == 0, "squeeze2x2 of \(shape)")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return reshaped([b, c, h / 2, 2, w / 2, 2]).permuted([0, 1, 3, 5, 2, 4])
            .contiguous().reshaped([b, 4 * c, h / 2, w / 2])
    }

    /// Inverse of `squeezed2x2`: (B, 4C, H, W) -> (B, C, 2H, 2W).
    public func unsqueezed2x2() -> Tensor {
        precondition(rank == 4 && shape[1] % 4 == 0, "unsqueeze2x2 of \(shape)")
        let (b, c4, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return reshaped([b, c4 / 4, 2, 2, h, w]).permuted([0, 1, 4, 2, 5, 3])
            .contiguous().reshaped([b, c4 / 4, 2 * h, 2 * w])
    }
}
