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
public final class FlowLikelihoodDetector: OODDetector {
    public let name: String
    public let flow: any FlowLayer
    public let bitsDefinition: BitsDefinition
    public var batchSize = 100

    public init(flow: any FlowLayer, bits: BitsDefinition = .images, name: String = "likelihood") {
        self.flow = flow
        self.bitsDefinition = bits
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {}

    /// Bits per dimension of every example.
    public func bitsPerDimension(_ data: DetectorInput) throws -> [Double] {
        let ll = flowLogLikelihood(flow, data.data, batchSize: batchSize)
        let d = data.data.exampleShape.reduce(1, *)
        return try bitsDefinition.bits(ll, dimensions: d, detector: name, dataset: data.key)
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

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        let bits = try likelihood.bitsPerDimension(train)
        guard !bits.isEmpty else { throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("no examples")) }
        meanTrainBits = bits.reduce(0, +) / Double(bits.count)
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard let h = meanTrainBits else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        return try checkedScores(try likelihood.bitsPerDimension(data).map { -Swift.abs($0 - h) }, detector: name, dataset: data.key)
    }
}
