import RealModule

/// xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64: the engine's explicit,
/// reproducible random number generator. The same seed gives the same stream on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// An independent generator derived from this one's stream (for per-worker streams).
    public mutating func split() -> SeededGenerator { SeededGenerator(seed: next()) }
}

extension RandomNumberGenerator {
    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal sample (Box–Muller, one value per call).
    @inline(__always) public mutating func nextNormal() -> Double {
        var u = nextUnit()
        while u <= 0 { u = nextUnit() }
        let v = nextUnit()
        return (-2 * Double.log(u)).squareRoot() * Double.cos(2 * .pi * v)
    }
}

extension Tensor {
    /// Samples from N(mean, std²).
    public static func randn(_ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32,
                             using rng: inout some RandomNumberGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var v = [Double](repeating: 0, count: n)
        for i in 0..<n { v[i] = mean + std * rng.nextNormal() }
        return Tensor(v, shape: shape, dtype: dtype)
    }

    /// Samples from U[lo, hi).
    public static func uniform(_ shape: [Int], lo: Double = 0, hi: Double = 1, dtype: DType = .float32,
                               using rng: inout some RandomNumberGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var v = [Double](repeating: 0, count: n)
        for i in 0..<n { v[i] = lo + (hi - lo) * rng.nextUnit() }
        return Tensor(v, shape: shape, dtype: dtype)
    }
}
