import Foundation

/// Eigen-decomposition A = V Λ Vᵀ of a real symmetric matrix by the cyclic Jacobi method
/// (Golub & Van Loan, "Matrix Computations", §8.5): rotations J(p, q, θ) zero one off-diagonal
/// element at a time, sweeping all pairs p < q until the off-diagonal mass is negligible.
/// Quadratically convergent; O(n³) per sweep, a handful of sweeps. Accurate for the feature
/// covariances here (n ≤ 512); used for the Mahalanobis precision matrix and for PCA.
public struct SymmetricEigen: Sendable {
    /// n.
    public let n: Int
    /// Eigenvalues in descending order.
    public let values: [Double]
    /// Eigenvectors, row-major n × n: column j (elements `vectors[i * n + j]`) is the unit
    /// eigenvector of `values[j]`.
    public let vectors: [Double]

    /// Decomposes the symmetric matrix `a` (row-major n × n; only symmetry up to rounding is assumed).
    /// - Parameters:
    ///   - a: the matrix.
    ///   - n: its order.
    ///   - maxSweeps: a safety bound; convergence normally takes 6–10 sweeps.
    public init(_ a: [Double], n: Int, maxSweeps: Int = 60) {
        precondition(n >= 1 && a.count == n * n, "SymmetricEigen: \(a.count) values for order \(n)")
        var m = a
        // Symmetrise: rounding in a computed covariance can leave tiny asymmetries.
        for i in 0..<n { for j in (i + 1)..<n { let s = 0.5 * (m[i * n + j] + m[j * n + i]); m[i * n + j] = s; m[j * n + i] = s } }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = m.reduce(0) { $0 + $1 * $1 }
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                for _ in 0..<maxSweeps {
                    var off = 0.0
                    for p in 0..<n { for q in (p + 1)..<n { off += m[p * n + q] * m[p * n + q] } }
                    if off <= 1e-30 * total || off == 0 { break }
                    for p in 0..<n {
                        for q in (p + 1)..<n {
                            let apq = m[p * n + q]
                            if apq == 0 { continue }
                            let app = m[p * n + p], aqq = m[q * n + q]
                            if Swift.abs(apq) < 1e-300 {
                                m[p * n + q] = 0; m[q * n + p] = 0
                                continue
                            }
                            // tan φ = t solves t² + 2θt − 1 = 0 (the smaller root), θ = (a_qq − a_pp) / (2 a_pq).
                            let theta = (aqq - app) / (2 * apq)
                            let t = (theta >= 0 ? 1.0 : -1.0) / (Swift.abs(theta) + (theta * theta + 1).squareRoot())
                            let c = 1 / (t * t + 1).squareRoot(), s = t * c
                            for r in 0..<n where r != p && r != q {
                                let arp = m[r * n + p], arq = m[r * n + q]
                                let newP = c * arp - s * arq, newQ = s * arp + c * arq
                                m[r * n + p] = newP; m[p * n + r] = newP
                                m[r * n + q] = newQ; m[q * n + r] = newQ
                            }
                            m[p * n + p] = app - t * apq
                            m[q * n + q] = aqq + t * apq
                            m[p * n + q] = 0; m[q * n + p] = 0
                            for r in 0..<n {
                                let vrp = v[r * n + p], vrq = v[r * n + q]
                                v[r * n + p] = c * vrp - s * vrq
                                v[r * n + q] = s * vrp + c * vrq
                            }
                        }
                    }
                }
            }
        }
        let order = (0..<n).sorted { m[$0 * n + $0] > m[$1 * n + $1] }
        values = order.map { m[$0 * n + $0] }
        var sorted = [Double](repeating: 0, count: n * n)
        for (j, k) in order.enumerated() { for i in 0..<n { sorted[i * n + j] = v[i * n + k] } }
        vectors = sorted
        self.n = n
    }

    /// The Moore–Penrose pseudo-inverse V Λ⁺ Vᵀ, where Λ⁺ inverts eigenvalues above
    /// n · ε_Double · max|λ| and zeroes the rest (scipy's `pinvh` default cutoff).
    public func pseudoInverse() -> [Double] {
        let largest = values.map(Swift.abs).max() ?? 0
        let cutoff = Double(n) * Double.ulpOfOne * largest
        var out = [Double](repeating: 0, count: n * n)
        for k in 0..<n where values[k] > cutoff {
            let inv = 1 / values[k]
            for i in 0..<n {
                let vik = vectors[i * n + k] * inv
                if vik == 0 { continue }
                for j in 0..<n { out[i * n + j] += vik * vectors[j * n + k] }
            }
        }
        return out
    }
}
