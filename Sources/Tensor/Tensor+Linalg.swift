import RealModule

/// LU factorisation with partial pivoting, P·A = L·U, of a square matrix in Double.
public struct LUDecomposition: Sendable {
    public let n: Int
    /// Row-major packed factors: strictly lower part holds L (unit diagonal), upper part U.
    public let packed: [Double]
    /// `perm[i]` is the row of A that became row i of P·A.
    public let perm: [Int]
    /// +1 or −1: the sign of the permutation.
    public let permutationSign: Double

    /// Factorises a row-major n×n matrix. Returns nil when a pivot is exactly zero (singular).
    public init?(_ a: [Double], n: Int) {
        precondition(a.count == n * n, "LU: \(a.count) values for \(n)×\(n)")
        var m = a
        var perm = Array(0..<n)
        var sign = 1.0
        for k in 0..<n {
            var piv = k
            var best = Swift.abs(m[k * n + k])
            for i in (k + 1)..<Swift.max(n, k + 1) where Swift.abs(m[i * n + k]) > best {
                best = Swift.abs(m[i * n + k]); piv = i
            }
            if best == 0 || !best.isFinite { return nil }
            if piv != k {
                for j in 0..<n { m.swapAt(k * n + j, piv * n + j) }
                perm.swapAt(k, piv)
                sign = -sign
            }
            let d = m[k * n + k]
            m.withUnsafeMutableBufferPointer { mp in
                let p = mp.baseAddress!
                let rowK = p + k * n
                for i in (k + 1)..<Swift.max(n, k + 1) {
                    let rowI = p + i * n
                    let f = rowI[k] / d
                    rowI[k] = f
                    if f != 0 { for j in (k + 1)..<n { rowI[j] -= f * rowK[j] } }
                }
            }
        }
        self.n = n
        self.packed = m
        self.perm = perm
        self.permutationSign = sign
    }

    /// Unit lower-triangular L (row-major).
    public var lower: [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<i { l[i * n + j] = packed[i * n + j] }; l[i * n + i] = 1 }
        return l
    }

    /// Upper-triangular U (row-major).
    public var upper: [Double] {
        var u = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { u[i * n + j] = packed[i * n + j] } }
        return u
    }

    /// The permutation matrix P with P·A = L·U (row-major).
    public var permutation: [Double] {
        var p = [Double](repeating: 0, count: n * n)
        for i in 0..<n { p[i * n + perm[i]] = 1 }
        return p
    }

    public var determinant: Double { (0..<n).reduce(permutationSign) { $0 * packed[$1 * n + $1] } }

    /// log|det A| and sign(det A).
    public var logAbsDeterminant: (value: Double, sign: Double) {
        var s = permutationSign, l = 0.0
        for i in 0..<n {
            let d = packed[i * n + i]
            l += Double.log(Swift.abs(d))
            if d < 0 { s = -s }
        }
        return (l, s)
    }

    /// Solves A·X = B for a row-major n×k right-hand side.
    public func solve(_ b: [Double], columns k: Int) -> [Double] {
        precondition(b.count == n * k, "solve: \(b.count) values for \(n)×\(k)")
        var x = [Double](repeating: 0, count: n * k)
        let n = self.n
        packed.withUnsafeBufferPointer { lu in
            x.withUnsafeMutableBufferPointer { xb in
                let a = lu.baseAddress!, xp = xb.baseAddress!
                for i in 0..<n { for j in 0..<k { xp[i * k + j] = b[perm[i] * k + j] } }
                // Forward substitution with unit L, then back substitution with U; the inner
                // loops are row updates (x_i −= f·x_r) over contiguous memory.
                for i in 0..<n {
                    let xi = xp + i * k
                    for r in 0..<i {
                        let f = a[i * n + r]
                        if f == 0 { continue }
                        let xr = xp + r * k
                        for j in 0..<k { xi[j] -= f * xr[j] }
                    }
                }
                for i in stride(from: n - 1, through: 0, by: -1) {
                    let xi = xp + i * k
                    for r in (i + 1)..<Swift.max(n, i + 1) {
                        let f = a[i * n + r]
                        if f == 0 { continue }
                        let xr = xp + r * k
                        for j in 0..<k { xi[j] -= f * xr[j] }
                    }
                    let d = 1 / a[i * n + i]
                    for j in 0..<k { xi[j] *= d }
                }
            }
        }
        return x
    }

    /// A⁻¹ (row-major).
    public var inverse: [Double] {
        var eye = [Double](repeating: 0, count: n * n)
        for i in 0..<n { eye[i * n + i] = 1 }
        return solve(eye, columns: n)
    }
}

extension Tensor {
    fileprivate func squareMatrix(_ op: String) -> (n: Int, values: [Double]) {
        precondition(rank == 2 && shape[0] == shape[1], "\(op): needs a square matrix, got \(shape)")
        return (shape[0], doubles)
    }

    /// LU factorisation with partial pivoting in Double, in Swift (no autodiff). The tensor
    /// operations below use LAPACK instead (`BlockedLU`); this one exposes L, U and P exactly.
    public func luDecomposition() -> LUDecomposition? {
        let (n, v) = squareMatrix("luDecomposition")
        return LUDecomposition(v, n: n)
    }

    /// det A. Differentiable: d det / dA = det · A⁻ᵀ. Returns 0 for an exactly singular A
    /// (an exact zero pivot; its gradient is not recorded).
    public func determinant() -> Tensor {
        let f = BlockedLU(self, "determinant")
        if f.isSingular { return Tensor(scalar: 0, dtype: dtype) }
        var out = Tensor(scalar: f.determinant, dtype: dtype)
        let det = out.detached
        out.node = GradNode.make("determinant", [self]) { g in [f.inverseTransposed(scaledBy: g * det)] }
        return out
    }

    /// log|det A|. Differentiable: d/dA = A⁻ᵀ. Precondition: A is non-singular.
    ///
    /// One LAPACK LU (getrf, blocked; O(n³/3) multiply-adds) in the tensor's precision; the
    /// inverse (getri) is formed only when the gradient is asked for, so evaluation pays
    /// for the factorisation alone.
    public func logAbsDeterminant() -> Tensor {
        let f = BlockedLU(self, "logAbsDeterminant")
        precondition(!f.isSingular, "logAbsDeterminant: matrix is singular")
        var out = Tensor(scalar: f.logAbsDeterminant.value, dtype: dtype)
        out.node = GradNode.make("logAbsDeterminant", [self]) { g in [f.inverseTransposed(scaledBy: g)] }
        return out
    }

    /// A⁻¹. Differentiable: dA = −A⁻ᵀ · G · A⁻ᵀ. Precondition: A is non-singular.
    public func inverse() -> Tensor {
        let f = BlockedLU(self, "inverse")
        precondition(!f.isSingular, "inverse: matrix is singular")
        var out = f.inverseTransposed(scaledBy: nil).transposed().contiguous().detached
        let inv = out.detached
        out.node = GradNode.make("inverse", [self]) { g in
            [-(inv.transposed().matmul(g).matmul(inv.transposed()))]
        }
        return out
    }
}

/// P·A = L·U of a square tensor by LAPACK's blocked getrf, in the tensor's own precision
/// (sgetrf for Float32, dgetrf for Float64, as PyTorch's `slogdet` does). With more than one
/// engine thread and n ≥ 128, the factorisation and the inverse share their work among the
/// threads (`LAPACK.getrfParallel`, `LAPACK.inverseParallel`); the results then differ from
/// the one-thread ones in the last bits, but not from run to run.
///
/// The factors are stored column-major (LAPACK's layout) as the transpose of a row-major
/// tensor, so getri on them yields A⁻¹ column-major, which is A⁻ᵀ row-major: exactly the
/// gradient of log|det A|, with no transposition. Immutable once built, so a VJP may use it
/// any number of times.
final class BlockedLU: @unchecked Sendable {
    let n: Int
    let dtype: DType
    /// Column-major LU factors of A (a dense n×n tensor holding them, row-major = Aᵀ's layout).
    let factors: Tensor
    /// 1-based pivot rows from getrf.
    let pivots: [LAPACKInt]
    /// True when getrf met an exactly zero pivot (or A has a non-finite entry).
    let isSingular: Bool

    init(_ a: Tensor, _ op: String) {
        precondition(a.rank == 2 && a.shape[0] == a.shape[1], "\(op): needs a square matrix, got \(a.shape)")
        let n = a.shape[0]
        self.n = n
        dtype = a.dtype
        let factors = Tensor(uninitialized: [n, n], dtype: a.dtype)
        self.factors = factors
        var piv = [LAPACKInt](repeating: 0, count: Swift.max(n, 1))
        var singular = false
        func run<T: TensorScalar>(_: T.Type) {
            let f = factors.mutablePointer(as: T.self)
            copyColumnMajor(a, into: f, T.self)
            for i in 0..<(n * n) where !f[i].isFinite { singular = true; return }
            let info = piv.withUnsafeMutableBufferPointer {
                LAPACK.isParallel && n >= 128 ? LAPACK.getrfParallel(n, f, $0.baseAddress!) : LAPACK.getrf(n, f, $0.baseAddress!)
            }
            precondition(info >= 0, "\(op): getrf argument \(-info) invalid")
            singular = info > 0
        }
        if n > 0 {
            switch a.dtype {
            case .float32: run(Float.self)
            case .float64: run(Double.self)
            }
        }
        pivots = piv
        isSingular = singular
    }

    /// log|det A| = Σ log|uᵢᵢ| (accumulated in Double) and sign(det A).
    var logAbsDeterminant: (value: Double, sign: Double) {
        var l = 0.0, s = 1.0
        for i in 0..<n where Int(pivots[i]) != i + 1 { s = -s }
        func run<T: TensorScalar>(_: T.Type) {
            let f = factors.pointer(as: T.self)
            for i in 0..<n {
                let d = Double(f[i * n + i])
                l += Double.log(Swift.abs(d))
                if d < 0 { s = -s }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        return (l, s)
    }

    /// det A = sign(P)·Π uᵢᵢ, accumulated in Double.
    var determinant: Double {
        var d = 1.0
        for i in 0..<n where Int(pivots[i]) != i + 1 { d = -d }
        func run<T: TensorScalar>(_: T.Type) {
            let f = factors.pointer(as: T.self)
            for i in 0..<n { d *= Double(f[i * n + i]) }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        }
        return d
    }

    /// A⁻ᵀ (row-major, a fresh tensor), times the scalar tensor `scale` when given.
    /// getri on a copy of the factors: O(n³·2/3) multiply-adds.
    func inverseTransposed(scaledBy scale: Tensor?) -> Tensor {
        precondition(!isSingular, "inverse of a singular matrix")
        let parallel = LAPACK.isParallel && n >= 128
        let out = parallel ? Tensor(uninitialized: [n, n], dtype: dtype) : factors.copy()
        func run<T: TensorScalar>(_: T.Type) {
            let p = out.mutablePointer(as: T.self)
            if parallel {
                pivots.withUnsafeBufferPointer { LAPACK.inverseParallel(n, factors: factors.pointer(as: T.self), $0.baseAddress!, into: p) }
            } else {
                let info = pivots.withUnsafeBufferPointer { LAPACK.getri(n, p, $0.baseAddress!) }
                precondition(info == 0, "getri: info \(info)")
            }
            if let scale {
                precondition(scale.count == 1, "inverseTransposed: scale of shape \(scale.shape)")
                let s = T(scale.item)
                if s != 1 { for i in 0..<(n * n) { p[i] *= s } }
            }
        }
        if n > 0 {
            switch dtype {
            case .float32: run(Float.self)
            case .float64: run(Double.self)
            }
        }
        return out
    }
}

/// Writes the rank-2 tensor `a` (any strides) column-major into `dst` (leading dimension
/// rows), in 32×32 tiles so that neither side is walked with a large stride for long.
func copyColumnMajor<T: TensorScalar>(_ a: Tensor, into dst: UnsafeMutablePointer<T>, _: T.Type) {
    let rows = a.shape[0], cols = a.shape[1]
    let s0 = a.strides[0], s1 = a.strides[1]
    let src = a.storage.pointer(as: T.self) + a.offset
    let tile = 32
    for j0 in Swift.stride(from: 0, to: cols, by: tile) {
        let j1 = Swift.min(cols, j0 + tile)
        for i0 in Swift.stride(from: 0, to: rows, by: tile) {
            let i1 = Swift.min(rows, i0 + tile)
            for j in j0..<j1 {
                let d = dst + j &* rows, s = src + j &* s1
                var i = i0
                while i < i1 { d[i] = s[i &* s0]; i &+= 1 }
            }
        }
    }
}
