extension Tensor {
    /// A rank-2 operand as BLAS sees it: a dense matrix, possibly transposed.
    /// Returns the matrix, whether BLAS should read it transposed, and its leading dimension.
    fileprivate func asMatrix() -> (Tensor, transposed: Bool, ld: Int) {
        precondition(rank == 2, "matmul operand of rank \(rank), shape \(shape)")
        if strides[1] == 1 || shape[1] == 1 {
            let ld = shape[0] == 1 ? Swift.max(shape[1], 1) : strides[0]
            if ld >= Swift.max(shape[1], 1) { return (self, false, ld) }
        }
        if strides[0] == 1 || shape[0] == 1 {
            let ld = shape[1] == 1 ? Swift.max(shape[0], 1) : strides[1]
            if ld >= Swift.max(shape[0], 1) { return (self, true, ld) }
        }
        return (contiguous().detached, false, Swift.max(shape[1], 1))
    }

    /// A rank-2 tensor laid out column by column (the transpose of a dense matrix).
    var isColumnMajor: Bool { rank == 2 && shape[0] > 1 && shape[1] > 1 && strides[0] == 1 && strides[1] == shape[0] }

    /// Matrix product of rank-2 tensors: (M, K) · (K, N) -> (M, N). Transposed views are
    /// passed to BLAS as transposes, without a copy. Differentiable.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank == 2 && other.rank == 2 && shape[1] == other.shape[0],
                     "matmul: \(shape) × \(other.shape)")
        precondition(dtype == other.dtype, "matmul: \(dtype) × \(other.dtype)")
        var out = Tensor.matmulRaw(self, other)
        let a = detached, b = other.detached
        out.node = GradNode.make("matmul", [self, other]) { g in
            // Each gradient is computed in its operand's layout: for a column-major operand
            // (a transposed view, e.g. Linear's Wᵀ) as the transpose of a dense product, so
            // that the transposing view's VJP hands the parameter a dense gradient instead
            // of a strided one every consumer would have to copy.
            [self.node == nil ? nil : (a.isColumnMajor ? b.matmul(g.transposed()).transposed() : g.matmul(b.transposed())),
             other.node == nil ? nil : (b.isColumnMajor ? g.transposed().matmul(a).transposed() : a.transposed().matmul(g))]
        }
        return out
    }

    static func matmulRaw(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let out = Tensor(uninitialized: [m, n], dtype: a.dtype)
        let (am, ta, lda) = a.asMatrix(), (bm, tb, ldb) = b.asMatrix()
        func run<T: TensorScalar>(_: T.Type) {
            gemmSplit(ta: ta, tb: tb, m: m, n: n, k: k, a: am.pointer(as: T.self), lda: lda,
                      b: bm.pointer(as: T.self), ldb: ldb, beta: 0, c: out.mutablePointer(as: T.self), ldc: n)
        }
        switch a.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        return out
    }
}

/// Splits one GEMM across the engine's threads (rows of C when M >= N, else columns).
func gemmSplit<T: TensorScalar>(ta: Bool, tb: Bool, m: Int, n: Int, k: Int,
                                a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
    _ = Engine.threads  // configures BLAS as single-threaded before its first use
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    let flops = m * n * k
    let parts = flops < 1 << 18 ? 1 : Engine.threads
    if m >= n {
        let rowsPer = (m + parts - 1) / parts
        parallelChunks(parts) { p in
            let lo = p * rowsPer, hi = Swift.min(m, lo + rowsPer)
            guard lo < hi else { return }
            T.gemm(transA: ta, transB: tb, m: hi - lo, n: n, k: k, alpha: 1,
                   a: ta ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c + lo * ldc, ldc: ldc)
        }
    } else {
        let colsPer = (n + parts - 1) / parts
        parallelChunks(parts) { p in
            let lo = p * colsPer, hi = Swift.min(n, lo + colsPer)
            guard lo < hi else { return }
            T.gemm(transA: ta, transB: tb, m: m, n: hi - lo, k: k, alpha: 1,
                   a: a, lda: lda, b: tb ? b + lo * ldb : b + lo, ldb: ldb,
                   beta: beta, c: c + lo, ldc: ldc)
        }
    }
}
