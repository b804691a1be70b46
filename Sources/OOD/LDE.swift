import Foundation
import Tensor
import NN
import Flows

/// Principal component projection fitted on a reference set: y = (x − μ) V_k, V_k the
/// eigenvectors of the k largest eigenvalues of the covariance (1/N) Σ (x − μ)(x − μ)ᵀ
/// (no whitening).
public struct PCA: Sendable {
    /// μ (D).
    public let mean: [Double]
    /// V_k, row-major D × k.
    public let components: [Double]
    /// Eigenvalues of the kept components, descending (explained variances).
    public let variances: [Double]
    public let inputDimension: Int
    public let outputDimension: Int

    /// Fits on `rows` (row-major, `dimension` values each).
    public init(fittedOn rows: [Double], dimension d: Int, components k: Int) {
        precondition(k >= 1 && k <= d, "PCA: \(k) components of dimension \(d)")
        let n = rows.count / d
        precondition(n >= 1 && rows.count == n * d, "PCA: \(rows.count) values for dimension \(d)")
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += rows[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        var centred = rows
        for i in 0..<n { for j in 0..<d { centred[i * d + j] -= mean[j] } }
        let c = Tensor(centred, shape: [n, d])
        let covariance = withoutGrad { c.transposed().matmul(c) }.doubles.map { $0 / Double(n) }
        let eigen = SymmetricEigen(covariance, n: d)
        var components = [Double](repeating: 0, count: d * k)
        for i in 0..<d { for j in 0..<k { components[i * k + j] = eigen.vectors[i * d + j] } }
        self.mean = mean
        self.components = components
        self.variances = Array(eigen.values.prefix(k))
        self.inputDimension = d
        self.outputDimension = k
    }

    /// (x − μ) V_k for every row of `rows`.
    public func project(_ rows: [Double]) -> [Double] {
        let d = inputDimension, k = outputDimension, n = rows.count / d
        var centred = rows
        for i in 0..<n { for j in 0..<d { centred[i * d + j] -= mean[j] } }
        let x = Tensor(centred, shape: [n, d]), v = Tensor(components, shape: [d, k])
        return withoutGrad { x.matmul(v) }.doubles
    }
}

/// Settings of latent density estimation.
public struct LDEOptions: Codable, Sendable, Equatable {
    /// L2-normalise each feature vector (LDE §6.3); false keeps raw features.
    public var normalize = true
    /// Reduce to this many principal components (fitted on the ID training features) first,
    /// any k in 2…D (odd k included); nil keeps all.
    public var pca: Int? = nil
    /// Dequantisation precision ε: training inputs get U(−ε/2, ε/2) noise; bpd is measured at ε.
    public var epsilon = 1.0 / 1024
    /// Training epochs over the ID training features (LDE trains one).
    public var epochs = 1
    public var batchSize = 64
    /// Adam learning rate (the paper: 1e-4 for CIFAR-10, 1e-5 for ImageNet).
    public var learningRate = 1e-4
    /// glow-latent blocks and coupling width (the paper: 10 blocks, hidden 2048).
    public var blocks = 10
    public var hidden = 2048
    /// Clip the gradient norm at this value; nil (the paper) does not clip.
    public var clipNorm: Double? = nil

    public init() {}
}

/// Builds a flow on d-dimensional vectors.
public typealias VectorFlowFactory = (_ dimension: Int, _ rng: inout SeededGenerator) -> any FlowLayer

/// Latent density estimation (LDE paper §3): a normalizing flow fitted to the penultimate
/// features of a frozen classifier, scored by bits per dimension.
///
///     z = h / ‖h‖                         (normalize; LDE §6.3)
///     z ← (z − μ) V_k                      (optional PCA, fitted on ID train; §6.1)
///     train: maximise log p_θ(z + u), u ~ U(−ε/2, ε/2)^d, Adam, `epochs` epochs (default 1, §6.2)
///     score(x) = −bpd(z(x)),  bpd = −log₂ p_θ(z) / d − log₂ ε      (§3.2, ε = 1/1024)
///
/// The flow is `VectorFlows.glowLatent(features: d, blocks:, hidden:)` unless a factory is
/// given. Scores are computed without dequantisation noise (deterministic). Deviations: no
/// backbone augmentation for the training features (the paper extracts them with the
/// backbone's training augmentations); training uses a plain loop (shuffled mini-batches,
/// constant learning rate). Without an extractor the data's own vectors are used (tabular sets).
public final class LDEDetector: OODDetector {
    public let name: String
    public let extractor: FeatureExtractor?
    public let options: LDEOptions
    let flowFactory: VectorFlowFactory?
    /// The trained flow, set by `fit`.
    public private(set) var flow: (any FlowLayer)?
    /// The PCA fitted on the ID training latents, when `options.pca` is set.
    public private(set) var pca: PCA?
    /// Mean training loss in bits per dimension, one per epoch.
    public private(set) var history: [Double] = []
    /// Draw a progress bar while training.
    public var showProgress = false
    /// Examples per scoring pass.
    public var batchSize = 500

    public init(extractor: FeatureExtractor?, options: LDEOptions = LDEOptions(), flowFactory: VectorFlowFactory? = nil,
                name: String = "lde") {
        precondition(options.epochs >= 0 && options.batchSize >= 1 && options.epsilon > 0, "LDEOptions: \(options)")
        self.extractor = extractor
        self.options = options
        self.flowFactory = flowFactory
        self.name = name
    }

    func rawFeatures(_ data: DetectorInput) throws -> Tensor {
        if let extractor { return try data.features(extractor) }
        return data.data.doubleTensor
    }

    /// Normalised (and PCA-projected, once fitted) latents, row-major, and their dimension.
    func latents(_ features: Tensor) -> (values: [Double], dimension: Int) {
        let n = features.shape[0], d = features.shape[1]
        var v = features.doubles
        if options.normalize {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { s += v[i * d + j] * v[i * d + j] }
                let norm = s.squareRoot()
                if norm > 0 { for j in 0..<d { v[i * d + j] /= norm } }
            }
        }
        if let pca { return (pca.project(v), pca.outputDimension) }
        return (v, d)
    }

    public func fit(_ train: DetectorInput, using rng: inout some RandomNumberGenerator) throws {
        let features = try rawFeatures(train)
        pca = nil
        if let k = options.pca {
            guard k >= 2, k <= features.shape[1] else {
                throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("PCA to \(k) of \(features.shape[1]) dimensions"))
            }
            let (normalised, d) = latents(features)
            pca = PCA(fittedOn: normalised, dimension: d, components: k)
        }
        let (z, d) = latents(features)
        let n = z.count / d
        guard n >= 1 else { throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("no examples")) }
        guard d >= 2 else {
            throw DetectorError(detector: name, dataset: train.key, kind: .badTrainingSet("a coupling flow needs at least 2 dimensions, got \(d)"))
        }
        var flowRNG = SeededGenerator(seed: rng.next())
        let model: any FlowLayer
        if let flowFactory {
            model = flowFactory(d, &flowRNG)
        } else {
            // Odd d is fine: the couplings condition on ⌊d/2⌋ features and transform the rest.
            model = VectorFlows.glowLatent(features: d, blocks: options.blocks, hidden: options.hidden, using: &flowRNG)
        }
        history = try Self.train(model, latents: z, dimension: d, options: options, rng: &flowRNG,
                                 detector: name, dataset: train.key, showProgress: showProgress)
        model.setTraining(false)
        flow = model
    }

    /// Maximum-likelihood training on dequantised latents: per epoch a seeded shuffle, then
    /// Adam steps on −mean log p(z + u) over mini-batches. Returns the mean loss per epoch in
    /// bits per dimension (latent definition).
    ///
    /// Kept small on purpose: a general flow trainer can replace it without changing the detector.
    static func train(_ flow: any FlowLayer, latents z: [Double], dimension d: Int, options: LDEOptions,
                      rng: inout SeededGenerator, detector: String, dataset: String, showProgress: Bool) throws -> [Double] {
        let n = z.count / d
        let optimizer = Adam(flow.trainableParameters, learningRate: options.learningRate)
        flow.setTraining(true)
        var history: [Double] = []
        var batch = [Float](repeating: 0, count: options.batchSize * d)
        for epoch in 1...Swift.max(options.epochs, 1) where options.epochs > 0 {
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            let bar = ProgressBar("\(detector) epoch \(epoch)/\(options.epochs)", total: n, unit: "vec")
            bar.quiet = !showProgress
            var lossSum = 0.0
            var start = 0, step = 0
            while start < n {
                let end = Swift.min(n, start + options.batchSize)
                let b = end - start
                for (r, i) in order[start..<end].enumerated() {
                    for j in 0..<d {
                        let u = (rng.nextUnit() - 0.5) * options.epsilon
                        batch[r * d + j] = Float(z[i * d + j] + u)
                    }
                }
                let x = Tensor(Array(batch[0..<(b * d)]), shape: [b, d])
                let loss = -flow.logLikelihood(of: x).mean()
                let value = loss.item
                guard value.isFinite else {
                    throw DetectorError(detector: detector, dataset: dataset, kind: .trainingDiverged(epoch: epoch, step: step, loss: value))
                }
                flow.zeroGrad()
                loss.backward()
                if let clip = options.clipNorm { _ = clipGradientNorm(flow.trainableParameters, maxNorm: clip) }
                optimizer.step()
                let bits = value / (Double(d) * M_LN2) - Foundation.log2(options.epsilon)
                lossSum += bits * Double(b)
                bar.advance(by: b, fields: ["bpd": String(format: "%.3f", lossSum / Double(end))])
                start = end
                step += 1
            }
            history.append(lossSum / Double(n))
        }
        flow.zeroGrad()
        return history
    }

    /// Bits per dimension of every example (latent definition at ε).
    public func bitsPerDimension(_ data: DetectorInput) throws -> [Double] {
        guard let flow else { throw DetectorError(detector: name, dataset: data.key, kind: .notFitted) }
        let (z, d) = latents(try rawFeatures(data))
        let n = z.count / d
        var ll: [Double] = []
        ll.reserveCapacity(n)
        withoutGrad {
            var start = 0
            while start < n {
                let end = Swift.min(n, start + batchSize)
                let x = Tensor(z[(start * d)..<(end * d)].map(Float.init), shape: [end - start, d])
                ll += flow.logLikelihood(of: x).doubles
                start = end
            }
        }
        return try BitsDefinition.latent(epsilon: options.epsilon).bits(ll, dimensions: d, detector: name, dataset: data.key)
    }

    public func scores(_ data: DetectorInput) throws -> [Double] {
        try checkedScores(try bitsPerDimension(data).map { -$0 }, detector: name, dataset: data.key)
    }
}
