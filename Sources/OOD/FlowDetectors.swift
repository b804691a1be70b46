import Foundation
import Tensor
import NN
import Flows

/// Which bits-per-dimension definition turns a flow's log-likelihood into a score.
public enum BitsDefinition: Sendable, Equatable {
    /// 8-bit images scaled to [0, 1] (`BitsPerDimension.images`): −log p / (D ln 2) + 8.
    case images
    /// Latent vectors at precision ε (`BitsPerDimension.latent`, the LDE paper):
    /// −log₂ p / d − log₂ ε.
    case latent(epsilon: Double)

    /// The LDE paper's ε = 1/1024.
    public static let lde = BitsDefinition.latent(epsilon: 1.0 / 1024)

    /// Bits per dimension of each example.
    /// - Throws: `DetectorError.nonFiniteScore` with the example's index.
    func bits(_ logLikelihood: [Double], dimensions: Int, detector: String, dataset: String) throws -> [Double] {
        do {
            switch self {
            case .images: return try BitsPerDimension.images(logLikelihood: logLikelihood, dimensions: dimensions)
            case .latent(let epsilon): return try BitsPerDimension.latent(logLikelihood: logLikelihood, dimensions: dimensions, epsilon: epsilon)
            }
        } catch let e as NonFiniteScoreError {
            throw DetectorError(detector: detector, dataset: dataset, kind: .nonFiniteScore(index: e.index, value: e.value))
        }
    }
}

/// log p(x) in nats under `flow` for every example of `data` (evaluation mode, no autodiff).
func flowLogLikelihood(_ flow: any FlowLayer, _ data: LoadedDataset, batchSize: Int) -> [Double] {
    let wasTraining = flow.isTraining
    flow.setTraining(false)
    defer { flow.setTraining(wasTraining) }
    var out: [Double] = []
    out.reserveCapacity(data.count)
    withoutGrad {
        var start = 0
        while start < data.count {
            let end = Swift.min(data.count, start + batchSize)
            out += flow.logLikelihood(of: data.tensor(indices: start..<end)).doubles
            start = end
        }
    }
    return out
}

/// Likelihood of a trained flow on the inputs themselves (pixels or tabular vectors):
/// score(x) = −bpd(x). The detector Kirichenko et al. 2020 and Nalisnick et al. 2019 show to
/// fail on images: simpler OOD sets can receive *higher* likelihood than the ID test set.
/// The flow is trained elsewhere; nothing to fit. Images are passed as [0, 1] tensors
/// (B, 1, 28, 28) — the flow's own preprocessing (e.g. `LogitPreprocessing`) dequantises them.
///
/// Built with a `FlowSpec` (`init(flow:spec:seed:name:)`, e.g. from a `FlowRun`), scoring goes
/// through `FlowScorer` exactly like `flowood score`: examples are reshaped to the spec's sample
/// shape (28×28 images become 784-vectors for a vector flow), the bpd convention is the spec's
/// (images: −log p/(D ln 2) + 8; vector flows: the latent definition at ε = 1/1024), and the
/// dequantisation noise is reseeded from `seed` before each data set, so scores are
/// deterministic and equal to `flowood score --seed seed`.
public final class FlowLikelihoodDetector: OODDetector {
    public let name: String
    public let flow: any FlowLayer
    public let bitsDefinition: BitsDefinition
    /// The flow's description, when built from one: scores then go through `FlowScorer`.
    public let spec: FlowSpec?
    /// Seed of the dequantisation noise (with `spec`).
    public var seed: UInt64 = 0
    public var batchSize = 100
    /// Draw a progress bar while scoring (with `spec`).
    public var showProgress = false

    public init(flow: any FlowLayer, bits: BitsDefinition = .images, name: String = "likelihood") {
        self.flow = flow
        self.bitsDefinition = bits
        self.spec = nil
        self.name = name
    }

    /// A detector scoring through `FlowScorer` with the spec's data shape and bpd convention.
    /// - Parameters:
    ///   - flow: the trained flow, built from `spec`.
    ///   - spec: its description.
    ///   - seed: seed of the dequantisation noise.
    ///   - name: the key in tables and files.
    public init(flow: any FlowLayer, spec: FlowSpec, seed: UInt64 = 0, name: String = "likelihood") {
        self.flow = flow
        self.spec = spec
        self.seed = seed
        switch spec.bitsPerDimension {
        case .images: bitsDefinition = .images
        case .latent(let epsilon): bitsDefinition = .latent(epsilon: epsilon)
        }
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {}

    /// Bits per dimension of every example.
    /// - Throws: `DetectorError` (`.incompatibleData` when the examples do not fit the flow,
    ///   `.nonFiniteScore` with the example's index).
    public func bitsPerDimension(_ data: DetectorInput) throws -> [Double] {
        let d = data.data.exampleShape.reduce(1, *)
        guard let spec else {
            let ll = flowLogLikelihood(flow, data.data, batchSize: batchSize)
            return try bitsDefinition.bits(ll, dimensions: d, detector: name, dataset: data.key)
        }
        guard d == spec.dimensions else {
            throw DetectorError(detector: name, dataset: data.key, kind: .incompatibleData(
                "examples of shape \(data.data.exampleShape) (\(d) values), but \(spec.summary) takes \(spec.dataKind.sampleShape)"))
        }
        // Detectors sharing this flow object and seed (likelihood, typicality) score each set once.
        return try data.memoised("flow-bpd \(ObjectIdentifier(flow)) seed \(seed) batch \(batchSize)") {
            let source = data.data
            var samples = FlowData(count: source.count, sampleShape: source.exampleShape) { source.tensor(indices: $0) }
            if samples.sampleShape != spec.dataKind.sampleShape { samples = samples.reshaped(to: spec.dataKind.sampleShape) }
            var scorer = FlowScorer(flow: flow, spec: spec, batchSize: batchSize, seed: seed)
            scorer.showProgress = showProgress
            scorer.progressLabel = "\(name) \(data.key)"
            do {
                return try scorer.score(samples, name: data.key).bitsPerDimension
            } catch let e as NonFiniteScoreError {
                throw DetectorError(detector: name, dataset: data.key, kind: .nonFiniteScore(index: e.index, value: e.value))
            }
        }
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        try checkedScores(try bitsPerDimension(data).map { -$0 }, detector: name, dataset: data.key)
    }
}

/// Typicality test with batch size 1 (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019,
/// "Detecting out-of-distribution inputs to deep generative models using typicality"):
///
///     score(x) = −| bpd(x) − Ĥ |,   Ĥ = mean bpd of the ID training set,
///
/// i.e. how far an example's negative log-likelihood lies from the model's estimated entropy,
/// in bits per dimension (a per-dimension rescaling of the paper's |−log p(x) − Ĥ| test
/// statistic, which leaves the ranking unchanged). The paper estimates Ĥ on held-out training
/// data and thresholds with a bootstrap over M-sample batches; with M = 1 the statistic
/// ranks examples exactly like this score. Fit computes Ĥ on the training set given.
public final class TypicalityDetector: OODDetector {
    public let name: String
    public let likelihood: FlowLikelihoodDetector
    /// Ĥ in bits per dimension, set by `fit`.
    public private(set) var meanTrainBits: Double?

    public init(flow: any FlowLayer, bits: BitsDefinition = .images, name: String = "typicality") {
        likelihood = FlowLikelihoodDetector(flow: flow, bits: bits, name: name)
        self.name = name
    }

    /// A typicality test scoring through `FlowScorer` (see `FlowLikelihoodDetector.init(flow:spec:seed:name:)`).
    public init(flow: any FlowLayer, spec: FlowSpec, seed: UInt64 = 0, name: String = "typicality") {
        likelihood = FlowLikelihoodDetector(flow: flow, spec: spec, seed: seed, name: name)
        self.name = name
    }

    /// Estimate Ĥ on a random subset of at most this many training examples (drawn with the
    /// generator given to `fit`); nil uses them all.
    public var fitLimit: Int?

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        var input = train
        if let fitLimit, fitLimit < train.count {
            var indices = Array(0..<train.count)
            for k in 0..<fitLimit { indices.swapAt(k, Int.random(in: k..<train.count, using: &rng)) }
            input = DetectorInput(train.data.subset(indices.prefix(fitLimit).sorted()))
        }
        let bits = try likelihood.bitsPerDimension(input)
        guard !bits.isEmpty else { throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("no examples")) }
        meanTrainBits = bits.reduce(0, +) / Double(bits.count)
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard let h = meanTrainBits else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        return try checkedScores(try likelihood.bitsPerDimension(data).map { -Swift.abs($0 - h) }, detector: name, dataset: data.key)
    }
}
