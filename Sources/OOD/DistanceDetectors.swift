import Foundation
import Dispatch
import Tensor

/// Mahalanobis distance to the nearest class mean in feature space (Lee et al. 2018, eq. 2):
///
///     μ_k = mean of the ID training features of class k
///     Σ   = (1/N) Σᵢ (hᵢ − μ_{yᵢ})(hᵢ − μ_{yᵢ})ᵀ          (tied covariance)
///     score(x) = max_k −(h(x) − μ_k)ᵀ Σ⁺ (h(x) − μ_k)
///
/// Σ⁺ is the pseudo-inverse (`SymmetricEigen.pseudoInverse`, scipy `pinvh` cutoff), as the
/// reference implementation's scikit-learn `EmpiricalCovariance` uses; computed in Double.
/// Deviations from the paper: penultimate features only (no ensemble over layers, no logistic
/// regression on OOD validation data) and no input pre-processing.
///
/// Works on classifier features (`extractor`) or, without one, on the data's own vectors.
public final class MahalanobisDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor?
    /// Class means, row-major (K × D), and the precision Σ⁺ (D × D), set by `fit`.
    public private(set) var means: [Double] = []
    public private(set) var precision: [Double] = []
    public private(set) var dimension = 0
    public private(set) var classes = 0

    public init(extractor: FeatureExtractor?, name: String = "mahalanobis") {
        self.extractor = extractor
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        guard let labels = train.data.labels else { throw DetectorError(detector: name, dataset: train.key, kind: .needsLabels) }
        let features = try featureMatrix(train)
        let n = features.shape[0], d = features.shape[1]
        guard n >= 2 else { throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("\(n) examples")) }
        let k = (labels.max() ?? 0) + 1
        let x = features.doubles
        var means = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
        for i in 0..<n {
            counts[labels[i]] += 1
            for j in 0..<d { means[labels[i] * d + j] += x[i * d + j] }
        }
        for c in 0..<k where counts[c] > 0 { for j in 0..<d { means[c * d + j] /= Double(counts[c]) } }
        var centred = x
        for i in 0..<n { for j in 0..<d { centred[i * d + j] -= means[labels[i] * d + j] } }
        let c = Tensor(centred, shape: [n, d])
        let covariance = withoutGrad { c.transposed().matmul(c) }.doubles.map { $0 / Double(n) }
        precision = SymmetricEigen(covariance, n: d).pseudoInverse()
        // Classes absent from the training set get no mean: mark them so they never win.
        self.means = means
        self.classes = k
        self.dimension = d
        present = counts.map { $0 > 0 }
    }

    private var present: [Bool] = []

    func featureMatrix(_ data: DetectorInput) throws -> Tensor {
        if let extractor { return try data.features(extractor) }
        return data.data.doubleTensor
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard !precision.isEmpty else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        let h = try featureMatrix(data).cast(to: .float64)
        let m = h.shape[0], d = dimension
        precondition(h.shape[1] == d, "Mahalanobis: features \(h.shape), fitted on dimension \(d)")
        let p = Tensor(precision, shape: [d, d])
        let mu = Tensor(means, shape: [classes, d])
        let (a, cross, muP) = withoutGrad { () -> (Tensor, Tensor, Tensor) in
            let a = h.matmul(p)                         // (M, D): hᵢᵀ Σ⁺
            return (a, a.matmul(mu.transposed()), mu.matmul(p))  // (M, K): hᵢᵀ Σ⁺ μ_k; (K, D)
        }
        let hv = h.doubles, av = a.doubles, cv = cross.doubles, mpv = muP.doubles
        var muTerm = [Double](repeating: 0, count: classes)
        for c in 0..<classes { for j in 0..<d { muTerm[c] += mpv[c * d + j] * means[c * d + j] } }
        var out = [Double](repeating: 0, count: m)
        for i in 0..<m {
            var quad = 0.0
            for j in 0..<d { quad += av[i * d + j] * hv[i * d + j] }
            var best = -Double.infinity
            for c in 0..<classes where present[c] {
                best = Swift.max(best, -(quad - 2 * cv[i * classes + c] + muTerm[c]))
            }
            out[i] = best
        }
        return try checkedScores(out, detector: name, dataset: data.key)
    }
}

/// Deep nearest neighbours (Sun, Ming, Zhu & Li 2022, "Out-of-distribution detection with deep
/// nearest neighbors"): with features normalised to unit length, z = h / ‖h‖,
///
///     score(x) = −‖z(x) − z_(k)‖,
///
/// z_(k) the k-th nearest normalised ID training feature (k = 50 by default, the paper's
/// CIFAR-10 choice). Exact search: squared distances ‖a‖² + ‖b‖² − 2 a·b from a BLAS matrix
/// product per block of query rows, then a selection of the k-th smallest per row. A feature
/// vector of norm 0 stays 0 (its distance to every unit vector is 1).
/// Works on classifier features (`extractor`) or, without one, on the data's own vectors.
public final class KNNDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor?
    public let k: Int
    /// Normalise features to unit length (the paper's method); false uses raw features.
    public let normalize: Bool
    /// Query rows per matrix product.
    public var blockRows = 256
    private var bank: Tensor?
    private var bankNorms: [Float] = []

    public init(extractor: FeatureExtractor?, k: Int = 50, normalize: Bool = true, name: String = "knn") {
        precondition(k >= 1, "KNNDetector: k \(k)")
        self.extractor = extractor
        self.k = k
        self.normalize = normalize
        self.name = name
    }

    /// The rows scaled to unit length (zero rows stay zero), or unchanged without normalisation.
    func prepared(_ features: Tensor) -> Tensor {
        guard normalize else { return features.contiguous().detached }
        let n = features.shape[0], d = features.shape[1]
        var v = features.scalars
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += v[i * d + j] * v[i * d + j] }
            let norm = s.squareRoot()
            if norm > 0 { for j in 0..<d { v[i * d + j] /= norm } }
        }
        return Tensor(v, shape: [n, d])
    }

    func featureMatrix(_ data: DetectorInput) throws -> Tensor {
        if let extractor { return try data.features(extractor) }
        return data.data.tensor
    }

    static func squaredNorms(_ t: Tensor) -> [Float] {
        let n = t.shape[0], d = t.shape[1]
        let v = t.scalars
        return (0..<n).map { i in
            var s: Float = 0
            for j in 0..<d { s += v[i * d + j] * v[i * d + j] }
            return s
        }
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        let z = prepared(try featureMatrix(train))
        guard z.shape[0] >= k else {
            throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("\(z.shape[0]) examples, fewer than k = \(k)"))
        }
        bank = z
        bankNorms = Self.squaredNorms(z)
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard let bank else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        let q = prepared(try featureMatrix(data))
        let m = q.shape[0], n = bank.shape[0]
        let qNorms = Self.squaredNorms(q)
        var out = [Double](repeating: 0, count: m)
        let bankT = bank.transposed()
        var start = 0
        while start < m {
            let end = Swift.min(m, start + blockRows)
            let dots = withoutGrad { q.slice(axis: 0, start..<end).matmul(bankT) }.contiguous()
            let rows = end - start
            let threads = Swift.max(1, Swift.min(Engine.threads, rows))
            let box = ResultBox(count: rows)
            let kk = k, norms = bankNorms, first = start
            dots.withUnsafePointer(as: Float.self) { base in
                let shared = SendablePointer(base)
                DispatchQueue.concurrentPerform(iterations: threads) { part in
                    var scratch = [Float](repeating: 0, count: n)
                    for r in stride(from: part, to: rows, by: threads) {
                        let row = shared.pointer + r * n
                        let qn = qNorms[first + r]
                        scratch.withUnsafeMutableBufferPointer { buf in
                            for j in 0..<n { buf[j] = Swift.max(0, qn + norms[j] - 2 * row[j]) }
                            box.set(r, -Double(selectKth(buf, kk - 1)).squareRoot())
                        }
                    }
                }
            }
            for (r, v) in box.values.enumerated() { out[start + r] = v }
            start = end
        }
        return try checkedScores(out, detector: name, dataset: data.key)
    }
}

/// A pointer shared read-only by workers that finish before it dies.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}

/// Per-index results written by parallel workers at disjoint indices.
final class ResultBox: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Double>
    private let count: Int
    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: Swift.max(count, 1))
        storage.initialize(repeating: 0, count: Swift.max(count, 1))
    }
    func set(_ i: Int, _ v: Double) { storage[i] = v }
    var values: [Double] { Array(UnsafeBufferPointer(start: storage, count: count)) }
    deinit { storage.deallocate() }
}

/// The element that would be at position `index` if `buffer` were sorted ascending
/// (quickselect with median-of-three pivots; reorders `buffer`). NaN-free input assumed.
func selectKth(_ buffer: UnsafeMutableBufferPointer<Float>, _ index: Int) -> Float {
    precondition(index >= 0 && index < buffer.count, "selectKth: index \(index) of \(buffer.count)")
    var lo = 0, hi = buffer.count - 1
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        // Median of three as pivot.
        if buffer[mid] < buffer[lo] { buffer.swapAt(mid, lo) }
        if buffer[hi] < buffer[lo] { buffer.swapAt(hi, lo) }
        if buffer[hi] < buffer[mid] { buffer.swapAt(hi, mid) }
        let pivot = buffer[mid]
        var i = lo, j = hi
        while i <= j {
            while buffer[i] < pivot { i += 1 }
            while buffer[j] > pivot { j -= 1 }
            if i <= j { buffer.swapAt(i, j); i += 1; j -= 1 }
        }
        if index <= j { hi = j } else if index >= i { lo = i } else { return buffer[index] }
    }
    return buffer[index]
}
