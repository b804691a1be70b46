#if canImport(Accelerate)
import Accelerate
typealias LAPACKInt = __CLPK_integer
#else
import CBLAS
typealias LAPACKInt = blasint
#endif

/// The LAPACK routines the engine uses (column-major, Fortran calling convention), for Float
/// and Double. OpenBLAS exports them on Linux (declared in the CBLAS shim); Accelerate on macOS.
/// Like the GEMMs, they run single-threaded inside the engine (see `Engine`).
enum LAPACK {
    /// LU with partial pivoting of the n×n column-major matrix `a`, in place (getrf).
    /// Returns LAPACK's info: 0, or k > 0 when U(k, k) is exactly zero.
    static func getrf<T: TensorScalar>(_ n: Int, _ a: UnsafeMutablePointer<T>, _ ipiv: UnsafeMutablePointer<LAPACKInt>) -> Int {
        _ = Engine.threads  // configures BLAS as single-threaded before its first use
        var m = LAPACKInt(n), nn = LAPACKInt(n), lda = LAPACKInt(Swift.max(n, 1)), info: LAPACKInt = 0
        switch T.dtype {
        case .float32:
            a.withMemoryRebound(to: Float.self, capacity: n * n) { sgetrf_(&m, &nn, $0, &lda, ipiv, &info) }
        case .float64:
            a.withMemoryRebound(to: Double.self, capacity: n * n) { dgetrf_(&m, &nn, $0, &lda, ipiv, &info) }
        }
        return Int(info)
    }

    /// The inverse from getrf's factors, in place (getri). Returns LAPACK's info.
    static func getri<T: TensorScalar>(_ n: Int, _ a: UnsafeMutablePointer<T>, _ ipiv: UnsafePointer<LAPACKInt>) -> Int {
        _ = Engine.threads
        var nn = LAPACKInt(n), lda = LAPACKInt(Swift.max(n, 1)), info: LAPACKInt = 0
        // getri's blocked algorithm wants n·nb of workspace (nb = 64 for OpenBLAS's ilaenv).
        let lworkCount = Swift.max(1, n * 64)
        var lwork = LAPACKInt(lworkCount)
        let ip = UnsafeMutablePointer(mutating: ipiv)
        withScratch(lworkCount, T.self) { work in
            switch T.dtype {
            case .float32:
                a.withMemoryRebound(to: Float.self, capacity: n * n) { ap in
                    work.withMemoryRebound(to: Float.self, capacity: lworkCount) { sgetri_(&nn, ap, &lda, ip, $0, &lwork, &info) }
                }
            case .float64:
                a.withMemoryRebound(to: Double.self, capacity: n * n) { ap in
                    work.withMemoryRebound(to: Double.self, capacity: lworkCount) { dgetri_(&nn, ap, &lda, ip, $0, &lwork, &info) }
                }
            }
        }
        return Int(info)
    }
}

extension LAPACK {
    /// Whether factorisations share their work among the engine's threads (the blocked
    /// routines below) or run LAPACK's own single-threaded ones.
    static var isParallel: Bool { Engine.threads > 1 }

    /// B ← op(A)⁻¹·B for a triangular n×n column-major A and an n×nrhs column-major B (trsm).
    static func trsmLeft<T: TensorScalar>(lower: Bool, unitDiagonal: Bool, n: Int, nrhs: Int,
                                          _ a: UnsafePointer<T>, lda: Int, _ b: UnsafeMutablePointer<T>, ldb: Int) {
        _ = Engine.threads
        let uplo = lower ? CblasLower : CblasUpper, diag = unitDiagonal ? CblasUnit : CblasNonUnit
        switch T.dtype {
        case .float32:
            cblas_strsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, BLASInt(n), BLASInt(nrhs), 1,
                        a.rebound(), BLASInt(lda), b.rebound(), BLASInt(ldb))
        case .float64:
            cblas_dtrsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, BLASInt(n), BLASInt(nrhs), 1,
                        a.rebound(), BLASInt(lda), b.rebound(), BLASInt(ldb))
        }
    }

    /// LU with partial pivoting of the n×n column-major `a` in place, as getrf, with the work
    /// after each panel shared out among the engine's threads: right-looking blocked LU
    /// (Golub & Van Loan §3.4) whose panels of 64 columns are factorised by getrf on one
    /// thread, while the row interchanges, the triangular solve for the block row of U and
    /// the trailing GEMM update are split by columns. Returns getrf's info.
    static func getrfParallel<T: TensorScalar>(_ n: Int, _ a: UnsafeMutablePointer<T>,
                                               _ ipiv: UnsafeMutablePointer<LAPACKInt>) -> Int {
        let nb = 64
        var info = 0
        var j = 0
        while j < n {
            let jb = Swift.min(nb, n - j)
            let panelInfo = getrfPanel(m: n - j, n: jb, a + j + j * n, lda: n, ipiv + j)
            if panelInfo > 0 && info == 0 { info = panelInfo + j }
            for i in j..<(j + jb) { ipiv[i] += LAPACKInt(j) }
            // Interchanges on the columns left of the panel.
            swapRows(a, lda: n, columns: 0..<j, rows: j..<(j + jb), ipiv)
            let right = (j + jb)..<n
            if !right.isEmpty {
                parallelRanges(right.count, costPerItem: 2 * (n - j) * jb) { r in
                    let cols = (right.lowerBound + r.lowerBound)..<(right.lowerBound + r.upperBound)
                    swapRows(a, lda: n, columns: cols, rows: j..<(j + jb), ipiv)
                    let b = a + j + cols.lowerBound * n
                    // U12 = L11⁻¹ A12, then A22 −= L21 U12 (as the row-major product of the transposes).
                    trsmLeft(lower: true, unitDiagonal: true, n: jb, nrhs: cols.count, UnsafePointer(a + j + j * n), lda: n, b, ldb: n)
                    let below = n - j - jb
                    if below > 0 {
                        T.gemm(transA: false, transB: false, m: cols.count, n: below, k: jb, alpha: -1,
                               a: UnsafePointer(b), lda: n, b: UnsafePointer(a + (j + jb) + j * n), ldb: n,
                               beta: 1, c: a + (j + jb) + cols.lowerBound * n, ldc: n)
                    }
                }
            }
            j += jb
        }
        return info
    }

    /// getrf on an m×n column-major panel (leading dimension lda).
    private static func getrfPanel<T: TensorScalar>(m: Int, n: Int, _ a: UnsafeMutablePointer<T>, lda: Int,
                                                    _ ipiv: UnsafeMutablePointer<LAPACKInt>) -> Int {
        _ = Engine.threads
        var mm = LAPACKInt(m), nn = LAPACKInt(n), ld = LAPACKInt(lda), info: LAPACKInt = 0
        switch T.dtype {
        case .float32: sgetrf_(&mm, &nn, a.rebound(), &ld, ipiv, &info)
        case .float64: dgetrf_(&mm, &nn, a.rebound(), &ld, ipiv, &info)
        }
        return Int(info)
    }

    /// Applies the interchanges row i ↔ row ipiv[i] − 1, for i in `rows` in order, to `columns`.
    private static func swapRows<T: TensorScalar>(_ a: UnsafeMutablePointer<T>, lda: Int, columns: Range<Int>,
                                                  rows: Range<Int>, _ ipiv: UnsafePointer<LAPACKInt>) {
        for c in columns {
            let col = a + c * lda
            for i in rows {
                let p = Int(ipiv[i]) - 1
                if p != i { let t = col[i]; col[i] = col[p]; col[p] = t }
            }
        }
    }

    /// A⁻¹ (column-major, into `x`) from getrf's factors of A, as U⁻¹·L⁻¹·P applied to the
    /// identity, with the columns of the result shared out among the engine's threads: each
    /// range is its identity columns permuted, then two triangular solves (trsm).
    static func inverseParallel<T: TensorScalar>(_ n: Int, factors lu: UnsafePointer<T>, _ ipiv: UnsafePointer<LAPACKInt>,
                                                 into x: UnsafeMutablePointer<T>) {
        parallelRanges(n, costPerItem: 2 * n * n) { r in
            let slab = x + r.lowerBound * n
            slab.update(repeating: 0, count: r.count * n)
            for (k, c) in r.enumerated() {
                // Column c of P: e_c with the interchanges applied in order.
                let col = slab + k * n
                col[c] = 1
                for i in 0..<n {
                    let p = Int(ipiv[i]) - 1
                    if p != i { let t = col[i]; col[i] = col[p]; col[p] = t }
                }
            }
            trsmLeft(lower: true, unitDiagonal: true, n: n, nrhs: r.count, lu, lda: n, slab, ldb: n)
            trsmLeft(lower: false, unitDiagonal: false, n: n, nrhs: r.count, lu, lda: n, slab, ldb: n)
        }
    }
}
