import CZlib
import Foundation

/// A data file that cannot be used: which file, and what is wrong with it.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// What is wrong.
    public enum Kind: Equatable, Sendable {
        /// The file does not exist; `hint` says how to get it.
        case missing(hint: String?)
        /// The file exists but cannot be read.
        case unreadable(String)
        /// The file does not start with the gzip magic bytes 1f 8b.
        case notGzip(firstBytes: [UInt8])
        /// zlib rejected the compressed stream (bad CRC, bad deflate data, trailing garbage).
        case corruptGzip(String)
        /// The compressed stream ends before its end-of-stream marker.
        case truncatedGzip(decompressedBytes: Int)
        /// The decompressed IDX data is shorter than its header says.
        case truncated(expectedBytes: Int, foundBytes: Int)
        /// The decompressed IDX data is longer than its header says.
        case trailingBytes(expectedBytes: Int, foundBytes: Int)
        /// The IDX magic number (0x0000 TTDD: type TT, DD dimensions) is not the one expected.
        case wrongMagic(expected: UInt32, found: UInt32)
        /// The images file and the labels file disagree on the number of examples.
        case countMismatch(images: Int, labels: Int, labelsPath: String)
        /// A label outside 0..<classes.
        case labelOutOfRange(index: Int, label: UInt8, classes: Int)
    }

    /// The file at fault.
    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String { "\(path): \(message)" }

    private var message: String {
        switch kind {
        case .missing(let hint):
            return "file not found" + (hint.map { ". \($0)" } ?? "")
        case .unreadable(let reason):
            return "cannot read file: \(reason)"
        case .notGzip(let firstBytes):
            let shown = firstBytes.isEmpty ? "the file is empty" : "starts with " + firstBytes.map(hex2).joined(separator: " ")
            return "not a gzip file: expected magic bytes 1f 8b, \(shown)"
        case .corruptGzip(let reason):
            return "corrupt gzip data: \(reason)"
        case .truncatedGzip(let decompressedBytes):
            return "gzip stream is truncated: it ends after \(decompressedBytes) decompressed bytes without an end-of-stream marker"
        case .truncated(let expected, let found):
            return "IDX data is truncated: header declares \(expected) bytes, file has \(found)"
        case .trailingBytes(let expected, let found):
            return "IDX data has \(found - expected) bytes beyond the \(expected) its header declares"
        case .wrongMagic(let expected, let found):
            return "wrong IDX magic number: expected \(hex8(expected)) (\(IDX.describe(magic: expected))), found \(hex8(found)) (\(IDX.describe(magic: found)))"
        case .countMismatch(let images, let labels, let labelsPath):
            return "holds \(images) images but \(labelsPath) holds \(labels) labels"
        case .labelOutOfRange(let index, let label, let classes):
            return "label \(label) at index \(index) is outside 0..<\(classes)"
        }
    }

    private func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    private func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// Decompression of gzip files through zlib.
public enum Gzip {
    /// The decompressed bytes of a gzip file (RFC 1952), concatenating the members of a
    /// multi-member file as `gunzip` does. zlib checks each member's CRC-32 and length.
    /// - Parameters:
    ///   - data: the compressed file.
    ///   - path: how errors name the file.
    /// - Throws: `DataError` (`.notGzip`, `.corruptGzip`, `.truncatedGzip`).
    public static func decompress(_ data: Data, path: String) throws(DataError) -> [UInt8] {
        func fail(_ kind: DataError.Kind) -> DataError { DataError(path: path, kind: kind) }
        let input = [UInt8](data)
        guard input.count >= 2, input[0] == 0x1f, input[1] == 0x8b else {
            throw fail(.notGzip(firstBytes: Array(input.prefix(4))))
        }

        // ISIZE, the last 4 bytes, is the length mod 2³² of the last member: a size hint.
        var capacity = 1 << 16
        if input.count >= 18 {
            let n = input.count
            let isize = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
            // Bounded: deflate expands at most ~1032:1, and a corrupt trailer must not allocate gigabytes.
            capacity = max(capacity, min(isize + 1, input.count * 1032, 1 << 30))
        }
        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0

        var stream = z_stream()
        // windowBits 15 + 32: a 32 KiB window, with gzip/zlib header auto-detection.
        let initStatus = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw fail(.corruptGzip("zlib inflateInit2 failed with status \(initStatus)"))
        }
        defer { inflateEnd(&stream) }

        let failure: DataError? = input.withUnsafeBufferPointer { inBuffer -> DataError? in
            let base = UnsafeMutablePointer(mutating: inBuffer.baseAddress!)
            var fed = 0  // bytes handed to zlib so far
            let chunk = Int(UInt32.max >> 1)
            while true {
                if stream.avail_in == 0 && fed < input.count {
                    let n = min(input.count - fed, chunk)
                    stream.next_in = base + fed
                    stream.avail_in = UInt32(n)
                    fed += n
                }
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: output.count))
                }
                let status: Int32 = output.withUnsafeMutableBufferPointer { outBuffer in
                    let room = min(outBuffer.count - produced, chunk)
                    stream.next_out = outBuffer.baseAddress! + produced
                    stream.avail_out = UInt32(room)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    produced += room - Int(stream.avail_out)
                    return status
                }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let consumed = fed - Int(stream.avail_in)
                    let rest = input.count - consumed
                    if rest == 0 { return nil }
                    if rest >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b {
                        inflateReset(&stream)  // next member; the pending input stays in place
                        continue
                    }
                    return fail(.corruptGzip("\(rest) bytes of trailing data after the gzip stream at offset \(consumed)"))
                case Z_BUF_ERROR where stream.avail_in == 0 && fed == input.count:
                    return fail(.truncatedGzip(decompressedBytes: produced))
                case Z_BUF_ERROR:
                    continue
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    return fail(.corruptGzip(reason))
                }
            }
        }
        if let failure { throw failure }
        output.removeSubrange(produced...)
        return output
    }
}

/// An IDX array (LeCun's MNIST format) of unsigned bytes.
///
/// File layout, big-endian: magic `0x0000_08DD` (0x08 = unsigned byte, DD = number of
/// dimensions), then DD UInt32 sizes, then Π sizes bytes in row-major order.
public struct IDXArray: Sendable, Equatable {
    /// Sizes of the dimensions, outermost first.
    public let dimensions: [Int]
    /// The elements, row-major; `bytes.count == dimensions.reduce(1, *)`.
    public let bytes: [UInt8]
}

/// Parsing of IDX files, optionally gzip-compressed.
public enum IDX {
    /// Magic number of a 1-d unsigned-byte array (label files).
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Magic number of a 3-d unsigned-byte array (image files: count × rows × columns).
    public static let imagesMagic: UInt32 = 0x0000_0803

    /// Parses decompressed IDX bytes.
    /// - Parameters:
    ///   - bytes: the whole decompressed file.
    ///   - path: how errors name the file.
    ///   - magic: the magic number required (`labelsMagic` or `imagesMagic`); it fixes the
    ///     element type and the number of dimensions.
    /// - Throws: `DataError` (`.truncated`, `.wrongMagic`, `.trailingBytes`).
    public static func parse(_ bytes: [UInt8], path: String, expecting magic: UInt32) throws(DataError) -> IDXArray {
        func fail(_ kind: DataError.Kind) -> DataError { DataError(path: path, kind: kind) }
        func word(at i: Int) -> UInt32 {
            UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
        }
        guard bytes.count >= 4 else { throw fail(.truncated(expectedBytes: 4, foundBytes: bytes.count)) }
        let found = word(at: 0)
        guard found == magic else { throw fail(.wrongMagic(expected: magic, found: found)) }
        let rank = Int(magic & 0xff)
        let headerBytes = 4 + 4 * rank
        guard bytes.count >= headerBytes else {
            throw fail(.truncated(expectedBytes: headerBytes, foundBytes: bytes.count))
        }
        let dimensions = (0..<rank).map { Int(word(at: 4 + 4 * $0)) }
        var expected = headerBytes
        var dataBytes = 1
        for d in dimensions {
            let (product, overflow) = dataBytes.multipliedReportingOverflow(by: d)
            // An overflowing product can never match the file: report it as truncation.
            dataBytes = overflow ? Int.max - headerBytes : product
        }
        expected += dataBytes
        if bytes.count < expected { throw fail(.truncated(expectedBytes: expected, foundBytes: bytes.count)) }
        if bytes.count > expected { throw fail(.trailingBytes(expectedBytes: expected, foundBytes: bytes.count)) }
        return IDXArray(dimensions: dimensions, bytes: Array(bytes[headerBytes...]))
    }

    /// Reads the IDX file at `path`, gunzipping it when its name ends in `.gz`.
    /// - Throws: `DataError` (`.missing`, `.unreadable`, gzip and IDX errors).
    public static func read(path: String, expecting magic: UInt32) throws(DataError) -> IDXArray {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, kind: .missing(hint: nil))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(path: path, kind: .unreadable(error.localizedDescription))
        }
        let bytes = path.hasSuffix(".gz") ? try Gzip.decompress(data, path: path) : [UInt8](data)
        return try parse(bytes, path: path, expecting: magic)
    }

    /// A readable name for an IDX magic number, e.g. "ubyte, 3 dimensions".
    static func describe(magic: UInt32) -> String {
        if magic >> 16 != 0 { return "not an IDX header" }
        let types: [UInt32: String] = [0x08: "ubyte", 0x09: "byte", 0x0b: "int16", 0x0c: "int32", 0x0d: "float32", 0x0e: "float64"]
        let type = types[(magic >> 8) & 0xff] ?? "unknown type"
        return "\(type), \(magic & 0xff) dimension\(magic & 0xff == 1 ? "" : "s")"
    }
}
