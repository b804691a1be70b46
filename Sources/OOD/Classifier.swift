import Foundation
import Tensor
import NN

/// Architectures of image classifiers whose penultimate features feed the OOD detectors.
///
/// Named by `rawValue` (`cnn-fmnist`, `resnet-32`, …) on the command line and in `config.json`.
public enum ClassifierArchitecture: Hashable, Sendable, Codable, RawRepresentable {
    /// `cnn-fmnist` of shared/bench/reference/RESULTS.md (93,962 parameters):
    /// Conv(1→32,3) ReLU Conv(32→64,3) ReLU MaxPool(2) Conv(64→128,3) ReLU GAP Linear(128→10).
    case cnnFMNIST
    /// `resnet-<width>`: `ResNetBackbone` of that width (4·width features) and a linear head.
    case resnet(width: Int)

    /// The default ResNet width (`resnet` alone means `resnet-32`).
    public static let defaultResNetWidth = 32

    /// One of each kind, for help texts.
    public static let allCases: [ClassifierArchitecture] = [.cnnFMNIST, .resnet(width: defaultResNetWidth)]

    /// Parses `cnn-fmnist`, `resnet` (width 32) or `resnet-<width>` (width ≥ 1).
    public init?(rawValue: String) {
        if rawValue == "cnn-fmnist" { self = .cnnFMNIST; return }
        if rawValue == "resnet" { self = .resnet(width: Self.defaultResNetWidth); return }
        if rawValue.hasPrefix("resnet-"), let w = Int(rawValue.dropFirst("resnet-".count)), w >= 1, w <= 1024 {
            self = .resnet(width: w)
            return
        }
        return nil
    }

    public var rawValue: String {
        switch self {
        case .cnnFMNIST: "cnn-fmnist"
        case .resnet(let width): "resnet-\(width)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown architecture '\(name)'; expected cnn-fmnist or resnet-<width>"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
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
    /// The FashionMNIST classes the classifier was trained on, in label order (output k is
    /// class `fashionMNISTClasses[k]`, as `DataSpec.fashionMNISTClasses` labels them); nil for
    /// all ten (then omitted from `config.json`, so older checkpoints read unchanged). The rest
    /// are the held-out classes.
    public var fashionMNISTClasses: [Int]?

    public init(architecture: ClassifierArchitecture = .cnnFMNIST, inputChannels: Int = 1, classes: Int = 10, seed: UInt64 = 0,
                inputMean: Double = 0.28604, inputStd: Double = 0.35302, fashionMNISTClasses: [Int]? = nil) {
        precondition(fashionMNISTClasses.map { $0.count == classes } ?? true,
                     "ClassifierConfig: \(classes) outputs for FashionMNIST classes \(fashionMNISTClasses!)")
        self.architecture = architecture
        self.inputChannels = inputChannels
        self.classes = classes
        self.seed = seed
        self.inputMean = inputMean
        self.inputStd = inputStd
        self.fashionMNISTClasses = fashionMNISTClasses
    }

    /// The in-distribution test set of the classifier: `fashion-mnist-test`, or the test images
    /// of its classes.
    public var inDistributionTest: DataSpec {
        fashionMNISTClasses.map { .fashionMNISTClasses($0, .test) } ?? .fashionMNIST(.test)
    }

    /// The FashionMNIST classes it was not trained on, ascending (empty when trained on all).
    public var heldOutClasses: [Int] {
        guard let trained = fashionMNISTClasses else { return [] }
        return (0..<10).filter { !trained.contains($0) }
    }
}

/// A convolutional classifier split into a feature extractor and a linear head, so the
/// penultimate features (the LDE paper's "latent representations") are directly available.
///
/// Call `setTraining(false)` before extracting features or scoring: the ResNet backbone's
/// BatchNorm layers use batch statistics in training mode.
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
        case .resnet(let width):
            backbone = ResNetBackbone.make(inputChannels: config.inputChannels, width: width, using: &rng)
            head = Linear(4 * width, config.classes, using: &rng)
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
