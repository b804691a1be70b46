import Foundation
import Tensor
import NN

/// Per-sample scores of a data set under a flow.
public struct FlowScores: Sendable, Equatable {
    /// log p(x) in nats per sample (images: the density of the dequantised v ∈ [0, 1)^D).
    public var logLikelihood: [Double]
    /// Bits per dimension per sample, by the spec's convention (`FlowSpec.bitsPerDimension`).
    public var bitsPerDimension: [Double]

    /// Mean of the log-likelihoods (nats), NaN for no samples.
    public var meanLogLikelihood: Double {
        logLikelihood.isEmpty ? .nan : logLikelihood.reduce(0, +) / Double(logLikelihood.count)
    }

    /// Mean bits per dimension, NaN for no samples.
    public var meanBitsPerDimension: Double {
        bitsPerDimension.isEmpty ? .nan : bitsPerDimension.reduce(0, +) / Double(bitsPerDimension.count)
    }
}

/// Data whose samples do not fit the flow.
public struct FlowDataError: Error, CustomStringConvertible, Equatable {
    /// Which data ("training data", a data set name).
    public let what: String
    public let problem: String
    public init(what: String, problem: String) {
        self.what = what
        self.problem = problem
    }
    public var description: String { "\(what): \(problem)" }
}

/// Scores a data set under a flow: per-sample log-likelihood (nats) and bits per dimension,
/// batch by batch, without autodiff, in evaluation mode (BatchNorm uses its running statistics;
/// ActNorm does not re-initialise).
///
/// Dequantisation: image flows draw their noise u inside `forward`; the scorer reseeds those
/// layers from `seed` first (`reseedStochasticLayers`), so the same seed gives the same scores,
/// and restores the layers' generators and the model's mode afterwards. Vector data are scored
/// as given (the LDE bpd uses the density at z; no noise is added).
///
/// Non-finite scores are never dropped: the first one throws `NonFiniteScoreError` naming the
/// sample's index in `data`.
public struct FlowScorer {
    public let flow: any FlowLayer
    public let spec: FlowSpec
    /// Samples per forward pass.
    public var batchSize: Int
    /// Seed of the dequantisation noise.
    public var seed: UInt64
    /// Draw a progress bar on standard error (label `progressLabel`).
    public var showProgress = false
    public var progressLabel = "scoring"

    /// - Parameters:
    ///   - flow: the model, built from `spec` (its parameters loaded or trained).
    ///   - spec: the description of `flow`: data kind and bpd convention.
    ///   - batchSize: samples per forward pass.
    ///   - seed: seed of the dequantisation noise.
    public init(flow: any FlowLayer, spec: FlowSpec, batchSize: Int = 256, seed: UInt64 = 0) {
        precondition(batchSize >= 1, "FlowScorer: batch size \(batchSize)")
        self.flow = flow
        self.spec = spec
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Per-sample log-likelihoods (nats) and bits per dimension of `data`.
    /// - Parameter name: names `data` in errors.
    /// - Throws: `FlowDataError` if the samples' shape is not the flow's; `NonFiniteScoreError`
    ///   for the first non-finite log-likelihood, with its index in `data`.
    public func score(_ data: FlowData, name: String = "data") throws -> FlowScores {
        let ll = try logLikelihoods(data, name: name)
        return FlowScores(logLikelihood: ll,
                          bitsPerDimension: try spec.bitsPerDimension.bitsPerDimension(logLikelihood: ll, dimensions: spec.dimensions))
    }

    /// Per-sample log-likelihoods (nats) of `data`; see `score(_:name:)`.
    public func logLikelihoods(_ data: FlowData, name: String = "data") throws -> [Double] {
        try Self.checkShape(data, spec: spec, name: name)
        let wasTraining = flow.isTraining
        let layers = flow.stochasticLayers()
        let savedGenerators = layers.map { $0.rng }
        flow.setTraining(false)
        flow.reseedStochasticLayers(seed: seed)
        defer {
            flow.setTraining(wasTraining)
            for (layer, g) in zip(layers, savedGenerators) { layer.rng = g }
        }
        let bar = ProgressBar(progressLabel, total: data.count)
        bar.quiet = !showProgress
        var out: [Double] = []
        out.reserveCapacity(data.count)
        var start = 0
        while start < data.count {
            let end = Swift.min(data.count, start + batchSize)
            let x = data.batch(Array(start..<end))
            let ll = withoutGrad { flow.logLikelihood(of: x) }.doubles
            if let j = ll.firstIndex(where: { !$0.isFinite }) {
                throw NonFiniteScoreError(what: "log-likelihood of \(name)", index: start + j, value: ll[j])
            }
            out += ll
            bar.advance(by: end - start)
            start = end
        }
        return out
    }

    /// Throws unless `data`'s samples have the shape `spec`'s flow takes.
    static func checkShape(_ data: FlowData, spec: FlowSpec, name: String) throws {
        let expected = spec.dataKind.sampleShape
        guard data.sampleShape == expected else {
            throw FlowDataError(what: name, problem: "samples of shape \(data.sampleShape), but \(spec.summary) takes \(expected)")
        }
    }
}
