import Foundation

/// The UCI optical recognition of handwritten digits, as shipped with scikit-learn
/// (`sklearn.datasets.load_digits`): 1 797 images of 8×8 pixels with 17 grey levels (0…16),
/// labels 0…9, about 180 per class.
///
/// FlowOOD uses it as a stand-in for MNIST, which no Debian package provides: `mnistStyle()`
/// renders each digit the way MNIST's were prepared (a 20×20 box centred in 28×28). Deviation
/// from MNIST: the box is centred geometrically, not by centre of mass, and the source has only
/// 8×8 pixels, so the rendered digits are blurrier than MNIST's.
///
/// Source file: `digits.csv.gz`, one row per image of 64 comma-separated pixel values (row-major)
/// then the label, from the Debian package `python3-sklearn` at `defaultPath`.
public struct Digits: Sendable {
    /// Where `python3-sklearn` installs the file.
    public static let defaultPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

    /// The file's name.
    public static let fileName = "digits.csv.gz"

    /// The subfolder of a `FLOWOOD_DATA` data root that may hold `digits.csv.gz`.
    public static let subdirectory = "sklearn-digits"

    /// SHA-256 of `digits.csv.gz` (`sha256sum`, python3-sklearn on Debian).
    public static let sha256 = "46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a"

    /// Number of images in the file.
    public static let publishedCount = 1_797

    /// Number of grey levels: pixel values are 0…16.
    public static let levels = 17

    /// How a missing file can be obtained; part of the `.missing` error.
    public static let installHint =
        "the digits data set comes with scikit-learn: install it with `apt-get install python3-sklearn` "
        + "or `pip install scikit-learn` (then pass the path of sklearn/datasets/data/digits.csv.gz), or put "
        + "digits.csv.gz in $\(FashionMNIST.environmentVariable)/\(subdirectory)/"

    /// Pixels, image-major then row-major: pixel (y, x) of image i is at `i * 64 + y * 8 + x`;
    /// each value is in 0…16.
    public let images: [UInt8]
    /// The digit shown by each image, 0…9.
    public let labels: [UInt8]
    /// Number of images.
    public var count: Int { labels.count }
    /// Image height and width (8).
    public static let side = 8

    /// Wraps pixels (0…16) and labels (0…9); `images.count` must be `labels.count × 64`.
    public init(images: [UInt8], labels: [UInt8]) {
        precondition(images.count == labels.count * Self.side * Self.side,
                     "Digits: \(images.count) pixels for \(labels.count) images of 8×8")
        self.images = images
        self.labels = labels
    }

    /// The file to load: `override` if given, else `$FLOWOOD_DATA/sklearn-digits/digits.csv.gz`
    /// when that file exists, else `defaultPath`.
    /// - Parameters:
    ///   - override: an explicit path to `digits.csv.gz`; nil or empty means none.
    ///   - environment: the process environment (injectable for tests).
    public static func path(
        override: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let override, !override.isEmpty { return override }
        if let root = environment[FashionMNIST.environmentVariable], !root.isEmpty {
            let candidate = ((root as NSString).appendingPathComponent(subdirectory) as NSString)
                .appendingPathComponent(fileName)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return defaultPath
    }

    /// Loads and checks `digits.csv.gz` (gzip-compressed CSV, no header).
    ///
    /// Every row must hold 65 integers: 64 pixels in 0…16 then a label in 0…9. The SHA-256
    /// constant is not verified here.
    /// - Parameter path: the file; by default `path()` resolves it.
    /// - Throws: `DataError` (missing with `installHint`, unreadable, gzip errors) or
    ///   `CSVError` naming the file and line.
    public static func load(path: String = Digits.path()) throws -> Digits {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, kind: .missing(hint: installHint))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(path: path, kind: .unreadable(error.localizedDescription))
        }
        let text = path.hasSuffix(".gz") ? try Gzip.decompress(data, path: path) : [UInt8](data)
        return try parse(text, path: path)
    }

    /// Parses the decompressed CSV bytes; `path` only names the file in errors.
    /// - Throws: `CSVError` with the 1-based line number.
    public static func parse(_ text: [UInt8], path: String) throws(CSVError) -> Digits {
        var images: [UInt8] = []
        var labels: [UInt8] = []
        images.reserveCapacity(publishedCount * 64)
        labels.reserveCapacity(publishedCount)
        var line = 1
        var fields: [Int] = []
        var value = 0
        var digits = 0
        func fail(_ kind: CSVError.Kind) -> CSVError { CSVError(path: path, line: line, kind: kind) }
        func endField() throws(CSVError) {
            guard digits > 0 else { throw fail(.notAnInteger(field: fields.count + 1)) }
            fields.append(value)
            value = 0
            digits = 0
        }
        func endRow() throws(CSVError) {
            guard fields.count == 65 else { throw fail(.wrongFieldCount(expected: 65, found: fields.count)) }
            for (k, p) in fields.prefix(64).enumerated() where p > 16 {
                throw fail(.outOfRange(field: k + 1, value: p, range: 0...16))
            }
            guard fields[64] <= 9 else { throw fail(.outOfRange(field: 65, value: fields[64], range: 0...9)) }
            images += fields.prefix(64).map { UInt8($0) }
            labels.append(UInt8(fields[64]))
            fields.removeAll(keepingCapacity: true)
        }
        var i = 0
        while i < text.count {
            let c = text[i]
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A field longer than 6 digits is out of range anyway; stop it overflowing.
                value = min(value * 10 + Int(c - UInt8(ascii: "0")), 1_000_000)
                digits += 1
            case UInt8(ascii: "."):
                // scikit-learn's writer may emit "5.0"; accept a zero fraction only.
                var j = i + 1
                while j < text.count, text[j] == UInt8(ascii: "0") { j += 1 }
                if j < text.count, !(text[j] == UInt8(ascii: ",") || text[j] == 10 || text[j] == 13) {
                    throw fail(.notAnInteger(field: fields.count + 1))
                }
                i = j - 1
            case UInt8(ascii: ","):
                try endField()
            case 10:
                if digits > 0 || !fields.isEmpty {
                    try endField()
                    try endRow()
                }
                line += 1
            case 13, UInt8(ascii: " "):
                break
            default:
                throw fail(.notAnInteger(field: fields.count + 1))
            }
            i += 1
        }
        if digits > 0 || !fields.isEmpty {
            try endField()
            try endRow()
        }
        return Digits(images: images, labels: labels)
    }

    /// The digits rendered like MNIST: 28×28 images with intensities 0…255, each 8×8 digit
    /// resampled to a 20×20 box centred in the frame (rows and columns 4…23), a 4-pixel zero
    /// border around it.
    ///
    /// Resampling is area averaging (a box filter): output pixel (i, j) of the box covers source
    /// square [0.4 i, 0.4 (i+1)) × [0.4 j, 0.4 (j+1)) and takes the area-weighted mean v̄ of the
    /// source levels it overlaps; its intensity is round(255 · v̄ / 16). Level 16 maps to 255
    /// and 0 to 0, so every image keeps its range (each 8×8 pixel fully contains some output pixel).
    public func mnistStyle() -> LabeledImages {
        let side = Self.side, box = 20, frame = 28, offset = (frame - box) / 2
        // weights[o][s]: overlap of output interval o (length 8/20) with source pixel s, in source units.
        let step = Double(side) / Double(box)
        var weights = [[Double]](repeating: [Double](repeating: 0, count: side), count: box)
        for o in 0..<box {
            let lo = Double(o) * step, hi = lo + step
            for s in 0..<side {
                weights[o][s] = max(0, min(hi, Double(s + 1)) - max(lo, Double(s)))
            }
        }
        let area = step * step
        var out = [UInt8](repeating: 0, count: count * frame * frame)
        for n in 0..<count {
            let src = n * side * side, dst = n * frame * frame
            for i in 0..<box {
                for j in 0..<box {
                    var sum = 0.0
                    for sy in 0..<side where weights[i][sy] > 0 {
                        for sx in 0..<side where weights[j][sx] > 0 {
                            sum += weights[i][sy] * weights[j][sx] * Double(images[src + sy * side + sx])
                        }
                    }
                    let level = sum / area
                    out[dst + (i + offset) * frame + (j + offset)] = UInt8((255 * level / 16).rounded())
                }
            }
        }
        return LabeledImages(images: out, labels: labels, height: frame, width: frame)
    }
}

/// A CSV data file whose content is not what was expected: which file and line, and what.
public struct CSVError: Error, CustomStringConvertible, Equatable {
    /// What is wrong with the line.
    public enum Kind: Equatable, Sendable {
        /// The line has the wrong number of comma-separated fields.
        case wrongFieldCount(expected: Int, found: Int)
        /// A field (1-based) is empty or not a non-negative integer.
        case notAnInteger(field: Int)
        /// A field (1-based) holds a value outside `range`.
        case outOfRange(field: Int, value: Int, range: ClosedRange<Int>)
    }

    /// The file at fault.
    public let path: String
    /// The 1-based line.
    public let line: Int
    public let kind: Kind

    public init(path: String, line: Int, kind: Kind) {
        self.path = path
        self.line = line
        self.kind = kind
    }

    public var description: String {
        let message: String
        switch kind {
        case .wrongFieldCount(let expected, let found):
            message = "expected \(expected) comma-separated values, found \(found)"
        case .notAnInteger(let field):
            message = "value \(field) is not a non-negative integer"
        case .outOfRange(let field, let value, let range):
            message = "value \(field) is \(value), outside \(range.lowerBound)…\(range.upperBound)"
        }
        return "\(path):\(line): \(message)"
    }
}
