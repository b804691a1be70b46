import Foundation
import Tensor

/// Small tabular data sets bundled with scikit-learn (`sklearn/datasets/data/*.csv`), used as
/// the tabular OOD benchmark of Kirichenko et al. 2020, Appendix K, in miniature: one class is
/// in-distribution, another class is OOD, features are standardised with the in-distribution
/// training statistics. (The paper uses MiniBooNE and HEPMASS, which no Debian package ships.)
///
/// File format (scikit-learn's `load_csv_data`): the first line is `n_samples,n_features,` then
/// the class names; every following line holds `n_features` decimal numbers and an integer
/// class label.
public enum TabularDataset: String, Codable, Sendable, CaseIterable {
    /// Wisconsin diagnostic breast cancer (UCI): 569 samples, 30 features, classes
    /// 0 = malignant (212), 1 = benign (357).
    case breastCancer = "breast-cancer"
    /// UCI wine recognition: 178 samples, 13 features, classes 0 (59), 1 (71), 2 (48).
    case wine

    /// The file in `sklearn/datasets/data`.
    public var fileName: String {
        switch self {
        case .breastCancer: "breast_cancer.csv"
        case .wine: "wine_data.csv"
        }
    }

    /// SHA-256 of the file (`sha256sum`, python3-sklearn 1.2.1 on Debian).
    public var sha256: String {
        switch self {
        case .breastCancer: "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed"
        case .wine: "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede"
        }
    }

    /// Number of samples in the file.
    public var publishedCount: Int { self == .breastCancer ? 569 : 178 }
    /// Number of features.
    public var featureCount: Int { self == .breastCancer ? 30 : 13 }
    /// Number of classes.
    public var classCount: Int { self == .breastCancer ? 2 : 3 }
}

/// A tabular data file whose content is not what was expected: which file, which line, what.
public struct TabularDataError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        /// The first line is not `n_samples,n_features,names…` with the expected sizes.
        case header(String)
        /// A line has the wrong number of comma-separated values.
        case wrongFieldCount(expected: Int, found: Int)
        /// A feature (1-based field) is not a finite decimal number.
        case notANumber(field: Int, text: String)
        /// The label (last field) is not an integer in 0..<classes.
        case badLabel(text: String, classes: Int)
        /// The file holds a different number of rows than its header declares (truncated file?).
        case rowCount(declared: Int, found: Int)
    }

    public let path: String
    /// 1-based line number; 0 when the problem concerns the whole file.
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
        case .header(let what): message = "bad header line: \(what)"
        case let .wrongFieldCount(expected, found): message = "expected \(expected) comma-separated values, found \(found)"
        case let .notANumber(field, text): message = "value \(field) ('\(text)') is not a finite number"
        case let .badLabel(text, classes): message = "label '\(text)' is not an integer in 0..<\(classes)"
        case let .rowCount(declared, found):
            message = "header declares \(declared) rows, file has \(found) (truncated or corrupt file?)"
        }
        return line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)"
    }
}

/// A parsed tabular file: rows of features with integer labels.
public struct TabularTable: Sendable {
    /// Features, row-major: feature j of row i at `i * dimension + j`.
    public let features: [Double]
    public let labels: [Int]
    public let dimension: Int
    public var count: Int { labels.count }

    /// Parses scikit-learn's bundled CSV layout (see `TabularDataset`).
    /// - Parameters:
    ///   - text: the file's bytes.
    ///   - path: how errors name the file.
    ///   - expected: when given, the header must declare its sample and feature counts.
    /// - Throws: `TabularDataError` with the 1-based line.
    public static func parse(_ text: [UInt8], path: String, expected: TabularDataset? = nil) throws(TabularDataError) -> TabularTable {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        func fields(_ line: ArraySlice<UInt8>) -> [String] {
            var s = String(decoding: line, as: UTF8.self)
            if s.hasSuffix("\r") { s.removeLast() }
            return s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard let first = lines.first, !first.isEmpty else {
            throw TabularDataError(path: path, line: 1, kind: .header("the file is empty"))
        }
        let head = fields(first)
        guard head.count >= 3, let n = Int(head[0]), let d = Int(head[1]), n > 0, d > 0 else {
            throw TabularDataError(path: path, line: 1, kind: .header("expected 'n_samples,n_features,class names…'"))
        }
        let classes = head.count - 2
        if let expected, n != expected.publishedCount || d != expected.featureCount || classes != expected.classCount {
            throw TabularDataError(path: path, line: 1, kind: .header(
                "declares \(n) samples, \(d) features, \(classes) classes; \(expected.rawValue) has \(expected.publishedCount), \(expected.featureCount), \(expected.classCount)"))
        }
        var features: [Double] = []
        features.reserveCapacity(n * d)
        var labels: [Int] = []
        labels.reserveCapacity(n)
        for (k, raw) in lines.dropFirst().enumerated() {
            let lineNumber = k + 2
            if raw.isEmpty || raw == [13] { continue }
            let values = fields(raw)
            guard values.count == d + 1 else {
                throw TabularDataError(path: path, line: lineNumber, kind: .wrongFieldCount(expected: d + 1, found: values.count))
            }
            for j in 0..<d {
                guard let v = Double(values[j]), v.isFinite else {
                    throw TabularDataError(path: path, line: lineNumber, kind: .notANumber(field: j + 1, text: values[j]))
                }
                features.append(v)
            }
            guard let label = Int(values[d]), label >= 0, label < classes else {
                throw TabularDataError(path: path, line: lineNumber, kind: .badLabel(text: values[d], classes: classes))
            }
            labels.append(label)
        }
        guard labels.count == n else {
            throw TabularDataError(path: path, line: 0, kind: .rowCount(declared: n, found: labels.count))
        }
        return TabularTable(features: features, labels: labels, dimension: d)
    }

    /// Loads and parses a file.
    /// - Throws: `DataError` (missing, with `hint`; unreadable) or `TabularDataError`.
    public static func load(path: String, expected: TabularDataset? = nil, hint: String? = nil) throws -> TabularTable {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, kind: .missing(hint: hint))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(path: path, kind: .unreadable("cannot read file"))
        }
        return try parse([UInt8](data), path: path, expected: expected)
    }

    /// The indices of class `c`'s rows in its train or test part.
    ///
    /// Each class is split on its own (stratified): its row indices are shuffled with
    /// `SeededGenerator(seed: splitSeed)` (Fisher–Yates), the first round(`testFraction` · n_c)
    /// form the test part and the rest the train part; both are returned in file order. The
    /// split depends only on the file, the class, `testFraction` and `splitSeed`, so train and
    /// test never overlap whatever seed later subsamples them.
    public func split(class c: Int, _ part: DataSplit, testFraction: Double = TabularTable.testFraction,
                      splitSeed: UInt64 = TabularTable.splitSeed) -> [Int] {
        precondition(testFraction > 0 && testFraction < 1, "split: test fraction \(testFraction)")
        var rows = labels.indices.filter { labels[$0] == c }
        var rng = SeededGenerator(seed: splitSeed &+ UInt64(c))
        rows.shuffle(using: &rng)
        let nTest = Int((testFraction * Double(rows.count)).rounded())
        let chosen = part == .test ? rows.prefix(nTest) : rows.dropFirst(nTest)
        return chosen.sorted()
    }

    /// The default test fraction of the per-class split (30 %).
    public static let testFraction = 0.3
    /// The default seed of the per-class split.
    public static let splitSeed: UInt64 = 0

    /// The rows at `indices`, row-major.
    public func rows(_ indices: [Int]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(indices.count * dimension)
        for i in indices { out += features[(i * dimension)..<((i + 1) * dimension)] }
        return out
    }
}

/// Per-feature standardisation x ↦ (x − μ) / σ with statistics of a reference set (the
/// in-distribution training rows), as in Kirichenko et al. 2020, Appendix K.
///
/// μ and σ are the mean and population standard deviation of each feature over the reference
/// rows; a feature with σ = 0 is only centred (σ taken as 1).
public struct Standardizer: Codable, Sendable, Equatable {
    public let mean: [Double]
    public let std: [Double]

    /// Fits μ and σ on `rows` (row-major, `dimension` features each, at least one row).
    public init(fittedOn rows: [Double], dimension: Int) {
        precondition(dimension > 0 && !rows.isEmpty && rows.count % dimension == 0,
                     "Standardizer: \(rows.count) values for dimension \(dimension)")
        let n = rows.count / dimension
        var mean = [Double](repeating: 0, count: dimension)
        for i in 0..<n { for j in 0..<dimension { mean[j] += rows[i * dimension + j] } }
        for j in 0..<dimension { mean[j] /= Double(n) }
        var variance = [Double](repeating: 0, count: dimension)
        for i in 0..<n {
            for j in 0..<dimension {
                let e = rows[i * dimension + j] - mean[j]
                variance[j] += e * e
            }
        }
        self.mean = mean
        self.std = variance.map { v in
            let s = (v / Double(n)).squareRoot()
            return s > 0 ? s : 1
        }
    }

    /// (x − μ) / σ for every row of `rows` (row-major).
    public func apply(_ rows: [Double]) -> [Double] {
        let d = mean.count
        precondition(rows.count % d == 0, "Standardizer.apply: \(rows.count) values for dimension \(d)")
        var out = rows
        for i in 0..<(rows.count / d) {
            for j in 0..<d { out[i * d + j] = (rows[i * d + j] - mean[j]) / std[j] }
        }
        return out
    }
}
