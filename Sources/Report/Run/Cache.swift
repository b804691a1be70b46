import Foundation
import NN

/// A content-addressed store of experiment results: one directory per cache key.
///
///     <root>/<first 2 hex>/<key>/manifest.json   {"key", "node", "files": {name: sha256}}
///     <root>/<first 2 hex>/<key>/<files...>
///
/// An entry is built in a temporary sibling directory and renamed into place, so a crash never
/// leaves a half-written entry under its key. `lookup` re-hashes every file against the manifest;
/// a missing or altered file makes the entry corrupt, and it is removed and recomputed rather
/// than trusted.
public struct ExperimentCache: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// What `lookup` found.
    public enum Status: Sendable, Equatable {
        case hit(URL)
        case missing
        /// The entry existed but failed verification (the reason); it has been removed.
        case corrupt(String)
    }

    struct Manifest: Codable {
        var key: String
        var node: String
        var files: [String: String]
    }

    /// The directory an entry with `key` lives in.
    public func directory(for key: String) -> URL {
        root.appendingPathComponent(String(key.prefix(2)), isDirectory: true).appendingPathComponent(key, isDirectory: true)
    }

    /// Finds and verifies the entry for `key`.
    public func lookup(_ key: String) -> Status {
        let dir = directory(for: key)
        let manifestURL = dir.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            if FileManager.default.fileExists(atPath: dir.path) {
                try? FileManager.default.removeItem(at: dir)
                return .corrupt("no manifest.json")
            }
            return .missing
        }
        do {
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
            guard manifest.key == key else { throw CacheError.corrupt("manifest names key \(manifest.key)") }
            for (name, digest) in manifest.files.sorted(by: { $0.key < $1.key }) {
                let path = dir.appendingPathComponent(name).path
                guard FileManager.default.fileExists(atPath: path) else { throw CacheError.corrupt("\(name) is missing") }
                guard try SHA256.hash(fileAt: path).hex == digest else { throw CacheError.corrupt("\(name) does not match its SHA-256") }
            }
            return .hit(dir)
        } catch CacheError.corrupt(let why) {
            try? FileManager.default.removeItem(at: dir)
            return .corrupt(why)
        } catch {
            try? FileManager.default.removeItem(at: dir)
            return .corrupt("unreadable manifest.json: \(error)")
        }
    }

    /// Builds the entry for `key`: `produce` writes files into the given empty directory; every
    /// regular file it leaves there (recursively) is hashed into the manifest. Returns the final
    /// directory. If `produce` throws, nothing is stored.
    @discardableResult
    public func store(_ key: String, node: String, _ produce: (URL) throws -> Void) throws -> URL {
        let final = directory(for: key)
        let parent = final.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(key).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: tmp)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        do {
            try produce(tmp)
            var files: [String: String] = [:]
            for name in try regularFiles(under: tmp) {
                files[name] = try SHA256.hash(fileAt: tmp.appendingPathComponent(name).path).hex
            }
            let manifest = Manifest(key: key, node: node, files: files)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: tmp.appendingPathComponent("manifest.json"))
            try? FileManager.default.removeItem(at: final)
            guard rename(tmp.path, final.path) == 0 else {
                throw CacheError.io("cannot rename \(tmp.path) to \(final.path): \(String(cString: strerror(errno)))")
            }
            return final
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// A scratch directory for work in progress of `key` (e.g. a training run that checkpoints
    /// and resumes). It survives interruptions and is not part of any entry.
    public func workDirectory(for key: String) throws -> URL {
        let dir = root.appendingPathComponent("work").appendingPathComponent(key)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func regularFiles(under dir: URL) throws -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        var out: [String] = []
        while let name = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path, isDirectory: &isDir),
               !isDir.boolValue {
                out.append(name)
            }
        }
        return out.sorted()
    }
}

public enum CacheError: Error, CustomStringConvertible {
    case corrupt(String)
    case io(String)

    public var description: String {
        switch self {
        case .corrupt(let s): "corrupt cache entry: \(s)"
        case .io(let s): s
        }
    }
}
