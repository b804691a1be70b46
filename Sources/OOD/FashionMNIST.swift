import Foundation
import Tensor

/// The Fashion-MNIST data set (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 28×28
/// grey-scale images of Zalando articles in 10 classes, 60 000 for training and 10 000 for
/// testing, 6 000 / 1 000 per class, stored as four gzip-compressed IDX files.
///
/// On Debian the files come from the package `dataset-fashion-mnist`, installed at
/// `defaultDirectory`.
public struct FashionMNIST {
    /// Where `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The environment variable naming a data root (holding `fashion-mnist/` or the files).
    public static let environmentVariable = "FLOWOOD_DATA"

    /// The subfolder of a data root that holds the files.
    public static let subdirectory = "fashion-mnist"

    /// How a missing file can be obtained; part of the `.missing` error.
    public static let installHint =
        "Fashion-MNIST is provided by the Debian package dataset-fashion-mnist: install it with "
        + "`apt-get install dataset-fashion-mnist`, or point \(environmentVariable) or --data-dir at a "
        + "directory holding the four *-ubyte.gz files (or their fashion-mnist/ folder)"

    /// Class names by label, from the data set's README.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// The two published splits.
    public enum Split: String, Sendable, CaseIterable {
        case train, test

        /// Name of the gzip-compressed IDX image file (magic 0x00000803).
        public var imagesFile: String {
            self == .train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz"
        }

        /// Name of the gzip-compressed IDX label file (magic 0x00000801).
        public var labelsFile: String {
            self == .train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz"
        }

        /// SHA-256 of the compressed image file as published (`sha256sum`, dataset-fashion-mnist).
        public var imagesSHA256: String {
            switch self {
            case .train: "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
            case .test: "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
            }
        }

        /// SHA-256 of the compressed label file as published (`sha256sum`, dataset-fashion-mnist).
        public var labelsSHA256: String {
            switch self {
            case .train: "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
            case .test: "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
            }
        }

        /// Number of examples in the published split.
        public var publishedCount: Int { self == .train ? 60_000 : 10_000 }
    }

    /// The directory to load from: `override` (an explicit option such as `--data-dir`) if
    /// given, else the `FLOWOOD_DATA` data root, else `defaultDirectory`.
    ///
    /// For `override` and `FLOWOOD_DATA` alike, a `fashion-mnist` subfolder is used when it
    /// exists; otherwise the directory itself is expected to hold the files.
    /// - Parameters:
    ///   - override: an explicit directory; nil or empty means none.
    ///   - environment: the process environment (injectable for tests).
    public static func directory(
        override: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        func resolve(_ root: String) -> String { DataLocation.subdirectory(subdirectory, of: root) ?? root }
        if let override, !override.isEmpty { return resolve(override) }
        if let root = environment[environmentVariable], !root.isEmpty { return resolve(root) }
        return defaultDirectory
    }

    /// Loads one split from `directory`.
    ///
    /// Checks that both files are IDX ubyte arrays of the right rank, that every byte the
    /// headers declare is present, that images and labels agree in count, and that every label
    /// is in 0..<10. The SHA-256 constants on `Split` are not verified here.
    /// - Throws: `DataError` naming the file at fault; a missing file carries `installHint`.
    public static func load(_ split: Split, directory: String) throws -> LabeledImages {
        let imagesPath = (directory as NSString).appendingPathComponent(split.imagesFile)
        let labelsPath = (directory as NSString).appendingPathComponent(split.labelsFile)
        for path in [imagesPath, labelsPath] where !FileManager.default.fileExists(atPath: path) {
            throw DataError(path: path, kind: .missing(hint: installHint))
        }
        let images = try IDX.read(path: imagesPath, expecting: IDX.imagesMagic)
        let labels = try IDX.read(path: labelsPath, expecting: IDX.labelsMagic)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError(path: imagesPath, kind: .countMismatch(
                images: images.dimensions[0], labels: labels.dimensions[0], labelsPath: labelsPath))
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DataError(path: labelsPath, kind: .labelOutOfRange(index: bad, label: labels.bytes[bad], classes: classNames.count))
        }
        return LabeledImages(images: images.bytes, labels: labels.bytes,
                             height: images.dimensions[1], width: images.dimensions[2])
    }
}

/// A set of grey-scale images with one class label each, as stored: bytes 0…255.
public struct LabeledImages: Sendable {
    /// Pixels of all images, image-major then row-major: pixel (y, x) of image i is at
    /// `i * height * width + y * width + x`.
    public let images: [UInt8]
    /// The class of each image.
    public let labels: [UInt8]
    /// Number of images.
    public let count: Int
    public let height: Int
    public let width: Int

    /// How pixel bytes p ∈ 0…255 become tensor values.
    public enum PixelScale: Sendable, Equatable {
        /// x = p / 255 ∈ [0, 1].
        case unitInterval
        /// x = p ∈ [0, 255], for flows that dequantise themselves: (p + u) / 256.
        case byteValues
        /// x = (p / 255 − mean) / std.
        case standardized(mean: Float, std: Float)
    }

    /// Wraps images and labels; `images.count` must equal `labels.count × height × width`.
    public init(images: [UInt8], labels: [UInt8], height: Int, width: Int) {
        precondition(height > 0 && width > 0, "LabeledImages: image size \(height)×\(width)")
        precondition(images.count == labels.count * height * width,
                     "LabeledImages: \(images.count) pixels for \(labels.count) images of \(height)×\(width)")
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.height = height
        self.width = width
    }

    /// The images at `indices` as a (B, 1, height, width) Float32 tensor, B = `indices.count`.
    /// - Parameters:
    ///   - indices: image indices in 0..<count, in batch order (repeats allowed).
    ///   - scale: the pixel mapping; by default x = p / 255.
    public func tensor(indices: some Collection<Int>, scale: PixelScale = .unitInterval) -> Tensor {
        let pixels = height * width
        var table = [Float](repeating: 0, count: 256)
        for p in 0..<256 {
            switch scale {
            case .unitInterval: table[p] = Float(p) / 255
            case .byteValues: table[p] = Float(p)
            case .standardized(let mean, let std): table[p] = (Float(p) / 255 - mean) / std
            }
        }
        var values = [Float](repeating: 0, count: indices.count * pixels)
        images.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for (b, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "LabeledImages.tensor: index \(i) out of 0..<\(count)")
                    let from = i * pixels, to = b * pixels
                    for k in 0..<pixels { dst[to + k] = table[Int(src[from + k])] }
                }
            }
        }
        return Tensor(values, shape: [indices.count, 1, height, width])
    }
}
