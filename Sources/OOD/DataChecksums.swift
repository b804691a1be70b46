import Foundation
import NN

/// A data file whose SHA-256 differs from the published one: a different version, a partial
/// download or a corrupted copy. Carries both digests and how to get the packaged file.
public struct ChecksumError: Error, CustomStringConvertible, Equatable {
    public let path: String
    /// The documented SHA-256 (lower-case hex).
    public let expected: String
    /// The SHA-256 of the file on disk.
    public let found: String
    /// How to obtain the expected file.
    public let hint: String?

    public init(path: String, expected: String, found: String, hint: String?) {
        self.path = path
        self.expected = expected
        self.found = found
        self.hint = hint
    }

    public var description: String {
        "\(path): SHA-256 mismatch: expected \(expected), found \(found); the file is not the packaged version "
            + "(corrupt, truncated or a different release)" + (hint.map { ". \($0)" } ?? "")
    }
}

/// A source file of a data set: where it was found and its documented SHA-256.
public struct SourceFile: Sendable, Equatable, Codable {
    public let path: String
    /// Lower-case hex SHA-256 as published (`sha256sum`).
    public let sha256: String
    /// How to obtain the file when it is missing or different.
    public let hint: String?

    public init(path: String, sha256: String, hint: String?) {
        self.path = path
        self.sha256 = sha256
        self.hint = hint
    }

    /// Throws unless the file exists and its SHA-256 is `sha256`.
    ///
    /// Digests are remembered per process by (path, size, modification time), so a file is
    /// hashed once however many sets read it.
    /// - Throws: `DataError.missing` (with `hint`) or `ChecksumError`.
    public func verify() throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, kind: .missing(hint: hint))
        }
        let found = try DigestMemo.shared.digest(of: path)
        guard found == sha256 else {
            throw ChecksumError(path: path, expected: sha256, found: found, hint: hint)
        }
    }
}

/// SHA-256 digests of files already hashed in this process, keyed by path, size and mtime.
final class DigestMemo: @unchecked Sendable {
    static let shared = DigestMemo()
    private let lock = NSLock()
    private var known: [String: String] = [:]

    func digest(of path: String) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = "\(path)\u{0}\(size)\u{0}\(mtime)"
        lock.lock()
        let cached = known[key]
        lock.unlock()
        if let cached { return cached }
        let hex: String
        do {
            hex = try SHA256.hash(fileAt: path).hex
        } catch {
            throw DataError(path: path, kind: error.missing ? .missing(hint: nil) : .unreadable(error.reason))
        }
        lock.lock()
        known[key] = hex
        lock.unlock()
        return hex
    }
}

/// Where scikit-learn's bundled data files are found.
public enum ScikitLearnData {
    /// Where Debian's `python3-sklearn` installs them.
    public static let debianDirectory = "/usr/lib/python3/dist-packages/sklearn/datasets/data"

    /// The subfolder of a data root (`--data-dir`, `FLOWOOD_DATA`) that may hold the files.
    public static let subdirectory = "sklearn"

    /// How a missing file can be obtained.
    public static func installHint(_ file: String) -> String {
        "\(file) comes with scikit-learn: install it with `apt-get install python3-sklearn` (Debian) or "
            + "`pip install scikit-learn` (PyPI), or put \(file) in $\(FashionMNIST.environmentVariable)/\(subdirectory)/"
    }

    /// Directories that may hold the files, in search order: `dataRoot/sklearn`, `dataRoot`,
    /// `$FLOWOOD_DATA/sklearn`, the Debian location, then the `sklearn/datasets/data` folder of
    /// pip installs (`/usr/local/lib/python3.*/{dist,site}-packages`, `~/.local/lib/python3.*/site-packages`).
    public static func candidateDirectories(dataRoot: String?,
                                            environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var out: [String] = []
        if let dataRoot, !dataRoot.isEmpty {
            out += [(dataRoot as NSString).appendingPathComponent(subdirectory), dataRoot]
        }
        if let root = environment[FashionMNIST.environmentVariable], !root.isEmpty {
            out.append((root as NSString).appendingPathComponent(subdirectory))
        }
        out.append(debianDirectory)
        var prefixes = ["/usr/local/lib", "/usr/lib"]
        if let home = environment["HOME"], !home.isEmpty { prefixes.append((home as NSString).appendingPathComponent(".local/lib")) }
        for prefix in prefixes {
            let pythons = ((try? FileManager.default.contentsOfDirectory(atPath: prefix)) ?? [])
                .filter { $0.hasPrefix("python3") }.sorted()
            for python in pythons {
                for packages in ["dist-packages", "site-packages"] {
                    let dir = [prefix, python, packages, "sklearn/datasets/data"].joined(separator: "/")
                    if dir != debianDirectory { out.append(dir) }
                }
            }
        }
        return out
    }

    /// The first candidate path of `file` that exists, else the Debian path (which a load then
    /// reports as missing, with `installHint`).
    public static func path(of file: String, dataRoot: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for dir in candidateDirectories(dataRoot: dataRoot, environment: environment) {
            let candidate = (dir as NSString).appendingPathComponent(file)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return (debianDirectory as NSString).appendingPathComponent(file)
    }
}
