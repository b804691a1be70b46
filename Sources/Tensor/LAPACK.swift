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
