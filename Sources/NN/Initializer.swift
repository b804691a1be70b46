import Tensor
import RealModule

/// Weight initialisation schemes.
public enum Initializer: Sendable, Equatable {
    case zeros
    case constant(Double)
    case uniform(Double, Double)
    case normal(std: Double)
    /// He et al. 2015 uniform with negative slope `a`: bound = √(6 / ((1 + a²)·fanIn)).
    /// PyTorch's default for Linear and Conv2d weights is a = √5, i.e. bound = 1/√fanIn.
    case kaimingUniform(a: Double)
    /// Glorot & Bengio 2010: bound = √(6 / (fanIn + fanOut)).
    case xavierUniform
    /// The Q factor of a QR decomposition of a Gaussian matrix (square weights only).
    case orthogonal

    /// PyTorch's default weight initialisation for Linear and Conv2d.
    public static let torchDefault = Initializer.kaimingUniform(a: 5.0.squareRoot())

    /// fanIn, fanOut for a weight of `shape` ([out, in] or [out, in, kh, kw]).
    public static func fans(_ shape: [Int]) -> (Int, Int) {
        let receptive = shape.dropFirst(2).reduce(1, *)
        let fanIn = shape.count > 1 ? shape[1] * receptive : shape[0]
        return (fanIn, shape[0] * receptive)
    }

    public func make(_ shape: [Int], dtype: DType = .float32, using rng: inout some RandomNumberGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(shape)
        switch self {
        case .zeros: return .zeros(shape, dtype: dtype)
        case .constant(let c): return .full(c, shape: shape, dtype: dtype)
        case .uniform(let lo, let hi): return .uniform(shape, lo: lo, hi: hi, dtype: dtype, using: &rng)
        case .normal(let std): return .randn(shape, std: std, dtype: dtype, using: &rng)
        case .kaimingUniform(let a):
            let bound = (6.0 / ((1 + a * a) * Double(Swift.max(fanIn, 1)))).squareRoot()
            return .uniform(shape, lo: -bound, hi: bound, dtype: dtype, using: &rng)
        case .xavierUniform:
            let bound = (6.0 / Double(Swift.max(fanIn + fanOut, 1))).squareRoot()
            return .uniform(shape, lo: -bound, hi: bound, dtype: dtype, using: &rng)
        case .orthogonal:
            precondition(shape.count == 2 && shape[0] == shape[1], "orthogonal init needs a square shape, got \(shape)")
            return Tensor(Initializer.randomOrthogonal(shape[0], using: &rng), shape: shape, dtype: dtype)
        }
    }

    /// A random orthogonal n×n matrix (row-major): Gram–Schmidt QR of a Gaussian matrix, with
    /// each column re-orthogonalised once ("twice is enough"). Taking Q with R's diagonal positive
    /// makes the distribution Haar. Columns are stored contiguously while they are built.
    public static func randomOrthogonal(_ n: Int, using rng: inout some RandomNumberGenerator) -> [Double] {
        var cols = [Double](repeating: 0, count: n * n)  // column j at cols[j*n ..< (j+1)*n]
        for i in 0..<(n * n) { cols[i] = rng.nextNormal() }
        cols.withUnsafeMutableBufferPointer { buf in
            let c = buf.baseAddress!
            for j in 0..<n {
                let v = c + j * n
                for _ in 0..<2 {
                    for k in 0..<j {
                        let q = c + k * n
                        var dot = 0.0
                        for i in 0..<n { dot += v[i] * q[i] }
                        for i in 0..<n { v[i] -= dot * q[i] }
                    }
                }
                var norm = 0.0
                for i in 0..<n { norm += v[i] * v[i] }
                let inv = 1 / norm.squareRoot()
                for i in 0..<n { v[i] *= inv }
            }
        }
        var q = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { q[i * n + j] = cols[j * n + i] } }
        return q
    }
}
