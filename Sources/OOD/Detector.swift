import Foundation
import Tensor

/// An out-of-distribution detector.
///
/// Contract:
/// - `fit` sees in-distribution training data only (never OOD data); detectors without a
///   fitted part (MSP, Energy, ODIN, pixel likelihood) ignore it.
/// - `scores` returns one finite score per example, **higher = more in-distribution**; the
///   metrics (`OODMetrics`) take ID as the positive class with these scores as given.
/// - A NaN or infinite score is an error (`DetectorError.nonFiniteScore`) naming the detector,
///   the data set and the example's index; scores are never silently dropped or clipped.
/// - Randomness (LDE's flow initialisation, shuffling and dequantisation) comes from the
///   generator passed to `fit`; scoring is deterministic, except for flows whose own
///   preprocessing draws noise (the image RealNVP's dequantisation).
public protocol OODDetector: AnyObject {
    /// The key in tables and files (`msp`, `odin`, `energy`, `react`, `mahalanobis`, `knn`,
    /// `lde`, or a flow's id).
    var name: String { get }
    /// Fits the detector's statistics or model on in-distribution training data.
    func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws
    /// Scores every example of `data`, higher = more in-distribution.
    func scores(_ data: DetectorInput) throws -> [Double]
}

/// A data set as detectors see it: the examples, plus the penultimate features of any
/// classifier, computed once per extractor and shared by every detector that asks.
public final class DetectorInput {
    public let data: LoadedDataset
    private var memo: [ObjectIdentifier: Tensor] = [:]
    private var valueMemo: [String: [Double]] = [:]

    public init(_ data: LoadedDataset) { self.data = data }

    /// Convenience: wraps a loaded set.
    public var key: String { data.key }
    public var count: Int { data.count }

    /// The features of `extractor`'s classifier, (N, D) Float32, memoised.
    public func features(_ extractor: FeatureExtractor) throws -> Tensor {
        let id = ObjectIdentifier(extractor)
        if let f = memo[id] { return f }
        let f = try extractor.features(of: data)
        memo[id] = f
        return f
    }

    /// Per-example values computed once per input under `key` (e.g. a flow's bits per
    /// dimension, shared by the likelihood and typicality detectors of one flow).
    public func memoised(_ key: String, _ compute: () throws -> [Double]) rethrows -> [Double] {
        if let v = valueMemo[key] { return v }
        let v = try compute()
        valueMemo[key] = v
        return v
    }
}

/// A detector that cannot score: which detector, which data set, what went wrong.
public struct DetectorError: Error, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The score of example `index` is NaN or infinite.
        case nonFiniteScore(index: Int, value: Double)
        /// The detector needs images (classifier-based detectors) but got vectors.
        case needsImages
        /// The examples do not fit the detector's model (shape or size), with details.
        case incompatibleData(String)
        /// The detector needs class labels of the training set.
        case needsLabels
        /// `scores` was called before `fit`.
        case notFitted
        /// The training set is too small or otherwise unsuitable.
        case badTrainingSet(String)
        /// Training diverged.
        case trainingDiverged(epoch: Int, step: Int, loss: Double)
    }

    public let detector: String
    public let dataset: String
    public let kind: Kind

    public init(detector: String, dataset: String, kind: Kind) {
        self.detector = detector
        self.dataset = dataset
        self.kind = kind
    }

    public var description: String {
        let message: String
        switch kind {
        case let .nonFiniteScore(index, value): message = "score of example \(index) is \(value) (non-finite)"
        case .needsImages: message = "needs images (it scores through a classifier), got vectors"
        case .incompatibleData(let why): message = why
        case .needsLabels: message = "needs class labels of the in-distribution training set"
        case .notFitted: message = "scores requested before fit"
        case .badTrainingSet(let why): message = "unsuitable training set: \(why)"
        case let .trainingDiverged(epoch, step, loss): message = "training diverged: loss \(loss) at epoch \(epoch), step \(step)"
        }
        return "detector \(detector) on \(dataset): \(message)"
    }
}

/// Returns `scores` unchanged, or throws for the first non-finite one with its index.
public func checkedScores(_ scores: [Double], detector: String, dataset: String) throws(DetectorError) -> [Double] {
    if let i = scores.firstIndex(where: { !$0.isFinite }) {
        throw DetectorError(detector: detector, dataset: dataset, kind: .nonFiniteScore(index: i, value: scores[i]))
    }
    return scores
}

/// Row-wise helpers on (N, K) score matrices held as Double.
enum Rows {
    /// max_k softmax(x/T)_k for each row: 1 / Σ_j exp((x_j − x_max)/T).
    static func maxSoftmax(_ logits: [Double], classes k: Int, temperature t: Double = 1) -> [Double] {
        (0..<(logits.count / k)).map { i in
            let row = logits[(i * k)..<((i + 1) * k)]
            let m = row.max()!
            return 1 / row.reduce(0) { $0 + Foundation.exp(($1 - m) / t) }
        }
    }

    /// T · log Σ_j exp(x_j / T) for each row (the negative free energy, Liu et al. 2020).
    static func temperedLogSumExp(_ logits: [Double], classes k: Int, temperature t: Double = 1) -> [Double] {
        (0..<(logits.count / k)).map { i in
            let row = logits[(i * k)..<((i + 1) * k)]
            let m = row.max()! / t
            return t * (m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 / t - m) }))
        }
    }
}
