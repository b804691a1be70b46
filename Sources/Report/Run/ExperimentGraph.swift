import Foundation
import NN

/// The experiment profile: `paper` runs what the chapters ask for; `smoke` runs the same graph on
/// tiny subsets with one epoch (tests and CI). The profile is part of every cache key.
public enum Profile: String, Codable, Sendable, CaseIterable {
    case paper, smoke
}

/// One unit of cached work: a training run, an evaluation, a t-SNE embedding.
///
/// Its cache key hashes the node kind, its code version, its canonical description (the spec
/// with defaults filled in, as sorted JSON), the profile and the keys of its inputs, so changing
/// a directive recomputes that node and everything downstream of it, and nothing else.
public final class ExperimentNode: @unchecked Sendable {
    /// "train fmnist-realnvp (seed 0)": what the progress display and --explain print.
    public let label: String
    /// "train", "evaluate", ...
    public let kind: String
    /// Bumped when the code that computes this kind of node changes its results.
    public let codeVersion: String
    /// Sorted-keys JSON of everything that defines the result (besides the inputs), including
    /// the data fingerprints.
    public let canonical: String
    /// The fingerprints of the data files the node reads (also inside `canonical`), kept apart
    /// so `--explain` can say "data changed" rather than "arguments changed".
    public let data: [String]
    public let inputs: [ExperimentNode]
    /// The directive that asked for it (for error messages).
    public let location: SourceLocation
    /// Writes the node's files into the given directory; reads inputs via their `directory`.
    let compute: @Sendable (ExperimentNode, URL) throws -> Void

    /// Set by `ExperimentGraph.run`.
    public internal(set) var key = ""
    public internal(set) var directory: URL?
    public internal(set) var outcome: Outcome?

    public enum Outcome: Sendable, Equatable {
        /// Found in the cache and verified; `reason` says how it relates to the last run.
        case reused(reason: String)
        case computed(reason: String, seconds: Double)
    }

    init(label: String, kind: String, codeVersion: String, canonical: String, data: [String], inputs: [ExperimentNode],
         location: SourceLocation, compute: @escaping @Sendable (ExperimentNode, URL) throws -> Void) {
        self.label = label
        self.kind = kind
        self.codeVersion = codeVersion
        self.canonical = canonical
        self.data = data
        self.inputs = inputs
        self.location = location
        self.compute = compute
    }

    /// The directory of a finished input (precondition: the graph ran it).
    func inputDirectory(_ i: Int) -> URL {
        guard let d = inputs[i].directory else { preconditionFailure("input \(inputs[i].label) of \(label) has not run") }
        return d
    }
}

/// An experiment that failed, with the directive that asked for it.
public struct ExperimentError: Error, CustomStringConvertible {
    public let location: SourceLocation
    public let node: String
    public let underlying: String

    public var description: String { "\(location): error: \(node) failed: \(underlying)" }
}

/// Canonical JSON (sorted keys, no whitespace) of a spec, for cache keys.
func canonicalJSON(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
        preconditionFailure("canonicalJSON: \(error)")
    }
}

/// Runs nodes in dependency order against the cache, recording why each ran or was reused.
public final class ExperimentGraph {
    public let cache: ExperimentCache
    public let profile: Profile
    /// Progress lines (stderr by default).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Nodes in insertion order; inputs are always inserted before their consumers.
    public private(set) var nodes: [ExperimentNode] = []
    private var byCanonicalIdentity: [String: ExperimentNode] = [:]

    public init(cache: ExperimentCache, profile: Profile) {
        self.cache = cache
        self.profile = profile
    }

    /// The node for this description, created once (later requests for the same kind and
    /// canonical description share it).
    /// - Parameter data: the fingerprints of the data files the node reads; they must also be
    ///   part of `canonical` (the key hashes `canonical`), and are recorded for `--explain`.
    func node(label: String, kind: String, codeVersion: String, canonical: String, data: [String] = [],
              inputs: [ExperimentNode], location: SourceLocation,
              compute: @escaping @Sendable (ExperimentNode, URL) throws -> Void) -> ExperimentNode {
        let identity = kind + "\u{0}" + canonical + "\u{0}" + inputs.map(\.label).joined(separator: "\u{0}")
        if let existing = byCanonicalIdentity[identity] { return existing }
        let n = ExperimentNode(label: label, kind: kind, codeVersion: codeVersion, canonical: canonical, data: data,
                               inputs: inputs, location: location, compute: compute)
        byCanonicalIdentity[identity] = n
        nodes.append(n)
        return n
    }

    /// The cache key of `node` (its inputs' keys must be known).
    func cacheKey(of node: ExperimentNode) -> String {
        var h = SHA256()
        h.update("flowood-node\n\(node.kind)\n\(node.codeVersion)\n\(profile.rawValue)\n\(node.canonical)\n")
        for input in node.inputs { h.update("input \(input.key)\n") }
        return h.finalize().hex
    }

    /// What the previous run recorded for each node label (for --explain).
    struct IndexEntry: Codable {
        var key: String
        var codeVersion: String
        var canonical: String
        var inputs: [String: String]
        /// Data fingerprints (absent in indexes written before they were recorded).
        var data: [String]?
    }

    private var indexURL: URL { cache.root.appendingPathComponent("index-\(profile.rawValue).json") }

    private func loadIndex() -> [String: IndexEntry] {
        guard let data = try? Data(contentsOf: indexURL) else { return [:] }
        return (try? JSONDecoder().decode([String: IndexEntry].self, from: data)) ?? [:]
    }

    /// What differs between `node` and the last run's record of the same label, or nil.
    private func difference(_ node: ExperimentNode, from previous: IndexEntry) -> String? {
        if previous.codeVersion != node.codeVersion { return "code changed (\(previous.codeVersion) → \(node.codeVersion))" }
        if let data = previous.data, data != node.data { return "data changed" }
        if previous.canonical != node.canonical { return "arguments changed" }
        let changed = node.inputs.filter { previous.inputs[$0.label] != $0.key }.map(\.label)
        if !changed.isEmpty { return "inputs changed: \(changed.joined(separator: ", "))" }
        return nil
    }

    /// Why `node` must be computed, given the previous run's index entry for its label.
    private func reason(for node: ExperimentNode, status: ExperimentCache.Status, previous: IndexEntry?) -> String {
        if case .corrupt(let why) = status { return "corrupt entry (\(why))" }
        guard let previous else { return "no entry" }
        return difference(node, from: previous) ?? "no entry"
    }

    /// Why a verified entry could be reused, given the previous run's index entry for its label.
    private func reuseReason(for node: ExperimentNode, previous: IndexEntry?) -> String {
        guard let previous else { return "entry found; the last run had no such node" }
        guard let change = difference(node, from: previous) else { return "unchanged since the last run" }
        return "\(change) since the last run, but an earlier run's entry matches"
    }

    /// Runs (or reuses) `targets` and everything they depend on, in insertion order.
    /// - Parameter explain: print one line per node saying why it ran or was reused.
    public func run(_ targets: [ExperimentNode]? = nil, explain: Bool = false) throws {
        var needed = Set<ObjectIdentifier>()
        func mark(_ n: ExperimentNode) {
            guard needed.insert(ObjectIdentifier(n)).inserted else { return }
            n.inputs.forEach(mark)
        }
        (targets ?? nodes).forEach(mark)
        let order = nodes.filter { needed.contains(ObjectIdentifier($0)) }
        var index = loadIndex()
        for (i, node) in order.enumerated() {
            node.key = cacheKey(of: node)
            let status = cache.lookup(node.key)
            let position = "[\(i + 1)/\(order.count)]"
            if case .hit(let dir) = status {
                node.directory = dir
                let why = reuseReason(for: node, previous: index[node.label])
                node.outcome = .reused(reason: why)
                if explain { log("\(position) \(node.label): reused (\(why)) \(node.key.prefix(12))") }
            } else {
                let why = reason(for: node, status: status, previous: index[node.label])
                log("\(position) \(node.label): computing (\(why))")
                let start = Date()
                do {
                    node.directory = try cache.store(node.key, node: node.label) { dir in try node.compute(node, dir) }
                } catch let e as ExperimentError {
                    throw e
                } catch {
                    throw ExperimentError(location: node.location, node: node.label, underlying: "\(error)")
                }
                let seconds = Date().timeIntervalSince(start)
                node.outcome = .computed(reason: why, seconds: seconds)
                log("\(position) \(node.label): done in \(formatDuration(seconds))")
            }
            index[node.label] = IndexEntry(key: node.key, codeVersion: node.codeVersion, canonical: node.canonical,
                                           inputs: Dictionary(node.inputs.map { ($0.label, $0.key) }, uniquingKeysWith: { a, _ in a }),
                                           data: node.data)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try? FileManager.default.createDirectory(at: cache.root, withIntermediateDirectories: true)
            if let data = try? encoder.encode(index) { try? writeAtomically(data, to: indexURL) }
        }
    }

    /// The end-of-run summary: one row per node with computed/reused and time.
    public func summary() -> String {
        let ran = nodes.filter { $0.outcome != nil }
        guard !ran.isEmpty else { return "no experiments" }
        let width = min(60, ran.map(\.label.count).max() ?? 10)
        var lines = ["\("experiment".padding(toLength: width, withPad: " ", startingAt: 0))  outcome    time"]
        var total = 0.0, computed = 0
        for n in ran {
            let label = n.label.count > width ? String(n.label.prefix(width - 1)) + "…" : n.label.padding(toLength: width, withPad: " ", startingAt: 0)
            switch n.outcome! {
            case .reused:
                lines.append("\(label)  reused        –")
            case .computed(_, let s):
                total += s
                computed += 1
                lines.append("\(label)  computed  \(formatDuration(s).leftPadded(to: 7))")
            }
        }
        lines.append("\(computed) computed, \(ran.count - computed) reused, \(formatDuration(total)) of computation")
        return lines.joined(separator: "\n")
    }
}

/// "1h02m", "3m07s", "12.4s".
func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.1fs", s) }
    let m = Int(s) / 60, sec = Int(s) % 60
    if m < 60 { return String(format: "%dm%02ds", m, sec) }
    return String(format: "%dh%02dm", m / 60, m % 60)
}

extension String {
    func leftPadded(to n: Int) -> String {
        count >= n ? self : String(repeating: " ", count: n - count) + self
    }
}
