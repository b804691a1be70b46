import Foundation

/// A JSON file that could not be read, decoded or written, naming the file and the field path
/// ("options.learningRate", "spec.realNVP.config.mid") at fault.
public struct JSONFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    /// Dotted path of the field at fault; "json" for a syntax error, "file" for I/O.
    public let field: String
    public let problem: String
    public init(path: String, field: String, problem: String) {
        self.path = path
        self.field = field
        self.problem = problem
    }
    public var description: String { "\(path): \(field): \(problem)" }
}

/// Reading, writing and comparing JSON documents for configurations and run state.
///
/// Writes are atomic (`writeAtomically`), output is pretty-printed with sorted keys so files are
/// deterministic and diff well, and decoding errors name the dotted field path.
public enum JSONFile {
    /// Decodes `type` from the file at `url`.
    /// - Throws: `JSONFileError` naming the file and the field (missing, wrong type, bad syntax).
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw JSONFileError(path: url.path, field: "file", problem: "cannot read")
        }
        return try decode(type, from: data, path: url.path)
    }

    /// Decodes `type` from `data`; `path` only names the source in errors.
    /// - Throws: `JSONFileError` with the dotted field path of the first problem.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        func dotted(_ codingPath: [any CodingKey]) -> String {
            let s = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return s.isEmpty ? "json" : s.replacingOccurrences(of: ".[", with: "[")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw JSONFileError(path: path, field: dotted(ctx.codingPath + [key]), problem: "missing")
        } catch let DecodingError.typeMismatch(expected, ctx) {
            throw JSONFileError(path: path, field: dotted(ctx.codingPath), problem: "expected \(describe(expected))")
        } catch let DecodingError.valueNotFound(expected, ctx) {
            throw JSONFileError(path: path, field: dotted(ctx.codingPath), problem: "expected \(describe(expected)), found null")
        } catch let DecodingError.dataCorrupted(ctx) {
            let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw JSONFileError(path: path, field: dotted(ctx.codingPath), problem: underlying ?? ctx.debugDescription)
        }
    }

    /// "a number", "text", ... for a decoding type mismatch.
    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type, is Int64.Type, is UInt.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }

    /// The canonical encoding: pretty-printed, sorted keys, slashes unescaped.
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Encodes `value` and writes it atomically to `url` (temporary file, then rename).
    public static func write(_ value: some Encodable, to url: URL) throws {
        try writeAtomically(try encode(value), to: url)
    }

    /// The first field (dotted path, keys in sorted order) where the JSON encodings of `a` and
    /// `b` differ, with both values as compact JSON text; nil when they encode identically.
    /// `ignoring` lists dotted paths to skip (e.g. "options.epochs").
    public static func firstDifference(_ a: some Encodable, _ b: some Encodable, ignoring: Set<String> = [])
        throws -> (field: String, first: String, second: String)? {
        let ja = try JSONSerialization.jsonObject(with: try encode(a), options: [.fragmentsAllowed])
        let jb = try JSONSerialization.jsonObject(with: try encode(b), options: [.fragmentsAllowed])
        return difference(ja, jb, path: "", ignoring: ignoring)
    }

    private static func difference(_ a: Any, _ b: Any, path: String, ignoring: Set<String>)
        -> (field: String, first: String, second: String)? {
        if ignoring.contains(path) { return nil }
        if let da = a as? [String: Any], let db = b as? [String: Any] {
            for key in Set(da.keys).union(db.keys).sorted() {
                let sub = path.isEmpty ? key : "\(path).\(key)"
                switch (da[key], db[key]) {
                case let (x?, y?):
                    if let d = difference(x, y, path: sub, ignoring: ignoring) { return d }
                case let (x, y):
                    if ignoring.contains(sub) { continue }
                    return (sub, x.map(text) ?? "absent", y.map(text) ?? "absent")
                }
            }
            return nil
        }
        if let la = a as? [Any], let lb = b as? [Any], la.count == lb.count {
            for (i, (x, y)) in zip(la, lb).enumerated() {
                if let d = difference(x, y, path: "\(path)[\(i)]", ignoring: ignoring) { return d }
            }
            return nil
        }
        let ta = text(a), tb = text(b)
        return ta == tb ? nil : (path.isEmpty ? "json" : path, ta, tb)
    }

    /// Compact JSON text of a decoded JSON value.
    private static func text(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]),
              let s = String(data: data, encoding: .utf8) else { return "\(value)" }
        return s
    }
}
