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

    /// A random orthogonal n×n matrix (Gram–Schmidt QR of a Gaussian matrix, with the
    /// signs of R's diagonal folded in so the distribution is Haar).
    public static func randomOrthogonal(_ n: Int, using rng: inout some RandomNumberGenerator) -> [Double] {
        var cols = (0..<n).map { _ in (0..<n).map { _ in rng.nextNormal() } }
        for j in 0..<n {
            for _ in 0..<2 {  // re-orthogonalise once for stability
                for k in 0..<j {
                    var dot = 0.0
                    for i in 0..<n { dot += cols[j][i] * cols[k][i] }
                    for i in 0..<n { cols[j][i] -= dot * cols[k][i] }
                }
            }
            var norm = 0.0
            for i in 0..<n { norm += cols[j][i] * cols[j][i] }
            norm = norm.squareRoot()
            for i in 0..<n { cols[j][i] /= norm }
        }
        var q = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { q[i * n + j] = cols[j][i] } }
        return q
    }
}
