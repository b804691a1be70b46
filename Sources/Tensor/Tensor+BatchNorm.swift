import RealModule

/// The layout batch normalisation sees: (B, C, inner) with inner = H·W (1 for (B, C) input).
struct ChannelLayout {
    let batch, channels, inner: Int
    /// Elements per channel, B·inner.
    var count: Int { batch * inner }

    init(_ shape: [Int], _ op: String) {
        precondition(shape.count >= 2, "\(op): needs (B, C, ...), got \(shape)")
        batch = shape[0]
        channels = shape[1]
        inner = shape.dropFirst(2).reduce(1, *)
    }
}

extension Tensor {
    /// Batch normalisation over axis 1 with this batch's statistics (training mode), optionally
    /// followed by relu, as one fused operation (Ioffe & Szegedy 2015, Algorithm 1):
    ///
    ///     μ_c = mean of x over every axis but 1,  σ²_c = population variance,
    ///     x̂ = (x − μ_c) / √(σ²_c + ε),  y = γ_c·x̂ + β_c,  then max(y, 0) when `relu`.
    ///
    /// Differentiable in x, γ and β, with the batch statistics differentiated too:
    ///
    ///     dβ = Σ g',  dγ = Σ g'·x̂,  dx = γ/√(σ² + ε) · (g' − dβ/N − x̂·dγ/N)
    ///
    /// (g' the incoming gradient masked by y > 0 when `relu`, N = elements per channel). Two
    /// passes over x forward (statistics, then output) and two backward, instead of the dozen
    /// element-wise passes of the composite form. Statistics per channel are exact in their
    /// order of summation: partial sums per image row, then in Double.
    ///
    /// - Parameters:
    ///   - gamma: γ, shape (C,).
    ///   - beta: β, shape (C,).
    ///   - eps: ε.
    ///   - relu: apply max(·, 0) to the output.
    /// - Returns: the output and the batch mean and population variance, shape (C,), as
    ///   constants (for running statistics).
    public func batchNormalized(gamma: Tensor, beta: Tensor, eps: Double, relu: Bool = false)
        -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let layout = ChannelLayout(shape, "batchNormalized")
        checkNormParameters(gamma, beta, layout)
        let x = contiguous().detached
        var out = Tensor(uninitialized: shape, dtype: dtype)
        let mean = Tensor(uninitialized: [layout.channels], dtype: dtype)
        let variance = Tensor(uninitialized: [layout.channels], dtype: dtype)
        // Per channel in Double: mean, 1/√(σ² + ε).
        var mu = [Double](repeating: 0, count: layout.channels), rstd = mu
        let gd = gamma.detached.contiguous(), bd = beta.detached.contiguous()
        var vars = mu
        func run<T: TensorScalar>(_: T.Type) {
            let pm = mean.mutablePointer(as: T.self), pv = variance.mutablePointer(as: T.self)
            mu.withUnsafeMutableBufferPointer { mub in
                vars.withUnsafeMutableBufferPointer { vb in
                    rstd.withUnsafeMutableBufferPointer { rsb in
                        normalizeWithBatchStatistics(x.pointer(as: T.self), out.mutablePointer(as: T.self), layout,
                                                     gamma: gd.pointer(as: T.self), beta: bd.pointer(as: T.self),
                                                     eps: eps, relu: relu, mean: mub.baseAddress!,
                                                     variance: vb.baseAddress!, rstd: rsb.baseAddress!)
                    }
                }
            }
            for c in 0..<layout.channels { pm[c] = T(mu[c]); pv[c] = T(vars[c]) }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        recordBatchNormGradient(on: &out, x: x, gamma: gamma, beta: beta, gammaValues: gd, layout: layout,
                                mean: mu, rstd: rstd, relu: relu, batchStatistics: true)
        return (out, mean, variance)
    }

    /// Batch normalisation over axis 1 with given statistics (evaluation mode), optionally
    /// followed by relu: y = γ_c·(x − μ_c)/√(σ²_c + ε) + β_c, then max(y, 0) when `relu`.
    /// One pass. Differentiable in x, γ and β; `mean` and `variance` are constants.
    ///
    /// - Parameters:
    ///   - gamma: γ, shape (C,).
    ///   - beta: β, shape (C,).
    ///   - mean: μ, shape (C,).
    ///   - variance: σ², shape (C,).
    ///   - eps: ε.
    ///   - relu: apply max(·, 0) to the output.
    public func batchNormalized(gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, eps: Double,
                                relu: Bool = false) -> Tensor {
        let layout = ChannelLayout(shape, "batchNormalized")
        checkNormParameters(gamma, beta, layout)
        precondition(mean.shape == [layout.channels] && variance.shape == [layout.channels],
                     "batchNormalized: mean \(mean.shape), variance \(variance.shape) for \(layout.channels) channels")
        let x = contiguous().detached
        var out = Tensor(uninitialized: shape, dtype: dtype)
        let mu = mean.doubles
        let rstd = variance.doubles.map { 1 / ($0 + eps).squareRoot() }
        let gd = gamma.detached.contiguous(), bd = beta.detached.contiguous()
        let gv = gd.doubles, bv = bd.doubles
        func run<T: TensorScalar>(_: T.Type) {
            normalizeChannels(x.pointer(as: T.self), out.mutablePointer(as: T.self), layout, relu: relu) { c in
                let scale = gv[c] * rstd[c]
                return (T(scale), T(bv[c] - mu[c] * scale))
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        recordBatchNormGradient(on: &out, x: x, gamma: gamma, beta: beta, gammaValues: gd, layout: layout,
                                mean: mu, rstd: rstd, relu: relu, batchStatistics: false)
        return out
    }

    /// Attaches the fused op's vector-Jacobian product to `out` (both modes share it; with batch
    /// statistics the gradient flows through μ and σ² too).
    private func recordBatchNormGradient(on out: inout Tensor, x: Tensor, gamma: Tensor, beta: Tensor,
                                         gammaValues gd: Tensor, layout: ChannelLayout, mean mu: [Double],
                                         rstd: [Double], relu: Bool, batchStatistics: Bool) {
        let y = out.detached
        let needX = node != nil, needGamma = gamma.node != nil, needBeta = beta.node != nil
        out.node = GradNode.make("batchNorm", [self, gamma, beta]) { g in
            let grads = batchNormBackward(g.contiguous(), x: x, y: relu ? y : nil, gamma: gd, layout: layout,
                                          mean: mu, rstd: rstd, batchStatistics: batchStatistics,
                                          needX: needX, needGamma: needGamma, needBeta: needBeta)
            return [grads.dx, grads.dgamma, grads.dbeta]
        }
    }

    private func checkNormParameters(_ gamma: Tensor, _ beta: Tensor, _ layout: ChannelLayout) {
        precondition(gamma.shape == [layout.channels] && beta.shape == [layout.channels],
                     "batchNormalized: γ \(gamma.shape), β \(beta.shape) for input \(shape)")
        precondition(gamma.dtype == dtype && beta.dtype == dtype,
                     "batchNormalized: γ \(gamma.dtype), β \(beta.dtype), input \(dtype)")
    }
}

/// Sum of n contiguous values with eight independent accumulators (vectorisable).
@inline(__always)
func sumOf<T: TensorScalar>(_ p: UnsafePointer<T>, _ n: Int) -> T {
    var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0, a4: T = 0, a5: T = 0, a6: T = 0, a7: T = 0
    var j = 0
    while j &+ 8 <= n {
        a0 += p[j]; a1 += p[j &+ 1]; a2 += p[j &+ 2]; a3 += p[j &+ 3]
        a4 += p[j &+ 4]; a5 += p[j &+ 5]; a6 += p[j &+ 6]; a7 += p[j &+ 7]
        j &+= 8
    }
    while j < n { a0 += p[j]; j &+= 1 }
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
}

/// Σ (p[j] − m)² over n contiguous values, eight accumulators.
@inline(__always)
func sumOfSquaredDeviations<T: TensorScalar>(_ p: UnsafePointer<T>, _ n: Int, from m: T) -> T {
    var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0, a4: T = 0, a5: T = 0, a6: T = 0, a7: T = 0
    var j = 0
    while j &+ 8 <= n {
        let d0 = p[j] - m, d1 = p[j &+ 1] - m, d2 = p[j &+ 2] - m, d3 = p[j &+ 3] - m
        let d4 = p[j &+ 4] - m, d5 = p[j &+ 5] - m, d6 = p[j &+ 6] - m, d7 = p[j &+ 7] - m
        a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3
        a4 += d4 * d4; a5 += d5 * d5; a6 += d6 * d6; a7 += d7 * d7
        j &+= 8
    }
    while j < n { let d = p[j] - m; a0 += d * d; j &+= 1 }
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
}

/// Training-mode batch normalisation, channel by channel: the channel's mean (one pass), its
/// population variance (a second pass, over squared deviations), then y = x·a + s (and relu),
/// a = γr, s = β − μ·a, r = 1/√(σ² + ε). The three passes over one channel follow each other,
/// so the second and third read it from cache (a channel of 64 images of 28×28 is 200 KB).
/// Each image's run is summed in T, the runs accumulated in Double; channels are shared out
/// among the engine's threads, each summed by one thread in a fixed order.
func normalizeWithBatchStatistics<T: TensorScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ l: ChannelLayout,
    gamma: UnsafePointer<T>, beta: UnsafePointer<T>, eps: Double, relu: Bool,
    mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>, rstd: UnsafeMutablePointer<Double>
) {
    let n = Double(Swift.max(l.count, 1)), stride = l.channels * l.inner
    if l.inner == 1 {
        // (B, C): columns of a matrix; accumulate rows in Double.
        for c in 0..<l.channels { mean[c] = 0; variance[c] = 0 }
        for b in 0..<l.batch { let row = x + b * stride; for c in 0..<l.channels { mean[c] += Double(row[c]) } }
        for c in 0..<l.channels { mean[c] /= n }
        for b in 0..<l.batch {
            let row = x + b * stride
            for c in 0..<l.channels { let d = Double(row[c]) - mean[c]; variance[c] += d * d }
        }
        for c in 0..<l.channels { variance[c] /= n; rstd[c] = 1 / (variance[c] + eps).squareRoot() }
        normalizeChannels(x, y, l, relu: relu) { c in
            let a = Double(gamma[c]) * rstd[c]
            return (T(a), T(Double(beta[c]) - mean[c] * a))
        }
        return
    }
    parallelRanges(l.channels, costPerItem: 3 * l.count) { r in
        for c in r {
            var s = 0.0
            for b in 0..<l.batch { s += Double(sumOf(x + b * stride + c * l.inner, l.inner)) }
            let m = s / n
            var v = 0.0
            let mt = T(m)
            for b in 0..<l.batch { v += Double(sumOfSquaredDeviations(x + b * stride + c * l.inner, l.inner, from: mt)) }
            // Σ(x − m̃)²/N = σ² + (m − m̃)² with m̃ = T(m) the rounded mean.
            let dm = m - Double(mt)
            let variance_ = Swift.max(0, v / n - dm * dm)
            let rs = 1 / (variance_ + eps).squareRoot()
            mean[c] = m; variance[c] = variance_; rstd[c] = rs
            let a = Double(gamma[c]) * rs
            let scale = T(a), shift = T(Double(beta[c]) - m * a)
            for b in 0..<l.batch {
                let o = b * stride + c * l.inner
                let xs = x + o, ys = y + o
                var j = 0
                if relu {
                    while j < l.inner { let v = xs[j] * scale + shift; ys[j] = v > 0 ? v : 0; j &+= 1 }
                } else {
                    while j < l.inner { ys[j] = xs[j] * scale + shift; j &+= 1 }
                }
            }
        }
    }
}

/// y = x·scale_c + shift_c (then max(·, 0) when `relu`), with (scale_c, shift_c) = coefficients(c).
func normalizeChannels<T: TensorScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ l: ChannelLayout,
                                        relu: Bool, _ coefficients: (Int) -> (T, T)) {
    let stride = l.channels * l.inner
    let coef = (0..<l.channels).map(coefficients)
    coef.withUnsafeBufferPointer { cp in
        let k = cp.baseAddress!
        if l.inner == 1 {
            parallelRanges(l.batch, costPerItem: l.channels) { r in
                for b in r {
                    let xs = x + b * stride, ys = y + b * stride
                    for c in 0..<l.channels {
                        let v = xs[c] * k[c].0 + k[c].1
                        ys[c] = relu && !(v > 0) ? 0 : v
                    }
                }
            }
            return
        }
        parallelRanges(l.batch * l.channels, costPerItem: l.inner) { r in
            for row in r {
                let c = row % l.channels
                let (a, s) = k[c]
                let xs = x + row * l.inner, ys = y + row * l.inner
                var j = 0
                if relu {
                    while j < l.inner { let v = xs[j] * a + s; ys[j] = v > 0 ? v : 0; j &+= 1 }
                } else {
                    while j < l.inner { ys[j] = xs[j] * a + s; j &+= 1 }
                }
            }
        }
    }
}

/// Gradients of batch normalisation (see `Tensor.batchNormalized`). With batch statistics,
/// dx = a·g' + b·(x − μ) + c0 per channel with a = γr, b = −γr³·Σg'(x − μ)/N, c0 = −γr·Σg'/N
/// (r = 1/√(σ² + ε)); with fixed statistics, dx = γr·g'. `y` (the relu output) masks g.
/// Channel by channel: the sums (one pass over g, y, x), then dx (a second pass, from cache).
func batchNormBackward(_ g: Tensor, x: Tensor, y: Tensor?, gamma: Tensor, layout l: ChannelLayout,
                       mean: [Double], rstd: [Double], batchStatistics: Bool,
                       needX: Bool, needGamma: Bool, needBeta: Bool) -> (dx: Tensor?, dgamma: Tensor?, dbeta: Tensor?) {
    let dtype = x.dtype
    let dx: Tensor? = needX ? Tensor(uninitialized: x.shape, dtype: dtype) : nil
    var sumG = [Double](repeating: 0, count: l.channels), sumGX = sumG
    let needSums = needGamma || needBeta || (needX && batchStatistics)
    let n = Double(Swift.max(l.count, 1))
    func run<T: TensorScalar>(_: T.Type) {
        let pg = g.pointer(as: T.self), px = x.pointer(as: T.self)
        let py = y?.pointer(as: T.self)
        let gam = gamma.pointer(as: T.self)
        let pd = dx?.mutablePointer(as: T.self)
        let stride = l.channels * l.inner
        sumG.withUnsafeMutableBufferPointer { sgb in
            sumGX.withUnsafeMutableBufferPointer { sxb in
                let sg = sgb.baseAddress!, sx = sxb.baseAddress!
                if l.inner == 1 {
                    @inline(__always) func masked(_ o: Int) -> T { let v = pg[o]; return py.map { $0[o] > 0 ? v : 0 } ?? v }
                    if needSums {
                        for b in 0..<l.batch {
                            for c in 0..<l.channels {
                                let o = b * stride + c, gv = Double(masked(o))
                                sg[c] += gv
                                sx[c] += gv * (Double(px[o]) - mean[c])
                            }
                        }
                    }
                    guard let pd else { return }
                    for b in 0..<l.batch {
                        for c in 0..<l.channels {
                            let o = b * stride + c
                            let a = Double(gam[c]) * rstd[c]
                            var v = a * Double(masked(o))
                            if batchStatistics {
                                v += -a * rstd[c] * rstd[c] * sx[c] / n * (Double(px[o]) - mean[c]) - a * sg[c] / n
                            }
                            pd[o] = T(v)
                        }
                    }
                    return
                }
                parallelRanges(l.channels, costPerItem: 2 * l.count) { r in
                  withScratch(2 * l.inner, T.self) { scratch in
                    for c in r {
                        let m = T(mean[c])
                        if needSums {
                            let o = c * l.inner
                            let (s, sxm) = maskedChannelSums(pg + o, py.map { $0 + o }, px + o, batch: l.batch,
                                                             stride: stride, inner: l.inner, from: m, scratch: scratch)
                            // Σ g'(x − μ) = Σ g'(x − m̃) + (m̃ − μ)·Σ g'.
                            sg[c] = s
                            sx[c] = sxm + (Double(m) - mean[c]) * s
                        }
                        guard let pd else { continue }
                        // dx = a·g' + b·(x − m̃) + c0 with m̃ = T(μ), c0 = −a·Σg'/N + b·(m̃ − μ).
                        let ad = Double(gam[c]) * rstd[c]
                        var bd = 0.0, c0d = 0.0
                        if batchStatistics {
                            bd = -ad * rstd[c] * rstd[c] * sx[c] / n
                            c0d = -ad * sg[c] / n + bd * (Double(m) - mean[c])
                        }
                        let a = T(ad), bb = T(bd), c0 = T(c0d)
                        for b in 0..<l.batch {
                            let o = b * stride + c * l.inner
                            let gp = pg + o, xp = px + o, dp = pd + o
                            var j = 0
                            if let py {
                                let yp = py + o
                                while j < l.inner { let v = gp[j], gv = yp[j] > 0 ? v : 0; dp[j] = a * gv + bb * (xp[j] - m) + c0; j &+= 1 }
                            } else {
                                while j < l.inner { dp[j] = a * gp[j] + bb * (xp[j] - m) + c0; j &+= 1 }
                            }
                        }
                    }
                  }
                }
            }
        }
    }
    switch dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    }
    var dgamma: Tensor? = nil, dbeta: Tensor? = nil
    if needGamma { dgamma = Tensor(zip(sumGX, rstd).map { $0 * $1 }, shape: [l.channels], dtype: dtype) }
    if needBeta { dbeta = Tensor(sumG, shape: [l.channels], dtype: dtype) }
    return (dx, dgamma, dbeta)
}

/// (Σ g', Σ g'·(x − m)) over one channel (`batch` runs of `inner` values, `stride` apart),
/// g' = g masked by y > 0 when y is given. The runs are first added position by position into
/// two scratch rows of `inner` values (element-wise loops, which vectorise), then each row is
/// summed; a fixed order, so the result is deterministic.
@inline(__always)
func maskedChannelSums<T: TensorScalar>(_ g: UnsafePointer<T>, _ y: UnsafePointer<T>?, _ x: UnsafePointer<T>,
                                        batch: Int, stride: Int, inner n: Int, from m: T,
                                        scratch: UnsafeMutablePointer<T>) -> (Double, Double) {
    let sa = scratch, sq = scratch + n
    sa.update(repeating: 0, count: 2 * n)
    for b in 0..<batch {
        let gp = g + b * stride, xp = x + b * stride
        var j = 0
        if let y {
            let yp = y + b * stride
            while j < n { let v = gp[j], gv = yp[j] > 0 ? v : 0; sa[j] += gv; sq[j] += gv * (xp[j] - m); j &+= 1 }
        } else {
            while j < n { let gv = gp[j]; sa[j] += gv; sq[j] += gv * (xp[j] - m); j &+= 1 }
        }
    }
    return (Double(sumOf(sa, n)), Double(sumOf(sq, n)))
}
