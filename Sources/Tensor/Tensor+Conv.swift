/// Geometry of a 2-D convolution over NCHW tensors.
struct ConvGeometry {
    let batch, cin, h, w, cout, kh, kw, stride, padding: Int
    var ho: Int { (h + 2 * padding - kh) / stride + 1 }
    var wo: Int { (w + 2 * padding - kw) / stride + 1 }
    /// Rows of the unfolded input (Cin·kh·kw).
    var k: Int { cin * kh * kw }
    /// Output pixels per image.
    var p: Int { ho * wo }
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == 1 && padding == 0 }
}

extension Tensor {
    /// 2-D cross-correlation, NCHW: input (B, Cin, H, W), weight (Cout, Cin, kh, kw), optional
    /// bias (Cout). Zero padding `padding` on every side. Differentiable in all three.
    ///
    /// Implementation: per image, the input is unfolded (im2col) into a (Cin·kh·kw) × (Ho·Wo)
    /// matrix and multiplied by the weight matrix with a single-threaded GEMM; the batch is
    /// split across the engine's threads. 1×1 convolutions skip the unfolding.
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1],
                     "conv2d: input \(shape), weight \(weight.shape)")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride), padding \(padding)")
        precondition(dtype == weight.dtype, "conv2d: input \(dtype), weight \(weight.dtype)")
        let geo = ConvGeometry(batch: shape[0], cin: shape[1], h: shape[2], w: shape[3],
                               cout: weight.shape[0], kh: weight.shape[2], kw: weight.shape[3],
                               stride: stride, padding: padding)
        precondition(geo.ho > 0 && geo.wo > 0, "conv2d: kernel \(weight.shape) larger than padded input \(shape)")
        let x = contiguous().detached, wt = weight.contiguous().detached
        var out = Tensor(uninitialized: [geo.batch, geo.cout, geo.ho, geo.wo], dtype: dtype)
        if let bias {
            precondition(bias.shape == [geo.cout], "conv2d: bias \(bias.shape) for \(geo.cout) output channels")
            precondition(bias.dtype == dtype, "conv2d: bias \(bias.dtype), input \(dtype)")
        }
        let b = bias?.contiguous().detached
        switch dtype {
        case .float32: convForward(x, wt, b, out, geo, Float.self)
        case .float64: convForward(x, wt, b, out, geo, Double.self)
        }
        let needX = node != nil, needW = weight.node != nil
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        let hasBias = bias != nil
        out.node = GradNode.make("conv2d", inputs) { g in
            let gc = g.contiguous()
            var dx: Tensor? = needX ? Tensor(uninitialized: x.shape, dtype: x.dtype) : nil
            var dw: Tensor? = needW ? Tensor(uninitialized: wt.shape, dtype: wt.dtype) : nil
            switch x.dtype {
            case .float32: convBackward(x, wt, gc, dx, dw, geo, Float.self)
            case .float64: convBackward(x, wt, gc, dx, dw, geo, Double.self)
            }
            var grads: [Tensor?] = [dx, dw]
            if hasBias { grads.append(gc.channelSums()) }
            dx = nil; dw = nil
            return grads
        }
        return out
    }
}

extension Tensor {
    /// Σ over every axis but 1 of a dense (B, C, ...) tensor, shape (C,): the gradient of a
    /// per-channel bias. Each image's run is summed in T, the runs in Double, per channel.
    func channelSums() -> Tensor {
        let l = ChannelLayout(shape, "channelSums")
        let src = contiguous()
        var sums = [Double](repeating: 0, count: l.channels)
        func run<T: TensorScalar>(_: T.Type) {
            let p = src.pointer(as: T.self)
            for b in 0..<l.batch {
                for c in 0..<l.channels { sums[c] += Double(sumOf(p + (b * l.channels + c) * l.inner, l.inner)) }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        return Tensor(sums, shape: [l.channels], dtype: dtype)
    }
}

/// Unfolds output rows `rows` of one image (Cin, H, W) into cols (Cin·kh·kw, rows.count·Wo).
@inline(__always)
func im2col<T: TensorScalar>(_ x: UnsafePointer<T>, _ cols: UnsafeMutablePointer<T>, _ g: ConvGeometry, rows: Range<Int>) {
    let (h, w, wo, s, pad) = (g.h, g.w, g.wo, g.stride, g.padding)
    let width = rows.count * wo
    var row = 0
    for c in 0..<g.cin {
        let src = x + c * h * w
        for ki in 0..<g.kh {
            for kj in 0..<g.kw {
                let dst = cols + row * width
                for oh in rows {
                    let ih = oh * s - pad + ki
                    let d = dst + (oh - rows.lowerBound) * wo
                    if ih < 0 || ih >= h {
                        var ow = 0
                        while ow < wo { d[ow] = 0; ow &+= 1 }
                        continue
                    }
                    let srow = src + ih * w
                    if s == 1 {
                        // iw = ow - pad + kj; valid ow in [lo, hi). Rows are short (W <= 32),
                        // so plain loops beat memcpy/memset calls here.
                        let lo = Swift.min(Swift.max(0, pad - kj), wo), hi = Swift.max(Swift.min(wo, w + pad - kj), lo)
                        var ow = 0
                        while ow < lo { d[ow] = 0; ow &+= 1 }
                        let sp = srow + (kj - pad)
                        while ow < hi { d[ow] = sp[ow]; ow &+= 1 }
                        while ow < wo { d[ow] = 0; ow &+= 1 }
                    } else {
                        for ow in 0..<wo {
                            let iw = ow * s - pad + kj
                            d[ow] = iw >= 0 && iw < w ? srow[iw] : 0
                        }
                    }
                }
                row += 1
            }
        }
    }
}

/// Folds cols (Cin·kh·kw, rows.count·Wo) of output rows `rows` back into one image's
/// gradient (Cin, H, W), accumulating (the caller zeroes dx once per image).
@inline(__always)
func col2im<T: TensorScalar>(_ cols: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ g: ConvGeometry, rows: Range<Int>) {
    let (h, w, wo, s, pad) = (g.h, g.w, g.wo, g.stride, g.padding)
    let width = rows.count * wo
    var row = 0
    for c in 0..<g.cin {
        let dst = dx + c * h * w
        for ki in 0..<g.kh {
            for kj in 0..<g.kw {
                let src = cols + row * width
                for oh in rows {
                    let ih = oh * s - pad + ki
                    if ih < 0 || ih >= h { continue }
                    let drow = dst + ih * w
                    let srow = src + (oh - rows.lowerBound) * wo
                    if s == 1 {
                        let lo = Swift.max(0, pad - kj), hi = Swift.min(wo, w + pad - kj)
                        let dd = drow + (kj - pad)
                        var ow = lo
                        while ow < hi { dd[ow] += srow[ow]; ow &+= 1 }
                    } else {
                        for ow in 0..<wo {
                            let iw = ow * s - pad + kj
                            if iw >= 0 && iw < w { drow[iw] += srow[ow] }
                        }
                    }
                }
                row += 1
            }
        }
    }
}

extension ConvGeometry {
    /// Output-row bands whose unfolded columns fit comfortably in a core's L2 cache
    /// (about 256 KiB of Float), so GEMM packing reads them from cache, not memory.
    func bands(elementSize: Int) -> [Range<Int>] {
        let bytesPerRow = Swift.max(k * wo * elementSize, 1)
        let rowsPer = Swift.max(1, Swift.min(ho, (256 << 10) / bytesPerRow))
        return Swift.stride(from: 0, to: ho, by: rowsPer).map { $0..<Swift.min(ho, $0 + rowsPer) }
    }
}

/// Per-thread scratch memory from the buffer pool, returned when `body` ends.
@inline(__always)
func withScratch<T: TensorScalar, R>(_ count: Int, _: T.Type, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
    let bytes = Swift.max(count * MemoryLayout<T>.stride, 1)
    let raw = BufferPool.shared.take(byteCount: bytes)
    defer { BufferPool.shared.give(raw, byteCount: bytes) }
    return body(raw.bindMemory(to: T.self, capacity: Swift.max(count, 1)))
}

/// Splits the batch into at most `Engine.threads` contiguous ranges.
func batchRanges(_ n: Int) -> [Range<Int>] {
    let parts = Swift.max(1, Swift.min(Engine.threads, n))
    return (0..<parts).map { p in (n * p / parts)..<(n * (p + 1) / parts) }
}

func convForward<T: TensorScalar>(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ out: Tensor, _ g: ConvGeometry, _: T.Type) {
    let px = x.pointer(as: T.self), pw = w.pointer(as: T.self), po = out.mutablePointer(as: T.self)
    let pb = bias?.pointer(as: T.self)
    let inSize = g.cin * g.h * g.w, outSize = g.cout * g.p
    let ranges = batchRanges(g.batch)
    // Weights regrouped per kernel tap, (kh·kw, Cout, Cin), for the shifted-GEMM path, or
    // transformed for Winograd's F(2×2, 3×3), (16, Cout, Cin).
    let taps: [T] = g.usesWinograd ? winogradWeights(pw, cout: g.cout, cin: g.cin, flipped: false)
        : g.usesShiftedGEMM ? tapMajorWeights(pw, g) : []
    /// Starts C at the bias (GEMM then accumulates with beta = 1), saving a separate pass.
    @inline(__always) func initOutput(_ c: UnsafeMutablePointer<T>) -> T {
        guard let pb else { return 0 }
        for o in 0..<g.cout {
            let row = c + o * g.p, v = pb[o]
            for j in 0..<g.p { row[j] = v }
        }
        return 1
    }
    parallelChunks(ranges.count) { t in
        let r = ranges[t]
        if g.isPointwise {
            for b in r {
                let beta = initOutput(po + b * outSize)
                T.gemm(transA: false, transB: false, m: g.cout, n: g.p, k: g.k, alpha: 1, a: pw, lda: g.k,
                       b: px + b * inSize, ldb: g.p, beta: beta, c: po + b * outSize, ldc: g.p)
            }
            return
        }
        if g.usesWinograd {
            taps.withUnsafeBufferPointer { winogradConvForward(px, u: $0.baseAddress!, bias: pb, po, g, images: r) }
            return
        }
        if g.usesShiftedGEMM {
            taps.withUnsafeBufferPointer { shiftedConvForward(px, taps: $0.baseAddress!, bias: pb, po, g, images: r) }
            return
        }
        let bands = g.bands(elementSize: MemoryLayout<T>.stride)
        withScratch(g.k * bands[0].count * g.wo, T.self) { cols in
            for b in r {
                let beta = initOutput(po + b * outSize)
                for band in bands {
                    let n = band.count * g.wo, col0 = band.lowerBound * g.wo
                    im2col(px + b * inSize, cols, g, rows: band)
                    T.gemm(transA: false, transB: false, m: g.cout, n: n, k: g.k, alpha: 1, a: pw, lda: g.k,
                           b: cols, ldb: n, beta: beta, c: po + b * outSize + col0, ldc: g.p)
                }
            }
        }
    }
}

extension ConvGeometry {
    /// Same stride-1 convolutions with enough input channels skip im2col (see
    /// `shiftedConvForward`); so does their backward pass.
    var usesShiftedGEMM: Bool { isSameStride1 && cin >= 8 }
}

func convBackward<T: TensorScalar>(_ x: Tensor, _ w: Tensor, _ gy: Tensor, _ dx: Tensor?, _ dw: Tensor?,
                                   _ g: ConvGeometry, _: T.Type) {
    let px = x.pointer(as: T.self), pw = w.pointer(as: T.self), pg = gy.pointer(as: T.self)
    let inSize = g.cin * g.h * g.w, outSize = g.cout * g.p
    let wSize = g.cout * g.k
    let ranges = batchRanges(g.batch)
    let pdx = dx?.mutablePointer(as: T.self)
    if g.usesWinograd {
        // Per-thread dU partials (16, Cout, Cin), summed in a fixed order, then dW = Gᵀ dU G.
        let uSize = 16 * g.cout * g.cin
        let flipped: [T] = dx != nil ? winogradWeights(pw, cout: g.cout, cin: g.cin, flipped: true) : []
        withScratch(dw == nil ? 0 : uSize * ranges.count, T.self) { partials in
            flipped.withUnsafeBufferPointer { fb in
                parallelChunks(ranges.count) { t in
                    let du: UnsafeMutablePointer<T>? = dw == nil ? nil : partials + t * uSize
                    du?.update(repeating: 0, count: uSize)
                    winogradConvBackward(px, pg, uFlipped: fb.isEmpty ? nil : fb.baseAddress!, du: du, pdx, g,
                                         images: ranges[t])
                }
            }
            guard let dw else { return }
            for t in 1..<Swift.max(ranges.count, 1) {
                let p = partials + t * uSize
                for i in 0..<uSize { partials[i] += p[i] }
            }
            winogradWeightGradient(partials, cout: g.cout, cin: g.cin, into: dw.mutablePointer(as: T.self))
        }
        return
    }
    if g.isSameStride1 && g.cin >= 8 {
        // Per-thread tap-major (taps, Cout, Cin) weight-gradient partials, summed in a fixed
        // order (deterministic for a given thread count), then regrouped to (Cout, Cin, kh, kw).
        let dxWeights: [T] = dx != nil ? inputGradientWeights(pw, g) : []
        withScratch(dw == nil ? 0 : wSize * ranges.count, T.self) { partials in
            dxWeights.withUnsafeBufferPointer { wb in
                parallelChunks(ranges.count) { t in
                    let dwT: UnsafeMutablePointer<T>? = dw == nil ? nil : partials + t * wSize
                    dwT?.update(repeating: 0, count: wSize)
                    shiftedConvBackward(px, dxWeights: wb.isEmpty ? nil : wb.baseAddress!, pg, dwTaps: dwT,
                                        pdx, g, images: ranges[t])
                }
            }
            guard let dw else { return }
            for t in 1..<Swift.max(ranges.count, 1) {
                let p = partials + t * wSize
                for i in 0..<wSize { partials[i] += p[i] }
            }
            let d = dw.mutablePointer(as: T.self), taps = g.kh * g.kw
            for tap in 0..<taps { for o in 0..<g.cout { for c in 0..<g.cin {
                d[(o * g.cin + c) * taps + tap] = partials[(tap * g.cout + o) * g.cin + c]
            } } }
        }
        return
    }
    // Per-thread weight-gradient partials, summed in a fixed order (deterministic).
    withScratch(dw == nil ? 0 : wSize * ranges.count, T.self) { partials in
        parallelChunks(ranges.count) { t in
            let r = ranges[t]
            let dwT = partials + t * wSize
            if dw != nil { dwT.update(repeating: 0, count: wSize) }
            let bands = g.bands(elementSize: MemoryLayout<T>.stride)
            withScratch(g.isPointwise ? 0 : g.k * bands[0].count * g.wo, T.self) { cols in
                for b in r {
                    let gb = pg + b * outSize
                    if g.isPointwise {
                        // dW += gY_b (Cout×P) · X_bᵀ (P×Cin);  dX_b = Wᵀ (Cin×Cout) · gY_b
                        if dw != nil {
                            T.gemm(transA: false, transB: true, m: g.cout, n: g.k, k: g.p, alpha: 1, a: gb, lda: g.p,
                                   b: px + b * inSize, ldb: g.p, beta: 1, c: dwT, ldc: g.k)
                        }
                        if let pdx {
                            T.gemm(transA: true, transB: false, m: g.k, n: g.p, k: g.cout, alpha: 1, a: pw, lda: g.k,
                                   b: gb, ldb: g.p, beta: 0, c: pdx + b * inSize, ldc: g.p)
                        }
                        continue
                    }
                    if let pdx { (pdx + b * inSize).update(repeating: 0, count: inSize) }
                    for band in bands {
                        let n = band.count * g.wo, gband = gb + band.lowerBound * g.wo
                        if dw != nil {
                            // dW += gY_b[:, band] (Cout×n) · cols_bandᵀ (n×K)
                            im2col(px + b * inSize, cols, g, rows: band)
                            T.gemm(transA: false, transB: true, m: g.cout, n: g.k, k: n, alpha: 1, a: gband, lda: g.p,
                                   b: cols, ldb: n, beta: 1, c: dwT, ldc: g.k)
                        }
                        if let pdx {
                            // dcols = Wᵀ (K×Cout) · gY_b[:, band] (Cout×n), then fold back.
                            T.gemm(transA: true, transB: false, m: g.k, n: n, k: g.cout, alpha: 1, a: pw, lda: g.k,
                                   b: gband, ldb: g.p, beta: 0, c: cols, ldc: n)
                            col2im(cols, pdx + b * inSize, g, rows: band)
                        }
                    }
                }
            }
        }
        if let dw {
            let d = dw.mutablePointer(as: T.self)
            d.update(from: partials, count: wSize)
            for t in 1..<Swift.max(ranges.count, 1) {
                let p = partials + t * wSize
                for i in 0..<wSize { d[i] += p[i] }
            }
        }
    }
}
