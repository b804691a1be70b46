import Foundation
import Tensor
import NN

/// Penultimate-layer features of a classifier, extracted in evaluation mode, in batches,
/// without autodiff, and optionally cached on disk (`FeatureCache`).
///
/// Logits are not cached: they are `classifier.head` applied to the features, which is exactly
/// what `Classifier.logits` computes, so MSP, Energy and ReAct all start from the features.
public final class FeatureExtractor {
    public let classifier: Classifier
    /// Identifies the weights in cache keys: the SHA-256 (hex) of the checkpoint's
    /// `model.safetensors`, or of the encoded parameters for an in-memory classifier.
    public let weightsDigest: String
    public let cache: FeatureCache?
    /// Images per forward pass.
    public var batchSize = 500
    /// Draw a progress bar on standard error while extracting.
    public var showProgress = false
    /// Receives one line per cache event ("features … cached", "… corrupt, recomputing").
    public var log: (String) -> Void = { _ in }

    /// - Parameters:
    ///   - classifier: the model; it is switched to evaluation mode while extracting.
    ///   - weightsDigest: identifies the weights; by default the SHA-256 of the parameters
    ///     encoded as safetensors (names, shapes and values).
    ///   - cache: where features are cached; nil disables caching.
    public init(classifier: Classifier, weightsDigest: String? = nil, cache: FeatureCache? = nil) {
        self.classifier = classifier
        self.weightsDigest = weightsDigest ?? Self.parameterDigest(classifier)
        self.cache = cache
    }

    /// Loads a checkpoint written by `flowood train-classifier` (`config.json` + `model.safetensors`).
    /// - Throws: `CheckpointError` naming the file and field.
    public static func load(checkpoint directory: URL, cache: FeatureCache? = nil) throws -> FeatureExtractor {
        let config = try Checkpoint.readConfig(ClassifierConfig.self, from: directory)
        let model = Classifier(config)
        try Checkpoint.load(into: model, from: directory)
        model.setTraining(false)
        let digest = try SHA256.hash(fileAt: directory.appendingPathComponent(Checkpoint.modelFile).path).hex
        return FeatureExtractor(classifier: model, weightsDigest: digest, cache: cache)
    }

    /// SHA-256 of the classifier's configuration and parameters (safetensors encoding).
    public static func parameterDigest(_ classifier: Classifier) -> String {
        var tensors: [String: Tensor] = [:]
        for (name, p) in classifier.namedParameters() { tensors[name] = p.value.detached }
        var h = SHA256()
        h.update(Safetensors.encode(tensors))
        h.update(configJSON(classifier.config))
        return h.finalize().hex
    }

    static func configJSON(_ config: ClassifierConfig) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The features of every example, (N, featureDimension) Float32, in order.
    ///
    /// With a cache and a data set that has an `identity` (loaded through `DataSpec.load`),
    /// a verified cache entry is returned when present; otherwise the features are computed
    /// and stored. The entry's key (`cacheKey(of:)`) covers the SHA-256 of the examples
    /// themselves, so changed pixels never reuse stale features.
    /// - Throws: `DetectorError.needsImages` for a vector set; cache write errors.
    public func features(of data: LoadedDataset) throws -> Tensor {
        guard data.images != nil else { throw DetectorError(detector: "features", dataset: data.key, kind: .needsImages) }
        let key = cache == nil ? nil : cacheKey(of: data)
        if let cache, let key {
            switch cache.lookup(key: key, count: data.count, dimension: classifier.featureDimension) {
            case .hit(let features):
                log("features of \(data.key): cache hit")
                return features
            case .miss:
                break
            case .corrupt(let reason):
                log("features of \(data.key): cache entry corrupt (\(reason)); recomputing")
            }
        }
        let features = compute(data)
        if let cache, let key { try cache.store(features, key: key) }
        return features
    }

    /// The cache key of a data set: `cacheKey(dataIdentity:contentSHA256:)` of its identity and
    /// content digest; nil for a set without an identity (built by hand, never cached).
    public func cacheKey(of data: LoadedDataset) -> String? {
        data.identity.map { cacheKey(dataIdentity: $0, contentSHA256: data.contentSHA256) }
    }

    /// The cache key: SHA-256 over the code version, weights digest, classifier configuration,
    /// the data identity (key, count, seed) and the SHA-256 of the examples' content
    /// (`LoadedDataset.contentSHA256`: the pixel bytes), each followed by a zero byte.
    public func cacheKey(dataIdentity: String, contentSHA256: String) -> String {
        var h = SHA256()
        for part in [FeatureCache.codeVersion, weightsDigest, Self.configJSON(classifier.config), dataIdentity, contentSHA256] {
            h.update(part)
            h.update([0])
        }
        return h.finalize().hex
    }

    /// Runs the backbone over the set in batches (evaluation mode, no autodiff).
    func compute(_ data: LoadedDataset) -> Tensor {
        let wasTraining = classifier.isTraining
        classifier.setTraining(false)
        defer { classifier.setTraining(wasTraining) }
        let n = data.count, d = classifier.featureDimension
        var values = [Float](repeating: 0, count: n * d)
        let bar = ProgressBar("features \(data.key)", total: n)
        bar.quiet = !showProgress
        withoutGrad {
            var start = 0
            while start < n {
                let end = Swift.min(n, start + batchSize)
                let f = classifier.features(data.tensor(indices: start..<end)).contiguous()
                f.withUnsafePointer(as: Float.self) { p in
                    values.withUnsafeMutableBufferPointer { dst in
                        (dst.baseAddress! + start * d).update(from: p, count: (end - start) * d)
                    }
                }
                bar.advance(by: end - start)
                start = end
            }
        }
        return Tensor(values, shape: [n, d])
    }

    /// Class logits from features: `classifier.head(features)`, (N, classes).
    public func logits(fromFeatures features: Tensor) -> Tensor {
        withoutGrad { classifier.head(features) }
    }
}

/// A content-addressed on-disk cache of feature matrices.
///
/// An entry is `<directory>/<key>.safetensors` holding the tensor `features` (N, D) and the
/// metadata `key` and `sha256` (the SHA-256 of the tensor's little-endian bytes). Entries are
/// written atomically (temporary file, then rename). On read, the file must parse, name the
/// same key, have the expected shape and match its recorded digest; anything else is reported
/// as corrupt and the caller recomputes (and overwrites the entry).
public struct FeatureCache: Sendable {
    public let directory: URL
    /// Part of every key: bump when feature extraction changes meaning.
    public static let codeVersion = "flowood-features-v2"

    public init(directory: URL) { self.directory = directory }

    /// The outcome of a lookup.
    public enum Lookup {
        case hit(Tensor)
        case miss
        case corrupt(String)
    }

    /// The entry's file.
    public func url(key: String) -> URL { directory.appendingPathComponent("\(key).safetensors") }

    /// Looks an entry up and verifies it.
    public func lookup(key: String, count: Int, dimension: Int) -> Lookup {
        let url = url(key: key)
        guard FileManager.default.fileExists(atPath: url.path) else { return .miss }
        let tensors: [String: Tensor], metadata: [String: String]
        do { (tensors, metadata) = try Safetensors.read(from: url) } catch { return .corrupt("\(error)") }
        guard metadata["key"] == key else { return .corrupt("entry names key \(metadata["key"] ?? "none")") }
        guard let features = tensors["features"], features.dtype == .float32 else { return .corrupt("no Float32 tensor 'features'") }
        guard features.shape == [count, dimension] else {
            return .corrupt("shape \(features.shape), expected [\(count), \(dimension)]")
        }
        let digest = Self.digest(features)
        guard metadata["sha256"] == digest else { return .corrupt("content SHA-256 \(digest) differs from the recorded \(metadata["sha256"] ?? "none")") }
        return .hit(features)
    }

    /// Stores an entry atomically.
    public func store(_ features: Tensor, key: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Safetensors.write(["features": features], metadata: ["key": key, "sha256": Self.digest(features)], to: url(key: key))
    }

    /// SHA-256 of a Float32 tensor's values as little-endian bytes.
    static func digest(_ t: Tensor) -> String {
        let c = t.contiguous().detached
        #if _endian(little)
        return c.withUnsafePointer(as: Float.self) { SHA256.hash(UnsafeRawBufferPointer(start: $0, count: c.count * 4)).hex }
        #else
        var bytes = [UInt8]()
        bytes.reserveCapacity(c.count * 4)
        for v in c.scalars {
            let b = v.bitPattern
            bytes += [UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8),
                      UInt8(truncatingIfNeeded: b >> 16), UInt8(truncatingIfNeeded: b >> 24)]
        }
        return SHA256.hash(bytes).hex
        #endif
    }
}
