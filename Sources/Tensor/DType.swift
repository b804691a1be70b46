import RealModule
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The element type of a tensor. Float32 is the working type; Float64 exists so that
/// gradients and log-determinants can be checked against finite differences and
/// brute-force Jacobians without rounding noise.
public enum DType: String, Sendable, Codable, CaseIterable {
    case float32 = "F32"
    case float64 = "F64"

    /// Bytes per element.
    public var byteSize: Int { self == .float32 ? 4 : 8 }
}

/// The scalar types a tensor can hold: IEEE floats with elementary functions and a GEMM.
public protocol TensorScalar: BinaryFloatingPoint, Real, Sendable {
    static var dtype: DType { get }
    /// Row-major GEMM: C = alpha * op(A) * op(B) + beta * C, single-threaded BLAS call.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

#if canImport(Accelerate)
typealias BLASInt = Int32
@inline(__always) func blasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }
#else
typealias BLASInt = Int32
@inline(__always) func blasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }
#endif

extension Float: TensorScalar {
    public static var dtype: DType { .float32 }
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, blasTrans(transA), blasTrans(transB),
                    BLASInt(m), BLASInt(n), BLASInt(k), alpha, a, BLASInt(lda), b, BLASInt(ldb),
                    beta, c, BLASInt(ldc))
    }
}

extension Double: TensorScalar {
    public static var dtype: DType { .float64 }
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, blasTrans(transA), blasTrans(transB),
                    BLASInt(m), BLASInt(n), BLASInt(k), alpha, a, BLASInt(lda), b, BLASInt(ldb),
                    beta, c, BLASInt(ldc))
    }
}
