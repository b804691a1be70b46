import Testing
import Tensor
import TestSupport

@Suite("LU, determinant and inverse")
struct LinalgTests {
    /// Row-major n×n product.
    static func multiply(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { c[i * n + j] += a[i * n + k] * b[k * n + j] } } }
        return c
    }

    static func identity(_ n: Int) -> [Double] {
        (0..<(n * n)).map { $0 / n == $0 % n ? 1 : 0 }
    }

    // reference: Strang, Introduction to Linear Algebra, §2.6: A = [[2,1,1],[4,-6,0],[-2,7,2]]
    // has pivots 2, −8, 1 without row exchanges, so det A = −16. By cofactors (checked by hand):
    // det = 2·(−12 − 0) − 1·(8 − 0) + 1·(28 − 12) = −16, and A⁻¹ = adj(A)/det =
    // [[12,−5,−6],[8,−6,−4],[−16,16,16]] / 16.
    static let strang: [Double] = [2, 1, 1, 4, -6, 0, -2, 7, 2]
    static let strangInverse: [Double] = [12, -5, -6, 8, -6, -4, -16, 16, 16].map { $0 / 16 }

    // reference: by cofactors, det [[1,2,3],[0,1,4],[5,6,0]] = 1·(0−24) − 2·(0−20) + 3·(0−5) = 1,
    // so A⁻¹ = adj(A) = [[−24,18,5],[20,−15,−4],[−5,4,1]] (a standard textbook example).
    static let unimodular: [Double] = [1, 2, 3, 0, 1, 4, 5, 6, 0]
    static let unimodularInverse: [Double] = [-24, 18, 5, 20, -15, -4, -5, 4, 1]

    @Test func determinantOfKnownMatrices() throws {
        let strang = try #require(LUDecomposition(Self.strang, n: 3))
        #expect(Swift.abs(strang.determinant - -16) < 1e-12)
        let unimodular = try #require(LUDecomposition(Self.unimodular, n: 3))
        #expect(Swift.abs(unimodular.determinant - 1) < 1e-12)
        // reference: by hand, det [[4,7],[2,6]] = 24 − 14 = 10
        #expect(Swift.abs(try #require(LUDecomposition([4, 7, 2, 6], n: 2)).determinant - 10) < 1e-12)
        // A row swap: det [[0,1],[1,0]] = −1, and it needs pivoting (a₁₁ = 0).
        let swap = try #require(LUDecomposition([0, 1, 1, 0], n: 2))
        #expect(swap.determinant == -1)
        #expect(swap.permutationSign == -1)
        // Triangular: the determinant is the product of the diagonal, 2·(−3)·0.5 = −3.
        #expect(try #require(LUDecomposition([2, 5, -1, 0, -3, 4, 0, 0, 0.5], n: 3)).determinant == -3)
        // 1×1.
        #expect(try #require(LUDecomposition([-2.5], n: 1)).determinant == -2.5)
    }

    @Test func determinantTensorOpsAgreeWithLU() {
        // Float32 and Float64 tensors, same answer within each precision.
        for dtype in DType.allCases {
            let tol = dtype == .float32 ? 1e-5 : 1e-12
            let a = Tensor(Self.strang, shape: [3, 3], dtype: dtype)
            #expect(a.determinant().dtype == dtype)
            #expect(Swift.abs(a.determinant().item - -16) < 16 * tol)
            // log|det| = log 16 = 2.772588722239781 (reference: Python math.log(16))
            #expect(Swift.abs(a.logAbsDeterminant().item - 2.772588722239781) < tol)
            expectClose(a.inverse(), Self.strangInverse, shape: [3, 3], tolerance: tol)
            expectClose(Tensor(Self.unimodular, shape: [3, 3], dtype: dtype).inverse(), Self.unimodularInverse,
                        tolerance: 30 * tol)
        }
        // reference: by hand, [[4,7],[2,6]]⁻¹ = [[6,−7],[−2,4]] / 10
        expectClose(Tensor([4, 7, 2, 6] as [Double], shape: [2, 2]).inverse(), [0.6, -0.7, -0.2, 0.4], tolerance: 1e-15)
    }

    @Test func lapackAgreesWithSwiftLUOnLargeMatrices() throws {
        // The tensor ops factorise with LAPACK (blocked for n above its block size, 64 in
        // OpenBLAS); the Swift LU is the independent reference.
        let n = 300
        let a = wellConditioned(n, diagonal: 3, seed: 31)
        let lu = try #require(LUDecomposition(a.doubles, n: n))
        let (value, sign) = lu.logAbsDeterminant
        #expect(Swift.abs(a.logAbsDeterminant().item - value) < 1e-10 * Swift.abs(value))
        #expect((a.determinant().item < 0) == (sign < 0))
        let inverse = a.inverse().doubles
        expectClose(inverse, lu.inverse, tolerance: 1e-12, relativeTolerance: 1e-10)
        // Float32 runs sgetrf: log|det| agrees to single precision.
        let a32 = a.cast(to: .float32)
        #expect(Swift.abs(a32.logAbsDeterminant().item - value) < 1e-4 * Swift.abs(value))
        // Non-finite entries make the matrix "singular": det 0, no factorisation.
        var bad = a.doubles
        bad[5] = .nan
        #expect(Tensor(bad, shape: [n, n]).determinant().item == 0)
    }

    @Test func logAbsDeterminantAndSign() throws {
        // diag(2, −3, 0.5) with rows cycled: det = +(2·(−3)·0.5)·sign(cycle of 3) = −3·(+1) = −3.
        let cycled: [Double] = [0, -3, 0, 0, 0, 0.5, 2, 0, 0]
        let lu = try #require(LUDecomposition(cycled, n: 3))
        #expect(Swift.abs(lu.determinant - -3) < 1e-15)
        let (value, sign) = lu.logAbsDeterminant
        // reference: Python math.log(3) = 1.0986122886681098
        #expect(Swift.abs(value - 1.0986122886681098) < 1e-15)
        #expect(sign == -1)
        let antiDiagonal = try #require(LUDecomposition([0, -2, -2, 0], n: 2))  // det = 0·0 − (−2)(−2) = −4
        #expect(antiDiagonal.determinant == -4)
        #expect(antiDiagonal.logAbsDeterminant.sign == -1)
        let four = try #require(LUDecomposition([-2, 0, 0, -2], n: 2))  // det +4 from two negative pivots
        #expect(four.logAbsDeterminant.sign == 1)
        #expect(Swift.abs(four.logAbsDeterminant.value - 1.3862943611198906) < 1e-15)  // reference: math.log(4)
    }

    /// P·A = L·U with L unit lower-triangular (|lᵢⱼ| ≤ 1 under partial pivoting), U upper
    /// triangular and P a permutation matrix.
    static func expectFactorisation(_ a: [Double], _ n: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let lu = LUDecomposition(a, n: n) else {
            Issue.record("non-singular matrix reported singular", sourceLocation: sourceLocation)
            return
        }
        let l = lu.lower, u = lu.upper, p = lu.permutation
        for i in 0..<n {
            #expect(l[i * n + i] == 1, sourceLocation: sourceLocation)
            for j in 0..<n {
                if j > i { #expect(l[i * n + j] == 0, sourceLocation: sourceLocation) }
                if j < i { #expect(u[i * n + j] == 0, sourceLocation: sourceLocation) }
                #expect(Swift.abs(l[i * n + j]) <= 1, "partial pivoting bounds the multipliers", sourceLocation: sourceLocation)
            }
            let row = p[(i * n)..<((i + 1) * n)]
            #expect(row.filter { $0 == 1 }.count == 1 && row.filter { $0 == 0 }.count == n - 1, sourceLocation: sourceLocation)
        }
        #expect(Set(lu.perm) == Set(0..<n), sourceLocation: sourceLocation)
        let scale = a.map(Swift.abs).max() ?? 1
        expectClose(multiply(p, a, n), multiply(l, u, n), tolerance: 1e-14 * scale * Double(n), sourceLocation: sourceLocation)
        // The permutation sign is the determinant of P.
        let detP = LUDecomposition(p, n: n)?.determinant
        #expect(detP == lu.permutationSign, sourceLocation: sourceLocation)
    }

    @Test func factorsReconstructPA() {
        Self.expectFactorisation(Self.strang, 3)
        Self.expectFactorisation(Self.unimodular, 3)
        Self.expectFactorisation([0, 1, 1, 0], 2)
        Self.expectFactorisation([0, -3, 0, 0, 0, 0.5, 2, 0, 0], 3)
        for (n, seed) in [(4, 1), (5, 2), (7, 3)] {
            Self.expectFactorisation(normal([n, n], seed: UInt64(seed)).doubles, n)
        }
    }

    @Test func strangFactorsWithPartialPivoting() throws {
        // By hand with partial pivoting: pivot row 2 (|4|) first; multipliers 1/2 and −1/2 give
        // rows [0, 4, 1] and [0, 4, 2]; the tie |4| = |4| keeps the first, multiplier 1; U₃₃ = 1.
        // So P picks rows (1, 0, 2), L = [[1,0,0],[1/2,1,0],[−1/2,1,1]], U = [[4,−6,0],[0,4,1],[0,0,1]],
        // det = (−1)·4·4·1 = −16.
        let lu = try #require(LUDecomposition(Self.strang, n: 3))
        #expect(lu.perm == [1, 0, 2])
        #expect(lu.permutationSign == -1)
        #expect(lu.lower == [1, 0, 0, 0.5, 1, 0, -0.5, 1, 1])
        #expect(lu.upper == [4, -6, 0, 0, 4, 1, 0, 0, 1])
    }

    @Test func inverseAndSolve() throws {
        for (n, seed) in [(3, 11), (6, 12)] {
            let a = normal([n, n], seed: UInt64(seed)).doubles
            let lu = try #require(LUDecomposition(a, n: n))
            expectClose(Self.multiply(a, lu.inverse, n), Self.identity(n), tolerance: 1e-12)
            expectClose(Self.multiply(lu.inverse, a, n), Self.identity(n), tolerance: 1e-12)
            let t = Tensor(a, shape: [n, n])
            expectClose(t.matmul(t.inverse()), Self.identity(n), tolerance: 1e-12)
        }
        // reference: by hand, [[2,1],[1,3]]·x = [[3, 1],[5, 2]] has x = [[0.8, 0.2],[1.4, 0.6]]
        let lu = try #require(LUDecomposition([2, 1, 1, 3], n: 2))
        expectClose(lu.solve([3, 1, 5, 2], columns: 2), [0.8, 0.2, 1.4, 0.6], tolerance: 1e-15)
        let strang = try #require(LUDecomposition(Self.strang, n: 3))
        expectClose(strang.inverse, Self.strangInverse, tolerance: 1e-15)
    }

    @Test func singularMatricesReturnNil() {
        // Exactly singular in floating point: elimination produces an exact zero pivot.
        #expect(LUDecomposition([1, 2, 2, 4], n: 2) == nil)  // row 2 = 2·row 1
        #expect(LUDecomposition([0, 0, 0, 0], n: 2) == nil)
        #expect(LUDecomposition([1, 2, 3, 0, 0, 0, 4, 5, 6], n: 3) == nil)  // zero row
        #expect(LUDecomposition([1, 2, 3, 1, 2, 3, 4, 5, 6], n: 3) == nil)  // repeated row
        #expect(LUDecomposition([1, 0, 1, 0, 1, 1, 1, 1, 2], n: 3) == nil)  // row 3 = row 1 + row 2
        #expect(LUDecomposition([2, 0, 0, 0, 3, 0, 0, 0, 0], n: 3) == nil)  // diag(2, 3, 0)
        #expect(LUDecomposition([.nan, 1, 1, 1], n: 2) == nil)
        #expect(Tensor([1, 2, 2, 4] as [Double], shape: [2, 2]).luDecomposition() == nil)
        // det of a singular matrix is 0 (not NaN), in both precisions.
        #expect(Tensor([1, 2, 2, 4] as [Double], shape: [2, 2]).determinant().item == 0)
        #expect(Tensor([1, 2, 3, 1, 2, 3, 4, 5, 6], shape: [3, 3], dtype: .float32).determinant().item == 0)
    }
}
