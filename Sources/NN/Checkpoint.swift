import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// A problem with a checkpoint on disk, naming the file and the field at fault.
public struct CheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let field: String
    public let problem: String
    public var description: String { "\(path): \(field): \(problem)" }
}

/// Model checkpoints: a directory holding `model.safetensors` (parameters and buffers by
/// dotted name), `config.json` (the configuration that rebuilds the model), and optionally
/// `optimizer.safetensors` (optimiser state for resuming training).
///
/// Every file is written atomically (temporary file, then rename), so an interrupted save
/// leaves the previous checkpoint intact. Loading checks every name and shape.
public enum Checkpoint {
    public static let modelFile = "model.safetensors"
    public static let configFile = "config.json"
    public static let optimizerFile = "optimizer.safetensors"

    /// Saves `module`'s parameters and buffers, its configuration, and optionally optimiser state.
    public static func save(_ module: any Module, config: some Encodable, to directory: URL,
                            optimizer: (any Optimizer)? = nil, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (name, p) in module.namedParameters() { tensors[name] = p.value.detached }
        if let optimizer {
            try Safetensors.write(optimizer.stateTensors(), metadata: [:], to: directory.appendingPathComponent(optimizerFile))
        }
        try Safetensors.write(tensors, metadata: metadata, to: directory.appendingPathComponent(modelFile))
        try JSONFile.write(config, to: directory.appendingPathComponent(configFile))
    }

    /// Loads parameters and buffers into `module`; every name and shape must match.
    public static func load(into module: any Module, from directory: URL) throws {
        let url = directory.appendingPathComponent(modelFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError(path: url.path, field: "file", problem: "no such checkpoint file")
        }
        let (tensors, _) = try Safetensors.read(from: url)
        let named = module.namedParameters()
        for (name, p) in named {
            guard let t = tensors[name] else {
                throw CheckpointError(path: url.path, field: name, problem: "missing from the checkpoint")
            }
            guard t.shape == p.shape else {
                throw CheckpointError(path: url.path, field: name, problem: "shape \(t.shape), model expects \(p.shape)")
            }
            guard t.dtype == p.value.dtype else {
                throw CheckpointError(path: url.path, field: name, problem: "dtype \(t.dtype), model expects \(p.value.dtype)")
            }
        }
        let known = Set(named.map(\.0))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw CheckpointError(path: url.path, field: extra, problem: "not a parameter of this model")
        }
        for (name, p) in named { p.assign(tensors[name]!) }
    }

    /// Restores optimiser state saved beside the model, if present; returns whether it was.
    @discardableResult
    public static func loadOptimizer(_ optimizer: any Optimizer, from directory: URL) throws -> Bool {
        let url = directory.appendingPathComponent(optimizerFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        let (tensors, _) = try Safetensors.read(from: url)
        do { try optimizer.loadState(tensors) } catch let e as OptimizerStateError {
            throw CheckpointError(path: url.path, field: e.field, problem: e.problem)
        }
        return true
    }

    /// Decodes the configuration saved beside the model.
    /// - Throws: `CheckpointError` naming config.json and the dotted field path at fault.
    public static func readConfig<C: Decodable>(_ type: C.Type, from directory: URL) throws -> C {
        do { return try JSONFile.read(C.self, from: directory.appendingPathComponent(configFile)) } catch let e as JSONFileError {
            throw CheckpointError(path: e.path, field: e.field, problem: e.problem)
        }
    }
}

/// Writes `data` to a temporary file beside `url`, then renames it over `url`.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    try data.write(to: tmp)
    // POSIX rename replaces the destination atomically (Foundation's replaceItemAt does not
    // on Linux: it can leave the destination missing).
    if rename(tmp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw CheckpointError(path: url.path, field: "file", problem: "cannot rename \(tmp.lastPathComponent) over it: \(reason)")
    }
}
