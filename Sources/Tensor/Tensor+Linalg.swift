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

    fileprivate func lu(_ op: String) -> LUDecomposition {
        let (n, v) = squareMatrix(op)
        guard let lu = LUDecomposition(v, n: n) else { preconditionFailure("\(op): matrix is singular") }
        return lu
    }

    /// LU factorisation with partial pivoting (no autodiff).
    public func luDecomposition() -> LUDecomposition? {
        let (n, v) = squareMatrix("luDecomposition")
        return LUDecomposition(v, n: n)
    }

    /// det A. Differentiable: d det / dA = det · A⁻ᵀ.
    public func determinant() -> Tensor {
        let (n, v) = squareMatrix("determinant")
        guard let f = LUDecomposition(v, n: n) else {
            return Tensor(scalar: 0, dtype: dtype)  // singular: det = 0 (gradient undefined, not recorded)
        }
        var out = Tensor(scalar: f.determinant, dtype: dtype)
        let inv = Tensor(f.inverse, shape: [n, n], dtype: dtype), det = out.detached
        out.node = GradNode.make("determinant", [self]) { g in [inv.transposed().contiguous() * (g * det)] }
        return out
    }

    /// log|det A|. Differentiable: d/dA = A⁻ᵀ. Precondition: A is non-singular.
    public func logAbsDeterminant() -> Tensor {
        let f = lu("logAbsDeterminant")
        var out = Tensor(scalar: f.logAbsDeterminant.value, dtype: dtype)
        let n = f.n, dt = dtype
        // A⁻ᵀ is only formed when the gradient is actually needed.
        out.node = GradNode.make("logAbsDeterminant", [self]) { g in
            [Tensor(f.inverse, shape: [n, n], dtype: dt).transposed().contiguous() * g]
        }
        return out
    }

    /// A⁻¹. Differentiable: dA = −A⁻ᵀ · G · A⁻ᵀ. Precondition: A is non-singular.
    public func inverse() -> Tensor {
        let f = lu("inverse")
        var out = Tensor(f.inverse, shape: [f.n, f.n], dtype: dtype)
        let inv = out.detached
        out.node = GradNode.make("inverse", [self]) { g in
            [-(inv.transposed().matmul(g).matmul(inv.transposed()))]
        }
        return out
    }
}
