import Foundation
import Tensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes the safetensors checkpoint format.
///
/// Layout of a file (all integers little-endian):
///
///     [8 bytes]  N: UInt64, the length of the header in bytes
///     [N bytes]  UTF-8 JSON object, padded with spaces (0x20) so that N ≡ 0 (mod 8):
///                {"__metadata__": {"key": "value", ...},
///                 "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
///     [rest]     the byte buffer; tensor `name` occupies bytes begin..<end of it,
///                row-major, little-endian, end − begin = Π shape × sizeof(dtype)
///
/// Decoding follows the reference implementation's validation: the tensors must tile the
/// byte buffer exactly (sorted by offset, each one starts where the previous ended, and the
/// last one ends at the end of the file), so overlaps, gaps and trailing bytes are errors.
///
/// Deviations: only the `F32` and `F64` dtypes are supported (the ones `Tensor` holds); the
/// encoder orders tensors by name (the reference orders by dtype alignment, then name, which
/// is the same order when all tensors share a dtype) and omits `__metadata__` when empty.
/// Values are copied bit for bit: NaN payloads, −0.0 and subnormals survive a round trip.
public enum Safetensors {
    /// The reserved header key holding string-to-string metadata.
    public static let metadataKey = "__metadata__"

    // MARK: Encoding

    /// The bytes of a safetensors file holding `tensors` and `metadata`.
    ///
    /// Tensors are laid out in name order, so equal inputs give identical bytes.
    /// - Parameters:
    ///   - tensors: name → tensor; any strides (non-contiguous tensors are packed first).
    ///   - metadata: free-form string pairs stored under `__metadata__`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        precondition(tensors[metadataKey] == nil, "Safetensors.encode: '\(metadataKey)' is reserved and cannot name a tensor")
        let names = tensors.keys.sorted()
        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(metadata[$0]!))" }
            fields.append("\(jsonQuoted(metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * t.dtype.byteSize
            let shape = t.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonQuoted(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        let padding = (8 - headerBytes.count % 8) % 8
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))

        var out = Data(count: 8 + headerBytes.count + offset)
        out.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            raw.storeBytes(of: UInt64(headerBytes.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            headerBytes.withUnsafeBytes { raw.baseAddress!.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var cursor = 8 + headerBytes.count
            for name in names {
                let t = tensors[name]!.contiguous()
                let dst = raw.baseAddress!.advanced(by: cursor)
                switch t.dtype {
                case .float32: t.withUnsafePointer(as: Float.self) { storeLittleEndian($0, count: t.count, elementSize: 4, to: dst) }
                case .float64: t.withUnsafePointer(as: Double.self) { storeLittleEndian($0, count: t.count, elementSize: 8, to: dst) }
                }
                cursor += t.count * t.dtype.byteSize
            }
        }
        return out
    }

    /// Writes `tensors` to `url` atomically: the bytes go to a temporary file in the same
    /// directory, which is then renamed over `url`, so readers never see a partial file.
    /// - Throws: `SafetensorsError` (kind `.io`) when the file cannot be written.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let data = encode(tensors, metadata: metadata)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SafetensorsError(source: url.path, field: "file", kind: .io("cannot write temporary file \(temporary.path): \(error.localizedDescription)"))
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SafetensorsError(source: url.path, field: "file", kind: .io("cannot rename \(temporary.path) to \(url.path): \(reason)"))
        }
    }

    // MARK: Decoding

    /// Reads the safetensors file at `url` (see `decode(_:source:)`), naming it by its path in errors.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file"
            throw SafetensorsError(source: url.path, field: "file", kind: .io(reason))
        }
        return try decode(data, source: url.path)
    }

    /// Parses and validates the bytes of a safetensors file.
    /// - Parameters:
    ///   - data: the whole file.
    ///   - source: how errors name the file (usually its path).
    /// - Returns: the tensors (F32 → `.float32`, F64 → `.float64`, fresh storage) and the metadata.
    /// - Throws: `SafetensorsError` naming `source` and the header field at fault.
    public static func decode(_ data: Data, source: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ field: String, _ kind: SafetensorsError.Kind) -> SafetensorsError {
            SafetensorsError(source: source, field: field, kind: kind)
        }
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            try decode(bytes, source: source)
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, source: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ field: String, _ kind: SafetensorsError.Kind) -> SafetensorsError {
            SafetensorsError(source: source, field: field, kind: kind)
        }
        guard bytes.count >= 8 else {
            throw fail("header length", .truncated(needed: 8, available: bytes.count))
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        let available = bytes.count - 8
        guard declared <= UInt64(available) else {
            throw fail("header length", .headerLengthExceedsFile(declared: declared, available: available))
        }
        let headerLength = Int(declared)
        let headerBytes = Data(bytes[8..<(8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw fail("header", .invalidJSON("header is not valid UTF-8"))
        }

        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: headerBytes)
        } catch let error as DecodingError {
            throw headerError(error, source: source)
        } catch {
            throw fail("header", .invalidJSON("\(error)"))
        }

        let bufferStart = 8 + headerLength
        let bufferSize = bytes.count - bufferStart
        var placed: [(name: String, begin: Int, end: Int)] = []
        var tensors: [String: Tensor] = [:]
        for (name, entry) in header.entries.sorted(by: { $0.key < $1.key }) {
            guard let dtype = DType(rawValue: entry.dtype) else {
                throw fail("\(name).dtype", .unknownDType(entry.dtype))
            }
            var count = 1
            for d in entry.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow else { throw fail("\(name).shape", .invalidShape(entry.shape)) }
                count = product
            }
            let offsets = entry.dataOffsets
            guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw fail("\(name).data_offsets", .invalidOffsets(offsets))
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard end <= bufferSize else {
                throw fail("\(name).data_offsets", .offsetsOutOfRange(begin: begin, end: end, bufferSize: bufferSize))
            }
            let (expectedBytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, expectedBytes == end - begin else {
                throw fail("\(name).data_offsets", .shapeMismatch(shape: entry.shape, dtype: dtype, dataBytes: end - begin))
            }
            placed.append((name, begin, end))
            tensors[name] = makeTensor(bytes.baseAddress! + bufferStart + begin, shape: entry.shape, count: count, dtype: dtype)
        }

        // The tensors must tile the buffer: sorted by offset, each starts where the last ended.
        placed.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous: (name: String, begin: Int, end: Int)?
        for p in placed {
            if p.begin < cursor, let previous {
                throw fail("\(p.name).data_offsets", .overlappingOffsets(begin: p.begin, end: p.end, other: previous.name, otherBegin: previous.begin, otherEnd: previous.end))
            }
            if p.begin > cursor {
                throw fail("\(p.name).data_offsets", .gapBeforeData(begin: p.begin, previousEnd: cursor))
            }
            cursor = p.end
            previous = p
        }
        if cursor != bufferSize {
            throw fail("data", .unusedBytes(dataEnd: cursor, bufferSize: bufferSize))
        }
        return (tensors, header.metadata)
    }

    // MARK: Internals

    /// The header JSON: `__metadata__` plus one entry per tensor.
    private struct Header: Decodable {
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]

        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let dataOffsets: [Int]
            enum CodingKeys: String, CodingKey {
                case dtype, shape
                case dataOffsets = "data_offsets"
            }
        }

        struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == Safetensors.metadataKey {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
                }
            }
        }
    }

    /// Maps a JSONDecoder failure to an error naming the header field it arose in.
    private static func headerError(_ error: DecodingError, source: String) -> SafetensorsError {
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let all = keys + (last.map { [$0] } ?? [])
            let parts = all.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return parts.isEmpty ? "header" : parts.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let underlying = (context.underlyingError.map { " (\($0))" }) ?? ""
            return SafetensorsError(source: source, field: "header", kind: .invalidJSON(context.debugDescription + underlying))
        case .dataCorrupted(let context):
            return SafetensorsError(source: source, field: path(context.codingPath), kind: .malformedEntry(context.debugDescription))
        case .keyNotFound(let key, let context):
            return SafetensorsError(source: source, field: path(context.codingPath, key), kind: .malformedEntry("missing field '\(key.stringValue)'"))
        case .typeMismatch(let type, let context):
            let kind: SafetensorsError.Kind = context.codingPath.isEmpty
                ? .invalidJSON("header is not a JSON object")
                : .malformedEntry("expected \(type): \(context.debugDescription)")
            return SafetensorsError(source: source, field: path(context.codingPath), kind: kind)
        case .valueNotFound(let type, let context):
            return SafetensorsError(source: source, field: path(context.codingPath), kind: .malformedEntry("expected \(type), found null"))
        @unknown default:
            return SafetensorsError(source: source, field: "header", kind: .invalidJSON("\(error)"))
        }
    }

    /// A tensor with fresh storage from little-endian bytes at `src` (any alignment).
    private static func makeTensor(_ src: UnsafeRawPointer, shape: [Int], count: Int, dtype: DType) -> Tensor {
        if count == 0 { return Tensor.zeros(shape, dtype: dtype) }
        switch dtype {
        case .float32:
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count {
                    let bits = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    buffer[i] = Float(bitPattern: bits)
                }
                initialized = count
            }
            return Tensor(values, shape: shape)
        case .float64:
            let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count {
                    let bits = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    buffer[i] = Double(bitPattern: bits)
                }
                initialized = count
            }
            return Tensor(values, shape: shape, dtype: .float64)
        }
    }

    /// Copies `count` elements of `elementSize` bytes from `src` to `dst` in little-endian order.
    private static func storeLittleEndian(_ src: UnsafeRawPointer, count: Int, elementSize: Int, to dst: UnsafeMutableRawPointer) {
        dst.copyMemory(from: src, byteCount: count * elementSize)
        #if _endian(big)
        let bytes = dst.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count {
            let element = UnsafeMutableBufferPointer(start: bytes + i * elementSize, count: elementSize)
            element.reverse()
        }
        #endif
    }

    /// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A safetensors file that cannot be read: which file, which header field, and what is wrong.
///
/// `field` is a dotted path into the header (`"conv1.weight.data_offsets"`,
/// `"__metadata__.epoch"`), or `"header length"` for the 8-byte prefix, `"header"` for the
/// JSON as a whole, `"data"` for the byte buffer and `"file"` for I/O.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// What is wrong.
    public enum Kind: Equatable, Sendable {
        /// The file is shorter than the 8-byte header length.
        case truncated(needed: Int, available: Int)
        /// The header length prefix says more bytes than follow it.
        case headerLengthExceedsFile(declared: UInt64, available: Int)
        /// The header is not UTF-8, not JSON, or not a JSON object.
        case invalidJSON(String)
        /// A header entry is missing a field or has one of the wrong JSON type.
        case malformedEntry(String)
        /// A dtype other than F32 and F64.
        case unknownDType(String)
        /// A negative dimension, or an element count that overflows.
        case invalidShape([Int])
        /// `data_offsets` is not `[begin, end]` with 0 ≤ begin ≤ end.
        case invalidOffsets([Int])
        /// `end` lies past the end of the byte buffer.
        case offsetsOutOfRange(begin: Int, end: Int, bufferSize: Int)
        /// end − begin differs from Π shape × sizeof(dtype).
        case shapeMismatch(shape: [Int], dtype: DType, dataBytes: Int)
        /// The tensor's bytes overlap another tensor's.
        case overlappingOffsets(begin: Int, end: Int, other: String, otherBegin: Int, otherEnd: Int)
        /// No tensor covers the bytes between the previous tensor's end and this one's begin.
        case gapBeforeData(begin: Int, previousEnd: Int)
        /// Bytes after the last tensor's data.
        case unusedBytes(dataEnd: Int, bufferSize: Int)
        /// The file could not be opened, written or renamed.
        case io(String)
    }

    /// The file (or other source) named in the message.
    public let source: String
    /// The header field at fault.
    public let field: String
    public let kind: Kind

    public init(source: String, field: String, kind: Kind) {
        self.source = source
        self.field = field
        self.kind = kind
    }

    public var description: String {
        "\(source): \(field): \(message)"
    }

    private var message: String {
        switch kind {
        case .truncated(let needed, let available):
            return "file is truncated: needs at least \(needed) bytes for the header length, has \(available)"
        case .headerLengthExceedsFile(let declared, let available):
            return "header length \(declared) is larger than the \(available) bytes that follow it (truncated file?)"
        case .invalidJSON(let reason):
            return "invalid JSON header: \(reason)"
        case .malformedEntry(let reason):
            return "malformed header entry: \(reason)"
        case .unknownDType(let dtype):
            return "unknown dtype '\(dtype)' (supported: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .invalidShape(let shape):
            return "invalid shape \(shape): dimensions must be non-negative and their product must fit in Int"
        case .invalidOffsets(let offsets):
            return "invalid data_offsets \(offsets): expected [begin, end] with 0 ≤ begin ≤ end"
        case .offsetsOutOfRange(let begin, let end, let bufferSize):
            return "data_offsets [\(begin), \(end)] run past the end of the \(bufferSize)-byte data buffer"
        case .shapeMismatch(let shape, let dtype, let dataBytes):
            let count = shape.reduce(1, *)
            return "shape \(shape) of \(dtype.rawValue) needs \(count) × \(dtype.byteSize) = \(count * dtype.byteSize) bytes, data_offsets span \(dataBytes)"
        case .overlappingOffsets(let begin, let end, let other, let otherBegin, let otherEnd):
            return "data_offsets [\(begin), \(end)] overlap tensor '\(other)' at [\(otherBegin), \(otherEnd)]"
        case .gapBeforeData(let begin, let previousEnd):
            return "data_offsets begin at \(begin), leaving bytes \(previousEnd)..<\(begin) unused (tensors must be stored back to back)"
        case .unusedBytes(let dataEnd, let bufferSize):
            return "tensors end at byte \(dataEnd) of a \(bufferSize)-byte data buffer; \(bufferSize - dataEnd) trailing bytes are unaccounted for"
        case .io(let reason):
            return reason
        }
    }
}
