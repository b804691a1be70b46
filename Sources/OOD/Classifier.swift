import Foundation
import Tensor
import NN

/// Architectures of image classifiers whose penultimate features feed the OOD detectors.
public enum ClassifierArchitecture: String, Codable, Sendable, CaseIterable {
    /// `cnn-fmnist` of shared/bench/reference/RESULTS.md (93,962 parameters):
    /// Conv(1→32,3) ReLU Conv(32→64,3) ReLU MaxPool(2) Conv(64→128,3) ReLU GAP Linear(128→10).
    case cnnFMNIST = "cnn-fmnist"
}

/// The configuration saved beside a classifier checkpoint.
public struct ClassifierConfig: Codable, Sendable, Equatable {
    public var architecture: ClassifierArchitecture
    public var inputChannels: Int
    public var classes: Int
    public var seed: UInt64
    /// Inputs (pixel/255) are standardised as (x − inputMean) / inputStd before the first layer.
    /// Defaults: FashionMNIST training-set pixel mean and population std (60,000 images,
    /// computed from train-images-idx3-ubyte.gz: 0.28604, 0.35302).
    public var inputMean: Double
    public var inputStd: Double

    public init(architecture: ClassifierArchitecture = .cnnFMNIST, inputChannels: Int = 1, classes: Int = 10, seed: UInt64 = 0,
                inputMean: Double = 0.28604, inputStd: Double = 0.35302) {
        self.architecture = architecture
        self.inputChannels = inputChannels
        self.classes = classes
        self.seed = seed
        self.inputMean = inputMean
        self.inputStd = inputStd
    }
}

/// A convolutional classifier split into a feature extractor and a linear head, so the
/// penultimate features (the LDE paper's "latent representations") are directly available.
public final class Classifier: Module {
    public let config: ClassifierConfig
    public let backbone: Sequential
    public let head: Linear
    public var isTraining = true

    public init(_ config: ClassifierConfig) {
        self.config = config
        var rng = SeededGenerator(seed: config.seed)
        switch config.architecture {
        case .cnnFMNIST:
            backbone = Sequential([
                Conv2d(config.inputChannels, 32, kernel: 3, using: &rng), Function.relu,
                Conv2d(32, 64, kernel: 3, using: &rng), Function.relu,
                Function.maxPool2d(2),
                Conv2d(64, 128, kernel: 3, using: &rng), Function.relu,
                Function.globalAvgPool2d,
            ])
            head = Linear(128, config.classes, using: &rng)
        }
    }

    public var children: [(String, any Module)] { [("backbone", backbone), ("head", head)] }

    /// Penultimate features, (B, featureDimension), of images with pixel values in [0, 1].
    public func features(_ x: Tensor) -> Tensor {
        backbone(x.affine(scale: 1 / config.inputStd, shift: -config.inputMean / config.inputStd))
    }

    /// Class logits, (B, classes).
    public func logits(_ x: Tensor) -> Tensor { head(features(x)) }

    public var featureDimension: Int { head.weight.shape[1] }
}

extension Tensor {
    /// Mean softmax cross-entropy of logits (B, K) against integer labels.
    public func crossEntropy(labels: [Int]) -> Tensor {
        precondition(rank == 2 && shape[0] == labels.count, "crossEntropy: logits \(shape), \(labels.count) labels")
        let k = shape[1]
        var onehot = [Float](repeating: 0, count: labels.count * k)
        for (i, l) in labels.enumerated() {
            precondition(l >= 0 && l < k, "crossEntropy: label \(l) at \(i) outside 0..<\(k)")
            onehot[i * k + l] = 1
        }
        let target = Tensor(onehot, shape: shape).cast(to: dtype)
        return -(logSoftmax(axis: 1) * target).sum() / Double(labels.count)
    }

    /// Index of the largest element of each row of a (B, K) tensor.
    public func argmaxRows() -> [Int] { maxWithIndices(axis: 1).1 }
}
