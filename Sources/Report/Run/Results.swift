import Foundation
import NN
import OOD

/// What a `@Train` node stores beside its checkpoint (`result.json`).
public struct TrainResult: Codable, Sendable {
    public struct Epoch: Codable, Sendable {
        public var epoch: Int
        public var trainLoss: Double
        /// Validation bits/dim (flows) or nil.
        public var validationBPD: Double?
        /// Test accuracy (classifiers) or nil.
        public var testAccuracy: Double?
    }
    public var seconds: Double
    public var parameters: Int
    public var trainingExamples: Int
    public var history: [Epoch]

    /// Final test accuracy of a classifier.
    public var testAccuracy: Double? { history.last?.testAccuracy }
}

/// Metrics of one detector on one OOD set (one seed), with the AUROC's 95 % bootstrap interval.
public struct MetricRecord: Codable, Sendable {
    public var metrics: OODMetrics
    /// 95 % percentile-bootstrap intervals of every metric (nil where not computed, e.g. curves).
    public var intervals: MetricIntervals?

    /// The 95 % bootstrap interval of `m`, if computed.
    public func interval(_ m: MetricKind) -> ConfidenceInterval? {
        guard let intervals else { return nil }
        return switch m {
        case .auroc: intervals.auroc
        case .fpr95: intervals.fpr95InPositive
        case .fpr95OODPositive: intervals.fpr95OutPositive
        case .auprIn: intervals.auprIn
        case .auprOut: intervals.auprOut
        case .detectionError: intervals.detectionError
        }
    }

    public func value(_ m: MetricKind) -> Double {
        switch m {
        case .auroc: metrics.auroc
        case .fpr95: metrics.fpr95InPositive
        case .fpr95OODPositive: metrics.fpr95OutPositive
        case .auprIn: metrics.auprIn
        case .auprOut: metrics.auprOut
        case .detectionError: metrics.detectionError
        }
    }
}

/// What an `@Evaluate` node stores for one seed (`evaluation.json`): every detector's per-sample
/// scores on the in-distribution set and each OOD set, their bits/dim where the detector is a
/// density, and the metrics of each OOD set against the in-distribution set.
public struct EvaluationResult: Codable, Sendable {
    public struct SetScores: Codable, Sendable {
        /// DataRef.key.
        public var data: String
        public var displayName: String
        /// Higher = more in-distribution.
        public var scores: [Double]
        /// Bits per dimension (density detectors only).
        public var bitsPerDim: [Double]?
        /// D of the density (so log-likelihoods can be recovered from bits/dim).
        public var dimensions: Int?
        /// The seed the set was loaded with and where each example came from (file and index,
        /// or crop origin), so score files can be re-scored elsewhere.
        public var loadSeed: Int?
        public var sources: [ExampleSource]?
    }
    public struct DetectorResult: Codable, Sendable {
        public var key: String
        public var displayName: String
        /// The in-distribution set first, then the OOD sets in order.
        public var sets: [SetScores]
        /// OOD data key → metrics against `sets[0]`.
        public var metrics: [String: MetricRecord]
        /// Training-loss history of a fitted part (LDE flow), if any.
        public var fitHistory: [Double]?
    }
    public var seed: Int
    public var inDistribution: String
    public var ood: [String]
    public var detectors: [DetectorResult]
    /// Wall-clock seconds the evaluation took (fitting and scoring).
    public var seconds: Double

    public func detector(_ key: String) -> DetectorResult? { detectors.first { $0.key == key } }
}

/// What a `@Curve` node stores: the metric per varied value and OOD set (+ loss per value).
public struct CurveResult: Codable, Sendable {
    public var parameter: String
    public var values: [Int]
    /// OOD data key → metric per value.
    public var metric: [String: [Double]]
    public var displayNames: [String: String]
    /// Final training loss per value (epochs curves) or nil.
    public var loss: [Double]?
}

/// What a `@Scores` node stores (`scores.json`; the per-sample rows also as `scores.csv`).
public struct ScoresResult: Codable, Sendable {
    public struct SetScores: Codable, Sendable {
        /// DataRef.key.
        public var data: String
        public var displayName: String
        /// Per sample, in nats.
        public var logLikelihood: [Double]
        public var bitsPerDim: [Double]
    }
    public var sets: [SetScores]
    /// D of the flow's samples.
    public var dimensions: Int
}

/// What a `@Features` node stores (`features.json`; the rows as `features/<data key>.csv`).
public struct FeaturesResult: Codable, Sendable {
    public struct SetSummary: Codable, Sendable {
        /// DataRef.key.
        public var data: String
        public var displayName: String
        public var count: Int
        public var dimension: Int
        /// Mean L2 norm of the features before any normalisation.
        public var meanNorm: Double
    }
    public var sets: [SetSummary]
    public var normalized: Bool
}

/// What a `@Scatter` node stores: 2-D t-SNE coordinates with their group.
public struct ScatterResult: Codable, Sendable {
    public var x: [Double]
    public var y: [Double]
    public var group: [Int]
    public var groupNames: [String]
}

func writeJSON(_ value: some Encodable, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try writeAtomically(try encoder.encode(value), to: url)
}

func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do {
        return try decoder.decode(type, from: Data(contentsOf: url))
    } catch {
        throw CacheError.corrupt("\(url.path): \(error)")
    }
}
