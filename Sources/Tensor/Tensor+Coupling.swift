import RealModule

extension Tensor {
    /// Affine coupling on a block of columns of a (B, D) tensor, as one fused operation
    /// (RealNVP, Dinh et al. 2017 §3.3, with a tanh-bounded scale):
    ///
    ///     s = tanh(h[:, ..<m]),  t = h[:, m..<2m]          (m = columns.count)
    ///     y = x, except y[:, columns] = x[:, columns] ⊙ exp(s) + t
    ///     logDet = Σ_j s[:, j]                             (shape (B,))
    ///
    /// Differentiable in x and h. One pass forward and one per output backward, instead of
    /// the slices, copies and concatenation of the composite form:
    ///
    ///     dx = g, except dx[:, columns] = g[:, columns] ⊙ exp(s)
    ///     dh[:, ..<m] = (g[:, columns] ⊙ x[:, columns] ⊙ exp(s) + g_logDet) ⊙ (1 − s²),
    ///     dh[:, m...] = g[:, columns]
    ///
    /// - Parameters:
    ///   - columns: the transformed columns of x; the others pass through unchanged.
    ///   - h: (B, 2m): the raw log-scale, then the shift.
    public func affineCoupled(columns: Range<Int>, by h: Tensor) -> (output: Tensor, logDet: Tensor) {
        precondition(rank == 2 && h.rank == 2 && h.shape[0] == shape[0] && h.shape[1] == 2 * columns.count
                     && columns.lowerBound >= 0 && columns.upperBound <= shape[1],
                     "affineCoupled: x \(shape), columns \(columns), h \(h.shape)")
        precondition(dtype == h.dtype, "affineCoupled: x \(dtype), h \(h.dtype)")
        let (b, d, m, c0) = (shape[0], shape[1], columns.count, columns.lowerBound)
        let x = contiguous().detached, hc = h.contiguous().detached
        var out = Tensor(uninitialized: shape, dtype: dtype)
        var logDet = Tensor(uninitialized: [b], dtype: dtype)
        // s and exp(s), kept for the backward pass.
        let s = Tensor(uninitialized: [b, m], dtype: dtype), es = Tensor(uninitialized: [b, m], dtype: dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let px = x.pointer(as: T.self), ph = hc.pointer(as: T.self), py = out.mutablePointer(as: T.self)
            let ps = s.mutablePointer(as: T.self), pe = es.mutablePointer(as: T.self), pl = logDet.mutablePointer(as: T.self)
            parallelRanges(b, costPerItem: d + 16 * m) { r in
                for i in r {
                    let xr = px + i * d, yr = py + i * d, hr = ph + i * 2 * m, sr = ps + i * m, er = pe + i * m
                    yr.update(from: xr, count: d)
                    for j in 0..<m { let v = T.tanh(hr[j]); sr[j] = v; er[j] = T.exp(v) }
                    let xm = xr + c0, ym = yr + c0, tr = hr + m
                    for j in 0..<m { ym[j] = xm[j] * er[j] + tr[j] }
                    pl[i] = sumOf(UnsafePointer(sr), m)
                }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        let needX = node != nil, needH = h.node != nil, dt = dtype
        out.node = GradNode.make("affineCoupled", [self, h]) { g in
            let gc = g.contiguous()
            let dx: Tensor? = needX ? Tensor(uninitialized: [b, d], dtype: dt) : nil
            let dh: Tensor? = needH ? Tensor(uninitialized: [b, 2 * m], dtype: dt) : nil
            func back<T: TensorScalar>(_: T.Type) {
                let pg = gc.pointer(as: T.self), px = x.pointer(as: T.self)
                let ps = s.pointer(as: T.self), pe = es.pointer(as: T.self)
                let pdx = dx?.mutablePointer(as: T.self), pdh = dh?.mutablePointer(as: T.self)
                parallelRanges(b, costPerItem: d + 4 * m) { r in
                    for i in r {
                        let gr = pg + i * d, gm = gr + c0, xm = px + i * d + c0, sr = ps + i * m, er = pe + i * m
                        if let pdx {
                            let dr = pdx + i * d
                            dr.update(from: gr, count: d)
                            for j in 0..<m { dr[c0 + j] = gm[j] * er[j] }
                        }
                        if let pdh {
                            let hr = pdh + i * 2 * m
                            for j in 0..<m { hr[j] = gm[j] * xm[j] * er[j] * (1 - sr[j] * sr[j]) }
                            (hr + m).update(from: gm, count: m)
                        }
                    }
                }
            }
            switch dt {
            case .float32: back(Float.self)
            case .float64: back(Double.self)
            }
            return [dx, dh]
        }
        logDet.node = GradNode.make("affineCoupledLogDet", [h]) { g in
            let gc = g.contiguous()
            let dh = Tensor(uninitialized: [b, 2 * m], dtype: dt)
            func back<T: TensorScalar>(_: T.Type) {
                let pg = gc.pointer(as: T.self), ps = s.pointer(as: T.self), pdh = dh.mutablePointer(as: T.self)
                parallelRanges(b, costPerItem: 2 * m) { r in
                    for i in r {
                        let hr = pdh + i * 2 * m, sr = ps + i * m, gi = pg[i]
                        for j in 0..<m { hr[j] = gi * (1 - sr[j] * sr[j]) }
                        (hr + m).update(repeating: 0, count: m)
                    }
                }
            }
            switch dt {
            case .float32: back(Float.self)
            case .float64: back(Double.self)
            }
            return [dh]
        }
        return (out, logDet)
    }
}
