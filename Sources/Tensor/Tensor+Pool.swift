extension Tensor {
    /// Max pooling over NCHW windows of `kernel`×`kernel` with `stride` (default = kernel),
    /// no padding. The gradient goes to the first maximal element of each window.
    public func maxPool2d(kernel: Int, stride: Int? = nil) -> Tensor {
        let s = stride ?? kernel
        precondition(rank == 4 && shape[2] >= kernel && shape[3] >= kernel, "maxPool2d(\(kernel)) of \(shape)")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = (h - kernel) / s + 1, wo = (w - kernel) / s + 1
        let x = contiguous().detached
        var out = Tensor(uninitialized: [b, c, ho, wo], dtype: dtype)
        var argmax = [Int32](repeating: 0, count: b * c * ho * wo)
        func run<T: TensorScalar>(_: T.Type) {
            let px = x.pointer(as: T.self), po = out.mutablePointer(as: T.self)
            argmax.withUnsafeMutableBufferPointer { am in
                let amp = am.baseAddress!
                parallelRanges(b * c, costPerItem: h * w) { r in
                    if kernel == 2 && s == 2 {
                        // The common 2×2/2 case: two input rows per output row, no inner window loop.
                        for plane in r {
                            let src = px + plane * h * w
                            let dst = po + plane * ho * wo
                            let am = amp + plane * ho * wo
                            for oh in 0..<ho {
                                let r0 = src + 2 * oh * w, r1 = r0 + w
                                let base0 = Int32(truncatingIfNeeded: 2 * oh * w)
                                let base1 = base0 &+ Int32(truncatingIfNeeded: w)
                                for ow in 0..<wo {
                                    // Branch-free selects: the comparisons are data-dependent and
                                    // mispredict on real images.
                                    let j = 2 * ow, jj = Int32(truncatingIfNeeded: j)
                                    let a = r0[j], b = r0[j + 1], c = r1[j], d = r1[j + 1]
                                    let top = b > a ? b : a, topI = b > a ? base0 &+ jj &+ 1 : base0 &+ jj
                                    let bot = d > c ? d : c, botI = d > c ? base1 &+ jj &+ 1 : base1 &+ jj
                                    dst[oh * wo + ow] = bot > top ? bot : top
                                    am[oh * wo + ow] = bot > top ? botI : topI
                                }
                            }
                        }
                        return
                    }
                    for plane in r {
                        let src = px + plane * h * w
                        for oh in 0..<ho {
                            for ow in 0..<wo {
                                var best = src[oh * s * w + ow * s], bi = oh * s * w + ow * s
                                for ki in 0..<kernel {
                                    for kj in 0..<kernel {
                                        let i = (oh * s + ki) * w + ow * s + kj
                                        if src[i] > best { best = src[i]; bi = i }
                                    }
                                }
                                let o = plane * ho * wo + oh * wo + ow
                                po[o] = best
                                amp[o] = Int32(bi)
                            }
                        }
                    }
                }
            }
        }
        switch dtype { case .float32: run(Float.self); case .float64: run(Double.self) }
        let inShape = shape, dt = dtype, plane = h * w, oplane = ho * wo
        let indices = argmax
        out.node = GradNode.make("maxPool2d", [self]) { g in
            let gc = g.contiguous()
            let dx = Tensor.zeros(inShape, dtype: dt)
            func back<T: TensorScalar>(_: T.Type) {
                let pg = gc.pointer(as: T.self), pd = dx.mutablePointer(as: T.self)
                indices.withUnsafeBufferPointer { ip in
                    parallelRanges(indices.count / Swift.max(oplane, 1), costPerItem: oplane) { r in
                        for pl in r {
                            let d = pd + pl * plane, gp = pg + pl * oplane, ix = ip.baseAddress! + pl * oplane
                            for o in 0..<oplane { d[Int(ix[o])] += gp[o] }
                        }
                    }
                }
            }
            switch dt { case .float32: back(Float.self); case .float64: back(Double.self) }
            return [dx]
        }
        return out
    }

    /// Average pooling over NCHW windows of `kernel`×`kernel` with `stride` (default = kernel).
    public func avgPool2d(kernel: Int, stride: Int? = nil) -> Tensor {
        let s = stride ?? kernel
        precondition(rank == 4, "avgPool2d of \(shape)")
        let c = shape[1]
        // An average pool is a depthwise convolution with a constant kernel; express it as a
        // grouped computation by folding channels into the batch.
        let ones = Tensor.full(1.0 / Double(kernel * kernel), shape: [1, 1, kernel, kernel], dtype: dtype)
        let folded = reshaped([shape[0] * c, 1, shape[2], shape[3]])
        let pooled = folded.conv2d(ones, stride: s)
        return pooled.reshaped([shape[0], c, pooled.shape[2], pooled.shape[3]])
    }

    /// Global average pooling: (B, C, H, W) -> (B, C).
    public func globalAvgPool2d() -> Tensor {
        precondition(rank == 4, "globalAvgPool2d of \(shape)")
        return mean(axes: [2, 3])
    }
}
