import Tensor

// MARK: - Inputs for gradient checks

/// Float64 samples from N(0, scale²) with a fixed seed.
public func normal(_ shape: [Int], scale: Double = 1, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor.randn(shape, std: scale, dtype: .float64, using: &rng)
}

/// Float64 samples from U[lo, hi) with a fixed seed.
public func uniform(_ shape: [Int], _ lo: Double, _ hi: Double, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, lo: lo, hi: hi, dtype: .float64, using: &rng)
}

/// Moves every element that lies within `margin` of one of `kinks` to distance `margin`
/// (on its own side), so finite differences never straddle a kink of relu, abs or clamp.
public func avoiding(_ kinks: [Double], margin: Double = 0.05, _ x: Tensor) -> Tensor {
    let v = x.doubles.map { value in
        var y = value
        for k in kinks where Swift.abs(y - k) < margin { y = y < k ? k - margin : k + margin }
        return y
    }
    return Tensor(v, shape: x.shape, dtype: x.dtype)
}

/// Float64 values that are pairwise at least `gap / 2` apart (a shuffled arithmetic
/// sequence plus small noise), so maxima are unique and never tie under a perturbation.
public func distinct(_ shape: [Int], gap: Double = 0.1, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    var order = Array(0..<n)
    order.shuffle(using: &rng)
    let v = order.map { (Double($0) - Double(n) / 2) * gap + (rng.nextUnit() - 0.5) * gap / 2 }
    return Tensor(v, shape: shape, dtype: .float64)
}

/// A well-conditioned n×n Float64 matrix: scale·I plus N(0, 0.3²) noise.
public func wellConditioned(_ n: Int, diagonal scale: Double = 2, seed: UInt64) -> Tensor {
    var v = normal([n, n], scale: 0.3, seed: seed).doubles
    for i in 0..<n { v[i * n + i] += scale }
    return Tensor(v, shape: [n, n], dtype: .float64)
}
