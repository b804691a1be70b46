import Foundation
import Tensor
import NN

/// Maximum softmax probability (Hendrycks & Gimpel 2017): score(x) = max_k softmax(f(x))_k,
/// f the classifier's logits. Nothing to fit.
public final class MSPDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor

    public init(extractor: FeatureExtractor, name: String = "msp") {
        self.extractor = extractor
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {}

    public func scores(_ data: DetectorInput) throws -> [Double] {
        let logits = extractor.logits(fromFeatures: try data.features(extractor))
        return try checkedScores(Rows.maxSoftmax(logits.doubles, classes: logits.shape[1]), detector: name, dataset: data.key)
    }
}

/// Energy score (Liu et al. 2020, eq. 5 negated): score(x) = −E(x; f) = T · log Σ_k exp(f_k(x) / T).
/// Higher for in-distribution inputs. T = 1 in the paper's post-hoc setting. Nothing to fit.
public final class EnergyDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor
    public let temperature: Double

    public init(extractor: FeatureExtractor, temperature: Double = 1, name: String = "energy") {
        precondition(temperature > 0, "EnergyDetector: temperature \(temperature)")
        self.extractor = extractor
        self.temperature = temperature
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {}

    public func scores(_ data: DetectorInput) throws -> [Double] {
        let logits = extractor.logits(fromFeatures: try data.features(extractor))
        return try checkedScores(Rows.temperedLogSumExp(logits.doubles, classes: logits.shape[1], temperature: temperature),
                                 detector: name, dataset: data.key)
    }
}

/// ReAct (Sun, Guo & Li 2021): rectify the penultimate activations, h̄ = min(h, c), then score
/// with the energy of the head's logits on h̄: score = T · log Σ_k exp(W_k·h̄ + b_k) / T).
///
/// c is the p-th percentile (p = 90 by default, the paper's choice) of all activations of the
/// in-distribution training set (every unit of every example pooled), numpy's linear
/// interpolation. Deviation: the paper estimates c on held-out ID data; we use the ID
/// training set the detector is fitted on.
public final class ReActDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor
    public let percentile: Double
    public let temperature: Double
    /// The clipping threshold c, set by `fit`.
    public private(set) var threshold: Double?

    public init(extractor: FeatureExtractor, percentile: Double = 90, temperature: Double = 1, name: String = "react") {
        precondition(percentile > 0 && percentile <= 100, "ReActDetector: percentile \(percentile)")
        self.extractor = extractor
        self.percentile = percentile
        self.temperature = temperature
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        let activations = try train.features(extractor).doubles.sorted()
        guard !activations.isEmpty else { throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("no examples")) }
        threshold = quantile(sorted: activations, percentile / 100)
    }

    /// min(h, c) element-wise.
    public func rectified(_ features: Tensor) throws -> Tensor {
        guard let threshold else { throw DetectorError(detector: name, dataset: "-", kind: .notFitted) }
        return withoutGrad { features.clamped(max: threshold) }
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard threshold != nil else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        let logits = extractor.logits(fromFeatures: try rectified(try data.features(extractor)))
        return try checkedScores(Rows.temperedLogSumExp(logits.doubles, classes: logits.shape[1], temperature: temperature),
                                 detector: name, dataset: data.key)
    }
}

/// ODIN (Liang, Li & Srikant 2018): temperature scaling plus a small input perturbation.
///
///     x̃ = x − ε · sign(−∇ₓ log S_ŷ(x; T)),   S(x; T) = softmax(f(x) / T),  ŷ = argmax_k f_k(x)
///     score(x) = max_k S_k(x̃; T)
///
/// (the paper's eq. 2: the step that increases the softmax score of the predicted class).
/// The gradient is taken through the whole classifier with reverse-mode autodiff on an input
/// leaf (`requiringGrad()`); the parameter gradients the sweep accumulates are cleared after
/// each batch.
/// Defaults T = 1000, ε = 0.0014 are the paper's CIFAR-10 settings. Deviations: x is our
/// network input, the [0, 1] image (the classifier standardises internally), so ε is in
/// pixel/255 units; the perturbed image is not clipped to [0, 1]; T and ε are not tuned on OOD
/// data (the paper tunes them on a validation OOD set). Nothing to fit.
public final class ODINDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor
    public let temperature: Double
    public let epsilon: Double
    /// Images per forward/backward pass.
    public var batchSize = 250

    public init(extractor: FeatureExtractor, temperature: Double = 1000, epsilon: Double = 0.0014, name: String = "odin") {
        precondition(temperature > 0 && epsilon >= 0, "ODINDetector: T \(temperature), ε \(epsilon)")
        self.extractor = extractor
        self.temperature = temperature
        self.epsilon = epsilon
        self.name = name
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {}

    /// The perturbed images x̃ for a batch x (B, 1, H, W).
    public func perturbed(_ x: Tensor) -> Tensor {
        let model = extractor.classifier
        let leaf = x.requiringGrad()
        let logits = model.logits(leaf)
        let predicted = withoutGrad { logits.argmaxRows() }
        // Σ_i log S_ŷᵢ(xᵢ; T): each example's term depends only on its own image (evaluation mode).
        let logSoftmax = (logits / temperature).logSoftmax(axis: 1)
        var onehot = [Float](repeating: 0, count: logits.count)
        let k = logits.shape[1]
        for (i, c) in predicted.enumerated() { onehot[i * k + c] = 1 }
        let objective = (logSoftmax * Tensor(onehot, shape: logits.shape).cast(to: logits.dtype)).sum()
        objective.backward()
        let gradient = leaf.grad!
        model.zeroGrad()
        // x − ε·sign(−∇ log S) = x + ε·sign(∇ log S).
        return withoutGrad {
            let sign = gradient.positiveMask() - (-gradient).positiveMask()
            return x.detached + sign * epsilon
        }
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        guard data.data.images != nil else { throw DetectorError(detector: name, dataset: data.key, kind: .needsImages) }
        let model = extractor.classifier
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        var out: [Double] = []
        out.reserveCapacity(data.count)
        var start = 0
        while start < data.count {
            let end = Swift.min(data.count, start + batchSize)
            let xt = perturbed(data.data.tensor(indices: start..<end))
            let logits = withoutGrad { model.logits(xt) }
            out += Rows.maxSoftmax(logits.doubles, classes: logits.shape[1], temperature: temperature)
            start = end
        }
        return try checkedScores(out, detector: name, dataset: data.key)
    }
}
