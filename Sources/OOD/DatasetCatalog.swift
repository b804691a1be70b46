import Foundation
import Tensor
import NN

/// The train or test part of a data set.
public typealias DataSplit = FashionMNIST.Split

/// A data set by stable name: the values of the report's `Data` directive argument (see
/// docs/report-design.md) and of `flowood evaluate --in/--ood`.
///
/// Each case has a `key` used in tables and file names, and `load(count:seed:dataDir:)`
/// reads it from the installed packages, verifying every source file's SHA-256.
///
/// | case | key | source |
/// |---|---|---|
/// | `.fashionMNIST(.test)` | `fashion-mnist-test` | `dataset-fashion-mnist` IDX files |
/// | `.digits` | `digits` | scikit-learn `digits.csv.gz`, rendered MNIST-style (our MNIST stand-in) |
/// | `.textures`, `.photos` | `textures`, `photos` | scikit-image sample images, 28×28 crops |
/// | `.gaussianNoise`, `.uniformNoise`, `.constant` | `gaussian-noise`, … | generated |
/// | `.invertedFashionMNIST`, `.flippedFashionMNIST` | `fashion-mnist-inverted`, `fashion-mnist-flipped` | FashionMNIST test, transformed |
/// | `.fashionMNISTClasses([0, 1, 2], .test)` | `fashion-mnist-classes-0-1-2-test` | FashionMNIST images of those classes |
/// | `.tabular(.wine, class: 1, .test)` | `tabular-wine-1-test` | scikit-learn `wine_data.csv` |
///
/// Codable as its key (a JSON string).
public enum DataSpec: Hashable, Sendable {
    case fashionMNIST(DataSplit)
    /// scikit-learn's 8×8 digits rendered as 28×28 MNIST-style images (`Digits.mnistStyle()`):
    /// digits = our MNIST stand-in.
    case digits
    /// Crops of the brick, grass and gravel textures (`SkimageCrops.textures`).
    case textures
    /// Crops of six photographs (`SkimageCrops.photos`; all six PNGs are required; `rocket`
    /// ships only as JPEG and is not used).
    case photos
    /// Pixels N(127.5, 64²), rounded and clipped to 0…255 (`Synthetic.gaussianNoise`).
    case gaussianNoise
    /// Pixels uniform on 0…255 (`Synthetic.uniformNoise`).
    case uniformNoise
    /// Constant images, one uniform grey level each (`Synthetic.constant`).
    case constant
    /// FashionMNIST test images with intensities inverted (255 − p).
    case invertedFashionMNIST
    /// FashionMNIST test images flipped upside down.
    case flippedFashionMNIST
    /// The FashionMNIST images whose class is in the list (held-out-class experiments).
    /// Labels are positions in the list (class list [2, 5] → labels 0 and 1), so a classifier
    /// can be trained on the subset directly.
    case fashionMNISTClasses([Int], DataSplit)
    /// The rows of one class of a tabular set, in its train or test part (`TabularTable.split`).
    case tabular(TabularDataset, class: Int, DataSplit)

    /// Number of examples a generated set has when no count is given.
    public static let defaultGeneratedCount = 10_000

    /// The stable name used in tables and files.
    public var key: String {
        switch self {
        case .fashionMNIST(let split): "fashion-mnist-\(split.rawValue)"
        case .digits: "digits"
        case .textures: "textures"
        case .photos: "photos"
        case .gaussianNoise: "gaussian-noise"
        case .uniformNoise: "uniform-noise"
        case .constant: "constant"
        case .invertedFashionMNIST: "fashion-mnist-inverted"
        case .flippedFashionMNIST: "fashion-mnist-flipped"
        case let .fashionMNISTClasses(classes, split):
            "fashion-mnist-classes-" + classes.map(String.init).joined(separator: "-") + "-\(split.rawValue)"
        case let .tabular(set, c, split): "tabular-\(set.rawValue)-\(c)-\(split.rawValue)"
        }
    }

    /// Every key that names a set without parameters, for help texts and suggestions.
    public static let simpleKeys = [
        "fashion-mnist-train", "fashion-mnist-test", "digits", "textures", "photos", "gaussian-noise",
        "uniform-noise", "constant", "fashion-mnist-inverted", "fashion-mnist-flipped",
    ]

    /// Parses a key (the inverse of `key`).
    /// - Throws: `DataSpecError` naming the key and the accepted forms.
    public init(key: String) throws(DataSpecError) {
        switch key {
        case "fashion-mnist-train": self = .fashionMNIST(.train)
        case "fashion-mnist-test": self = .fashionMNIST(.test)
        case "digits": self = .digits
        case "textures": self = .textures
        case "photos": self = .photos
        case "gaussian-noise": self = .gaussianNoise
        case "uniform-noise": self = .uniformNoise
        case "constant": self = .constant
        case "fashion-mnist-inverted": self = .invertedFashionMNIST
        case "fashion-mnist-flipped": self = .flippedFashionMNIST
        default:
            var parts = key.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard let last = parts.last, let split = DataSplit(rawValue: last) else { throw DataSpecError(key: key) }
            parts.removeLast()
            if key.hasPrefix("fashion-mnist-classes-") {
                let numbers = parts.dropFirst(3).map { Int($0) }
                guard !numbers.isEmpty, numbers.allSatisfy({ $0.map { (0..<10).contains($0) } ?? false }) else {
                    throw DataSpecError(key: key)
                }
                let classes = numbers.map { $0! }
                guard Set(classes).count == classes.count else { throw DataSpecError(key: key) }
                self = .fashionMNISTClasses(classes, split)
            } else if key.hasPrefix("tabular-"), parts.count >= 3, let c = Int(parts.last!),
                      let set = TabularDataset(rawValue: parts.dropFirst().dropLast().joined(separator: "-")),
                      c >= 0, c < set.classCount {
                self = .tabular(set, class: c, split)
            } else {
                throw DataSpecError(key: key)
            }
        }
    }

    /// Whether the set is generated (noise, constant, crops): it has no natural size, so a load
    /// without a count produces `defaultGeneratedCount` examples.
    public var isGenerated: Bool {
        switch self {
        case .textures, .photos, .gaussianNoise, .uniformNoise, .constant: true
        default: false
        }
    }

    /// Whether the set holds vectors rather than 28×28 images.
    public var isTabular: Bool {
        if case .tabular = self { return true }
        return false
    }

    /// The set a detector is fitted on when this set is the in-distribution test set: the
    /// training part of the same distribution. Nil for sets that have no training part.
    public var trainCounterpart: DataSpec? {
        switch self {
        case .fashionMNIST: .fashionMNIST(.train)
        case .fashionMNISTClasses(let classes, _): .fashionMNISTClasses(classes, .train)
        case let .tabular(set, c, _): .tabular(set, class: c, .train)
        default: nil
        }
    }

    /// The source files and their documented SHA-256, resolved under `dataDir`.
    /// Generated noise and constant sets have none.
    public func sourceFiles(dataDir: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> [SourceFile] {
        func fashion(_ split: DataSplit) -> [SourceFile] {
            let dir = FashionMNIST.directory(override: dataDir, environment: environment)
            return [
                SourceFile(path: (dir as NSString).appendingPathComponent(split.imagesFile), sha256: split.imagesSHA256,
                           hint: FashionMNIST.installHint),
                SourceFile(path: (dir as NSString).appendingPathComponent(split.labelsFile), sha256: split.labelsSHA256,
                           hint: FashionMNIST.installHint),
            ]
        }
        func skimage(_ files: [String]) -> [SourceFile] {
            let dir = Self.skimageDirectory(dataDir: dataDir, environment: environment)
            return files.map {
                SourceFile(path: (dir as NSString).appendingPathComponent($0), sha256: SkimageCrops.sha256[$0]!,
                           hint: SkimageCrops.installHint)
            }
        }
        switch self {
        case .fashionMNIST(let split): return fashion(split)
        case .fashionMNISTClasses(_, let split): return fashion(split)
        case .invertedFashionMNIST, .flippedFashionMNIST: return fashion(.test)
        case .digits:
            return [SourceFile(path: Self.digitsPath(dataDir: dataDir, environment: environment), sha256: Digits.sha256,
                               hint: Digits.installHint)]
        case .textures: return skimage(SkimageCrops.textureFiles)
        case .photos: return skimage(SkimageCrops.photoFiles)
        case .gaussianNoise, .uniformNoise, .constant: return []
        case .tabular(let set, _, _):
            return [SourceFile(path: ScikitLearnData.path(of: set.fileName, dataRoot: dataDir, environment: environment),
                               sha256: set.sha256, hint: ScikitLearnData.installHint(set.fileName))]
        }
    }

    /// Loads the set.
    ///
    /// Subsampling: with `count` below the set's size, a uniformly random subset of `count`
    /// distinct examples is drawn (partial Fisher–Yates with `SeededGenerator(seed:)` mixed
    /// with the key) and kept in the set's original order; otherwise the whole set is returned
    /// in file order. Generated sets draw `count` (default `defaultGeneratedCount`) examples
    /// from the same seeded generator. The same (key, count, seed) always gives the same data.
    /// The chosen examples are recorded in `LoadedDataset.sources` (file and index in it, or
    /// crop origin), with the seed and count of the load.
    ///
    /// Tabular sets are standardised with the mean and standard deviation of the training
    /// part of the in-distribution class: `standardizeLike`'s class if it is a tabular spec of
    /// the same file, else this spec's own class (so `.tabular(.wine, class: 0, .train)`
    /// alone is standardised with its own statistics, and an OOD class is loaded with
    /// `standardizeLike:` the in-distribution spec).
    ///
    /// - Parameters:
    ///   - count: at most this many examples; nil for all (or the generated default).
    ///   - seed: seeds the subsample or the generator.
    ///   - dataDir: a data root or directory (`--data-dir`), else `FLOWOOD_DATA`, else the
    ///     packages' locations.
    ///   - verify: check every source file's SHA-256 first (on by default).
    ///   - standardizeLike: the in-distribution spec whose statistics standardise a tabular set.
    /// - Throws: `DataError` (missing file, naming the Debian package and the PyPI alternative),
    ///   `ChecksumError`, or the format errors of the loaders (`PNGError`, `CSVError`, `TabularDataError`).
    public func load(count: Int? = nil, seed: UInt64 = 0, dataDir: String? = nil, verify: Bool = true,
                     standardizeLike: DataSpec? = nil) throws -> LoadedDataset {
        precondition(count.map { $0 >= 0 } ?? true, "DataSpec.load: count \(count!)")
        if verify { for file in sourceFiles(dataDir: dataDir) { try file.verify() } }
        var loaded = try loadContent(count: count, seed: seed, dataDir: dataDir, standardizeLike: standardizeLike)
        var identity = "\(key) count=\(count.map(String.init) ?? "all") seed=\(seed)"
        if isTabular, let standardizeLike { identity += " standardized-like=\(standardizeLike.key)" }
        loaded.identity = identity
        loaded.seed = seed
        precondition(loaded.sources?.count == loaded.count, "DataSpec.load(\(key)): sources not recorded")
        return loaded
    }

    private func loadContent(count: Int?, seed: UInt64, dataDir: String?, standardizeLike: DataSpec?) throws -> LoadedDataset {
        var rng = SeededGenerator(seed: seed ^ Self.fnv1a(key))
        let generated = count ?? Self.defaultGeneratedCount

        /// Positions of the chosen examples among n: all, or `count` distinct ones in order.
        func subsample(_ n: Int) -> [Int] {
            guard let count, count < n else { return Array(0..<n) }
            var indices = Array(0..<n)
            for k in 0..<count { indices.swapAt(k, Int.random(in: k..<n, using: &rng)) }
            return indices.prefix(count).sorted()
        }
        func pick(_ set: LabeledImages, _ indices: [Int]) -> LabeledImages {
            if indices.count == set.count { return set }
            let pixels = set.height * set.width
            var images: [UInt8] = []
            images.reserveCapacity(indices.count * pixels)
            for i in indices { images += set.images[(i * pixels)..<((i + 1) * pixels)] }
            return LabeledImages(images: images, labels: indices.map { set.labels[$0] }, height: set.height, width: set.width)
        }
        func fashion(_ split: DataSplit) throws -> LabeledImages {
            try FashionMNIST.load(split, directory: FashionMNIST.directory(override: dataDir))
        }
        func records(_ file: String, _ indices: [Int]) -> [ExampleSource] {
            indices.map { ExampleSource(source: file, index: $0) }
        }
        func crops(_ files: [String], _ origins: [CropOrigin]) -> [ExampleSource] {
            origins.enumerated().map { ExampleSource(source: files[$0.element.source], index: $0.offset, cropX: $0.element.x, cropY: $0.element.y) }
        }
        func generatedSources(_ n: Int) -> [ExampleSource] { records(ExampleSource.generated, Array(0..<n)) }

        var loaded: LoadedDataset
        switch self {
        case .fashionMNIST(let split):
            let all = try fashion(split)
            let chosen = subsample(all.count)
            loaded = LoadedDataset(spec: self, images: pick(all, chosen), labelsKnown: true)
            loaded.sources = records(split.imagesFile, chosen)
        case .invertedFashionMNIST, .flippedFashionMNIST:
            let all = try fashion(.test)
            let indices = subsample(all.count)
            let chosen = pick(all, indices)
            let transformed = self == .invertedFashionMNIST ? Synthetic.inverted(chosen) : Synthetic.verticallyFlipped(chosen)
            loaded = LoadedDataset(spec: self, images: transformed, labelsKnown: true)
            loaded.sources = records(DataSplit.test.imagesFile, indices)
        case let .fashionMNISTClasses(classes, split):
            precondition(!classes.isEmpty && classes.allSatisfy { (0..<10).contains($0) }, "fashionMNISTClasses: \(classes)")
            let all = try fashion(split)
            let members = all.labels.indices.filter { classes.contains(Int(all.labels[$0])) }
            let chosen = subsample(members.count).map { members[$0] }
            let picked = pick(all, chosen)
            let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { (UInt8($0.element), UInt8($0.offset)) })
            let relabelled = LabeledImages(images: picked.images, labels: picked.labels.map { position[$0]! },
                                           height: picked.height, width: picked.width)
            loaded = LoadedDataset(spec: self, images: relabelled, labelsKnown: true)
            loaded.sources = records(split.imagesFile, chosen)
        case .digits:
            let all = try Digits.load(path: Self.digitsPath(dataDir: dataDir)).mnistStyle()
            let chosen = subsample(all.count)
            loaded = LoadedDataset(spec: self, images: pick(all, chosen), labelsKnown: true)
            loaded.sources = records(Digits.fileName, chosen)
        case .textures:
            let (set, origins) = try SkimageCrops.texturesWithOrigins(count: generated, directory: Self.skimageDirectory(dataDir: dataDir),
                                                                      using: &rng)
            loaded = LoadedDataset(spec: self, images: set, labelsKnown: true)
            loaded.sources = crops(SkimageCrops.textureFiles, origins)
        case .photos:
            let (set, origins) = try SkimageCrops.photosWithOrigins(count: generated, directory: Self.skimageDirectory(dataDir: dataDir),
                                                                    using: &rng)
            loaded = LoadedDataset(spec: self, images: set, labelsKnown: true)
            loaded.sources = crops(SkimageCrops.photoFiles, origins)
        case .gaussianNoise:
            loaded = LoadedDataset(spec: self, images: Synthetic.gaussianNoise(count: generated, using: &rng), labelsKnown: false)
            loaded.sources = generatedSources(generated)
        case .uniformNoise:
            loaded = LoadedDataset(spec: self, images: Synthetic.uniformNoise(count: generated, using: &rng), labelsKnown: false)
            loaded.sources = generatedSources(generated)
        case .constant:
            loaded = LoadedDataset(spec: self, images: Synthetic.constant(count: generated, using: &rng), labelsKnown: false)
            loaded.sources = generatedSources(generated)
        case let .tabular(set, c, split):
            precondition(c >= 0 && c < set.classCount, "tabular: class \(c) of \(set.rawValue)")
            let path = ScikitLearnData.path(of: set.fileName, dataRoot: dataDir)
            let table = try TabularTable.load(path: path, expected: set, hint: ScikitLearnData.installHint(set.fileName))
            var referenceClass = c
            if case let .tabular(refSet, refClass, _)? = standardizeLike, refSet == set { referenceClass = refClass }
            let standardizer = Standardizer(fittedOn: table.rows(table.split(class: referenceClass, .train)),
                                            dimension: table.dimension)
            let members = table.split(class: c, split)
            let chosen = subsample(members.count).map { members[$0] }
            loaded = LoadedDataset(spec: self, vectors: standardizer.apply(table.rows(chosen)), dimension: table.dimension,
                                   labels: chosen.map { table.labels[$0] })
            loaded.sources = records(set.fileName, chosen)
        }
        return loaded
    }

    /// The scikit-image sample-image directory under `dataDir` (its `skimage/` subfolder or
    /// itself when it holds the files), else `SkimageCrops.directory()`.
    static func skimageDirectory(dataDir: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dataDir, !dataDir.isEmpty {
            if let sub = DataLocation.subdirectory(SkimageCrops.subdirectory, of: dataDir) { return sub }
            if FileManager.default.fileExists(atPath: (dataDir as NSString).appendingPathComponent(SkimageCrops.textureFiles[0])) {
                return dataDir
            }
        }
        return SkimageCrops.directory(environment: environment)
    }

    /// `digits.csv.gz` under `dataDir` (`sklearn-digits/`, `sklearn/` or itself), else
    /// `Digits.path()` when that exists, else the first scikit-learn installation that has it.
    static func digitsPath(dataDir: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dataDir, !dataDir.isEmpty {
            for sub in [Digits.subdirectory, ScikitLearnData.subdirectory, ""] {
                let candidate = ((dataDir as NSString).appendingPathComponent(sub) as NSString).appendingPathComponent(Digits.fileName)
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
        }
        let packaged = Digits.path(environment: environment)
        if FileManager.default.fileExists(atPath: packaged) { return packaged }
        return ScikitLearnData.path(of: Digits.fileName, dataRoot: dataDir, environment: environment)
    }

    /// 64-bit FNV-1a of the key's UTF-8 bytes: decorrelates the generators of different sets
    /// that share a seed.
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

extension DataSpec: Codable, CustomStringConvertible {
    public init(from decoder: any Decoder) throws {
        let key = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(key: key) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(key)
    }

    public var description: String { key }
}

/// A key that names no data set.
public struct DataSpecError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public init(key: String) { self.key = key }
    public var description: String {
        "unknown data set '\(key)'; use one of \(DataSpec.simpleKeys.joined(separator: ", ")), "
            + "fashion-mnist-classes-<c>-…-<train|test> (classes 0…9), "
            + "tabular-<\(TabularDataset.allCases.map(\.rawValue).joined(separator: "|"))>-<class>-<train|test>"
    }
}

/// A loaded data set: 28×28 grey images or standardised feature vectors, with labels where
/// they are meaningful.
public struct LoadedDataset: Sendable {
    /// Images or vectors.
    public enum Content: Sendable {
        /// Images with pixel bytes 0…255 (`LabeledImages.tensor` maps them to [0, 1]).
        case images(LabeledImages)
        /// Rows of `dimension` values, row-major.
        case vectors([Double], dimension: Int)
    }

    /// The catalog entry, or nil for a set built by hand (tests, toy data).
    public private(set) var spec: DataSpec?
    /// The stable name in tables and files: `spec.key`, or the name given to a hand-built set.
    public let key: String
    public let content: Content
    /// What identifies these exact examples for caches: the key, count and seed of the load
    /// (`DataSpec.load` sets it); nil for sets built by hand, which are never cached.
    public var identity: String?
    /// The class of each example where known (FashionMNIST classes, digits, the texture or
    /// photo a crop came from, tabular classes); nil for noise and constant images.
    public let labels: [Int]?
    /// Where each example came from (`DataSpec.load` sets it; nil for sets built by hand):
    /// the file and the 0-based index in it, or the crop's source image and corner.
    public var sources: [ExampleSource]?
    /// The seed of the load (`DataSpec.load`), nil for sets built by hand.
    public var seed: UInt64?
    /// Memoised `contentSHA256` (shared by copies; the content never changes).
    private let digestMemo = ContentDigestMemo()

    /// The chosen examples' indices in their source (`sources`' `index`): for a subsample of a
    /// file, which records were drawn.
    public var sourceIndices: [Int]? { sources?.map(\.index) }

    /// SHA-256 (hex) of the content: for images "images H W" then the pixel bytes, for vectors
    /// "vectors D" then the values as little-endian IEEE 754 doubles. Computed once per value.
    /// Identifies the data itself, so a cache keyed by it cannot return features of other
    /// pixels (a change in rendering or cropping changes it).
    public var contentSHA256: String {
        digestMemo.value {
            var h = SHA256()
            switch content {
            case .images(let set):
                h.update("images \(set.height) \(set.width)")
                h.update([0])
                h.update(set.images)
            case let .vectors(values, d):
                h.update("vectors \(d)")
                h.update([0])
                var bytes: [UInt8] = []
                bytes.reserveCapacity(values.count * 8)
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
                h.update(bytes)
            }
            return h.finalize().hex
        }
    }

    /// Images of a catalog entry.
    public init(spec: DataSpec, images: LabeledImages, labelsKnown: Bool) {
        self.init(key: spec.key, images: images, labels: labelsKnown ? images.labels.map(Int.init) : nil)
        self.spec = spec
    }

    /// Vectors of a catalog entry.
    public init(spec: DataSpec, vectors: [Double], dimension: Int, labels: [Int]?) {
        self.init(key: spec.key, vectors: vectors, dimension: dimension, labels: labels)
        self.spec = spec
    }

    /// A hand-built image set named `key` (never cached).
    public init(key: String, images: LabeledImages, labels: [Int]?) {
        precondition(labels.map { $0.count == images.count } ?? true, "LoadedDataset: \(labels!.count) labels for \(images.count) images")
        spec = nil
        self.key = key
        content = .images(images)
        self.labels = labels
    }

    /// A hand-built vector set named `key` (never cached): rows of `dimension` values, row-major.
    public init(key: String, vectors: [Double], dimension: Int, labels: [Int]?) {
        precondition(dimension > 0 && vectors.count % dimension == 0, "LoadedDataset: \(vectors.count) values, dimension \(dimension)")
        precondition(labels.map { $0.count == vectors.count / dimension } ?? true, "LoadedDataset: label count")
        spec = nil
        self.key = key
        content = .vectors(vectors, dimension: dimension)
        self.labels = labels
    }

    /// Number of examples.
    public var count: Int {
        switch content {
        case .images(let set): set.count
        case let .vectors(values, d): values.count / d
        }
    }

    /// The images, or nil for a vector set.
    public var images: LabeledImages? {
        if case .images(let set) = content { return set }
        return nil
    }

    /// The shape of one example: [1, 28, 28] or [D].
    public var exampleShape: [Int] {
        switch content {
        case .images(let set): [1, set.height, set.width]
        case .vectors(_, let d): [d]
        }
    }

    /// The examples at `indices` as a Float32 tensor: images (B, 1, 28, 28) with values in
    /// [0, 1], vectors (B, D).
    public func tensor(indices: some Collection<Int>) -> Tensor {
        switch content {
        case .images(let set):
            return set.tensor(indices: indices)
        case let .vectors(values, d):
            var out = [Float](repeating: 0, count: indices.count * d)
            for (b, i) in indices.enumerated() {
                precondition(i >= 0 && i < values.count / d, "LoadedDataset.tensor: index \(i) out of 0..<\(values.count / d)")
                for j in 0..<d { out[b * d + j] = Float(values[i * d + j]) }
            }
            return Tensor(out, shape: [indices.count, d])
        }
    }

    /// The examples at `indices` (in that order) as a set of their own: same key, spec and
    /// seed, their labels and sources; no identity (a subset is never cached).
    public func subset(_ indices: [Int]) -> LoadedDataset {
        var out: LoadedDataset
        switch content {
        case .images(let set):
            let pixels = set.height * set.width
            var bytes: [UInt8] = []
            bytes.reserveCapacity(indices.count * pixels)
            for i in indices {
                precondition(i >= 0 && i < count, "LoadedDataset.subset: index \(i) out of 0..<\(count)")
                bytes += set.images[(i * pixels)..<((i + 1) * pixels)]
            }
            let picked = LabeledImages(images: bytes, labels: indices.map { set.labels[$0] }, height: set.height, width: set.width)
            out = LoadedDataset(key: key, images: picked, labels: labels.map { l in indices.map { l[$0] } })
        case let .vectors(values, d):
            var rows: [Double] = []
            rows.reserveCapacity(indices.count * d)
            for i in indices {
                precondition(i >= 0 && i < count, "LoadedDataset.subset: index \(i) out of 0..<\(count)")
                rows += values[(i * d)..<((i + 1) * d)]
            }
            out = LoadedDataset(key: key, vectors: rows, dimension: d, labels: labels.map { l in indices.map { l[$0] } })
        }
        out.spec = spec
        out.seed = seed
        out.sources = sources.map { s in indices.map { s[$0] } }
        return out
    }

    /// All examples as one tensor (see `tensor(indices:)`).
    public var tensor: Tensor { tensor(indices: 0..<count) }

    /// All examples as a Float64 tensor: vectors at full precision, images as p / 255.
    public var doubleTensor: Tensor {
        switch content {
        case let .vectors(values, d): Tensor(values, shape: [values.count / d, d])
        case .images: tensor.cast(to: .float64)
        }
    }
}

/// Where one example of a catalog set came from, precisely enough for another program to find
/// it (written to score files as `source`, `source_index`, `crop_x`, `crop_y`).
public struct ExampleSource: Sendable, Equatable, Codable {
    /// `source` of generated noise and constant images (there is no file).
    public static let generated = "generated"

    /// The source file's name (`train-images-idx3-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
    /// `digits.csv.gz`, `brick.png`, …, `wine_data.csv`, `breast_cancer.csv`), or `generated`.
    public var source: String
    /// 0-based index in the source: the image number in an IDX file, the row of
    /// `digits.csv.gz`, the data row of a tabular CSV (its header line not counted, so line
    /// index + 2); for crops and generated images, the draw number (position in the generated
    /// sequence).
    public var index: Int
    /// For crops: the top-left corner (x to the right, y down) of the 28×28 window in `source`.
    public var cropX: Int?
    public var cropY: Int?

    public init(source: String, index: Int, cropX: Int? = nil, cropY: Int? = nil) {
        self.source = source
        self.index = index
        self.cropX = cropX
        self.cropY = cropY
    }
}

/// A once-computed string shared by copies of a value (thread-safe).
final class ContentDigestMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?

    func value(_ compute: () -> String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let stored { return stored }
        let v = compute()
        stored = v
        return v
    }
}
