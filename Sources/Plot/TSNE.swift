import Foundation

/// t-distributed stochastic neighbour embedding into two dimensions, with the exact O(N²) gradient.
///
/// van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 9 (2008). Input affinities
/// p_{j|i} ∝ exp(−β_i ‖x_i − x_j‖²) with β_i set by bisection so that 2^{H(P_i)} equals the
/// perplexity; p_ij = (p_{j|i} + p_{i|j}) / 2N. Output affinities q_ij ∝ (1 + ‖y_i − y_j‖²)⁻¹.
/// Gradient ∂C/∂y_i = 4 Σ_j (p_ij − q_ij)(1 + ‖y_i − y_j‖²)⁻¹ (y_i − y_j), minimised by
/// gradient descent with momentum (0.5, then 0.8), per-coordinate adaptive gains (+0.2 / ×0.8,
/// floor 0.01) and early exaggeration of P.
///
/// Deviations and choices, following scikit-learn ≥ 1.2: the learning rate defaults to
/// max(N / exaggeration / 4, 50); the PCA initialisation is scaled so that the first coordinate
/// has standard deviation 10⁻⁴. Exact only: Barnes–Hut is not implemented, so the cost is
/// O(N²) time and memory per iteration and inputs are limited to ``maximumPoints`` points
/// (subsample larger sets). The result is centred at the origin.
public struct TSNE: Sendable {
    /// How the embedding starts.
    public enum Initialization: Sendable, Hashable {
        /// The first two principal components of the input (computed by power iteration from a
        /// random start), scaled to a standard deviation of 10⁻⁴: stable global layout.
        case pca
        /// Independent N(0, 10⁻⁸) coordinates.
        case random
    }

    /// The effective number of neighbours (5–50 typical; must be below the number of points).
    public var perplexity: Double
    /// Gradient-descent iterations in total.
    public var iterations: Int
    /// Step size, or nil for max(N / ``earlyExaggeration`` / 4, 50).
    public var learningRate: Double?
    /// Factor on P during the first ``exaggerationIterations`` iterations.
    public var earlyExaggeration: Double
    /// Iterations with exaggerated P and momentum 0.5.
    public var exaggerationIterations: Int
    /// How the embedding starts.
    public var initialization: Initialization

    /// The largest input the exact method accepts (its N × N matrices take 2 · 8 · N² bytes).
    public static let maximumPoints = 5000

    /// t-SNE settings.
    ///
    /// - Parameters:
    ///   - perplexity: effective number of neighbours.
    ///   - iterations: total gradient-descent iterations.
    ///   - learningRate: step size, or nil for the automatic one.
    ///   - earlyExaggeration: factor on P early on.
    ///   - exaggerationIterations: how long the exaggeration lasts.
    ///   - initialization: `.pca` or `.random`.
    public init(perplexity: Double = 30, iterations: Int = 1000, learningRate: Double? = nil,
                earlyExaggeration: Double = 12, exaggerationIterations: Int = 250,
                initialization: Initialization = .pca) {
        self.perplexity = perplexity
        self.iterations = iterations
        self.learningRate = learningRate
        self.earlyExaggeration = earlyExaggeration
        self.exaggerationIterations = exaggerationIterations
        self.initialization = initialization
    }

    /// Embeds `points` in two dimensions.
    ///
    /// - Parameters:
    ///   - points: N rows of equal dimension, all finite; 2 ≤ N ≤ ``maximumPoints``, N > perplexity.
    ///   - rng: the random source of the initialisation; the same seed gives the same embedding.
    /// - Returns: the x and y coordinates of the embedded points, in input order.
    /// - Throws: ``PlotError`` for empty, ragged or non-finite input, or bad settings.
    public func embed(_ points: [[Double]], using rng: inout some RandomNumberGenerator) throws -> (x: [Double], y: [Double]) {
        let n = points.count
        guard n >= 2 else { throw PlotError.empty("t-SNE input (need at least 2 points, got \(n))") }
        guard n <= TSNE.maximumPoints else {
            throw PlotError.invalidArgument("t-SNE: \(n) points exceed the exact method's limit of \(TSNE.maximumPoints); subsample the input")
        }
        let dim = points[0].count
        guard dim >= 1 else { throw PlotError.empty("t-SNE input (points have no coordinates)") }
        for (i, p) in points.enumerated() {
            if p.count != dim { throw PlotError.lengthMismatch(series: "t-SNE input", field: "points[\(i)]", expected: dim, actual: p.count) }
            try requireFinite(p, series: "t-SNE input", field: "points[\(i)]")
        }
        guard perplexity > 0, perplexity < Double(n) else {
            throw PlotError.invalidArgument("t-SNE: perplexity \(perplexity) must be in (0, \(n)) for \(n) points")
        }
        guard iterations >= 1, exaggerationIterations >= 0, earlyExaggeration >= 1 else {
            throw PlotError.invalidArgument("t-SNE: iterations \(iterations), exaggeration \(earlyExaggeration) × \(exaggerationIterations) out of range")
        }
        let rate = learningRate ?? Swift.max(Double(n) / earlyExaggeration / 4, 50)
        guard rate > 0, rate.isFinite else { throw PlotError.invalidArgument("t-SNE: learning rate \(rate) must be positive") }

        var p = affinities(points)
        var y = initialEmbedding(points, using: &rng)
        optimize(&y, p: &p, n: n, rate: rate)
        var xs = [Double](repeating: 0, count: n), ys = [Double](repeating: 0, count: n)
        let meanX = (0..<n).reduce(0.0) { $0 + y[2 * $1] } / Double(n)
        let meanY = (0..<n).reduce(0.0) { $0 + y[2 * $1 + 1] } / Double(n)
        for i in 0..<n {
            xs[i] = y[2 * i] - meanX
            ys[i] = y[2 * i + 1] - meanY
        }
        return (xs, ys)
    }

    /// Symmetrised input affinities p_ij (row-major N × N, zero diagonal, summing to 1).
    func affinities(_ points: [[Double]]) -> [Double] {
        let n = points.count
        var distances = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in (i + 1)..<n {
                var s = 0.0
                for (a, b) in zip(points[i], points[j]) { s += (a - b) * (a - b) }
                distances[i * n + j] = s
                distances[j * n + i] = s
            }
        }
        var conditional = [Double](repeating: 0, count: n * n)
        let target = log(perplexity)
        var row = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var smallest = Double.infinity
            for j in 0..<n where j != i { smallest = Swift.min(smallest, distances[i * n + j]) }
            var beta = 1.0, lo = 0.0, hi = Double.infinity
            for _ in 0..<200 {
                var sum = 0.0, weighted = 0.0
                for j in 0..<n where j != i {
                    let d = distances[i * n + j] - smallest
                    let e = exp(-beta * d)
                    row[j] = e
                    sum += e
                    weighted += d * e
                }
                row[i] = 0
                // Entropy H = log Σ + β Σ d·e / Σ (distances shifted by the smallest one).
                let entropy = log(sum) + beta * weighted / sum
                for j in 0..<n { conditional[i * n + j] = row[j] / sum }
                let difference = entropy - target
                if abs(difference) < 1e-5 { break }
                if difference > 0 {
                    lo = beta
                    beta = hi.isInfinite ? beta * 2 : (beta + hi) / 2
                } else {
                    hi = beta
                    beta = (beta + lo) / 2
                }
            }
        }
        var p = [Double](repeating: 0, count: n * n)
        let scale = 1 / (2 * Double(n))
        for i in 0..<n {
            for j in 0..<n where j != i {
                p[i * n + j] = Swift.max((conditional[i * n + j] + conditional[j * n + i]) * scale, 1e-12)
            }
        }
        return p
    }

    /// Starting coordinates, interleaved (y₀ₓ, y₀ᵧ, y₁ₓ, …).
    func initialEmbedding(_ points: [[Double]], using rng: inout some RandomNumberGenerator) -> [Double] {
        let n = points.count, dim = points[0].count
        var y = [Double](repeating: 0, count: 2 * n)
        switch initialization {
        case .random:
            for k in 0..<(2 * n) { y[k] = 1e-4 * gaussian(using: &rng) }
        case .pca:
            var mean = [Double](repeating: 0, count: dim)
            for p in points { for d in 0..<dim { mean[d] += p[d] / Double(n) } }
            let centred = points.map { p in (0..<dim).map { p[$0] - mean[$0] } }
            var components: [[Double]] = []
            for _ in 0..<Swift.min(2, dim) {
                var v = (0..<dim).map { _ in gaussian(using: &rng) }
                for _ in 0..<100 {
                    // v ← Xᵀ X v, deflated against earlier components, normalised.
                    let projections = centred.map { row in zip(row, v).reduce(0.0) { $0 + $1.0 * $1.1 } }
                    var next = [Double](repeating: 0, count: dim)
                    for (row, s) in zip(centred, projections) { for d in 0..<dim { next[d] += row[d] * s } }
                    for c in components {
                        let dot = zip(next, c).reduce(0.0) { $0 + $1.0 * $1.1 }
                        for d in 0..<dim { next[d] -= dot * c[d] }
                    }
                    let norm = sqrt(next.reduce(0.0) { $0 + $1 * $1 })
                    guard norm > 0 else { break }
                    v = next.map { $0 / norm }
                }
                // Fix the sign so that the largest coordinate of v is positive.
                if let m = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[m] < 0 { v = v.map { -$0 } }
                components.append(v)
            }
            for i in 0..<n {
                for (k, c) in components.enumerated() {
                    y[2 * i + k] = zip(centred[i], c).reduce(0.0) { $0 + $1.0 * $1.1 }
                }
            }
            let first = (0..<n).map { y[2 * $0] }
            let mean0 = first.reduce(0, +) / Double(n)
            let std = sqrt(first.reduce(0.0) { $0 + ($1 - mean0) * ($1 - mean0) } / Double(n))
            if std > 0 {
                for k in 0..<(2 * n) { y[k] *= 1e-4 / std }
            } else {
                for k in 0..<(2 * n) { y[k] = 1e-4 * gaussian(using: &rng) }
            }
        }
        return y
    }

    /// Gradient descent with momentum, gains and early exaggeration.
    ///
    /// One pass over the pairs i < j per iteration accumulates Z = Σ_{i≠j} t_ij with
    /// t_ij = (1 + ‖y_i − y_j‖²)⁻¹, the attraction Σ_j p_ij t_ij (y_i − y_j) and the repulsion
    /// Σ_j t_ij² (y_i − y_j); then ∂C/∂y_i = 4 (α · attraction − repulsion / Z), α the exaggeration.
    func optimize(_ y: inout [Double], p: inout [Double], n: Int, rate: Double) {
        var update = [Double](repeating: 0, count: 2 * n)
        var gains = [Double](repeating: 1, count: 2 * n)
        var attraction = [Double](repeating: 0, count: 2 * n)
        var repulsion = [Double](repeating: 0, count: 2 * n)
        for iteration in 0..<iterations {
            let exaggeration = iteration < exaggerationIterations ? earlyExaggeration : 1
            let momentum = iteration < exaggerationIterations ? 0.5 : 0.8
            var z = 0.0
            y.withUnsafeBufferPointer { y in
                p.withUnsafeBufferPointer { p in
                    attraction.withUnsafeMutableBufferPointer { a in
                        repulsion.withUnsafeMutableBufferPointer { r in
                            for k in 0..<(2 * n) {
                                a[k] = 0
                                r[k] = 0
                            }
                            for i in 0..<n {
                                let yi0 = y[2 &* i], yi1 = y[2 &* i &+ 1]
                                let row = i &* n
                                var a0 = 0.0, a1 = 0.0, r0 = 0.0, r1 = 0.0, zi = 0.0
                                var j = i &+ 1
                                while j < n {
                                    let d0 = yi0 - y[2 &* j], d1 = yi1 - y[2 &* j &+ 1]
                                    let t = 1 / (1 + d0 * d0 + d1 * d1)
                                    let pt = p[row &+ j] * t, tt = t * t
                                    zi += t
                                    a0 += pt * d0
                                    a1 += pt * d1
                                    r0 += tt * d0
                                    r1 += tt * d1
                                    a[2 &* j] -= pt * d0
                                    a[2 &* j &+ 1] -= pt * d1
                                    r[2 &* j] -= tt * d0
                                    r[2 &* j &+ 1] -= tt * d1
                                    j &+= 1
                                }
                                a[2 &* i] += a0
                                a[2 &* i &+ 1] += a1
                                r[2 &* i] += r0
                                r[2 &* i &+ 1] += r1
                                z += 2 * zi
                            }
                        }
                    }
                }
            }
            let inverseZ = 1 / z
            for k in 0..<(2 * n) {
                let gradient = 4 * (exaggeration * attraction[k] - repulsion[k] * inverseZ)
                let sameSign = (gradient > 0) == (update[k] > 0)
                gains[k] = Swift.max(sameSign ? gains[k] * 0.8 : gains[k] + 0.2, 0.01)
                update[k] = momentum * update[k] - rate * gains[k] * gradient
                y[k] += update[k]
            }
        }
    }
}

/// A standard normal draw (Box–Muller) from `rng`.
func gaussian(using rng: inout some RandomNumberGenerator) -> Double {
    let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
    let u2 = Double.random(in: 0..<1, using: &rng)
    return sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, seedable generator for synthetic
/// figure data and t-SNE initialisation, so that Plot needs no other module's RNG.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
