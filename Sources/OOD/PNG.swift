import CZlib
import Foundation

/// An 8-bit grey-scale image: `pixels[y * width + x]`, 0 black … 255 white.
public struct GreyImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major pixels; `pixels.count == width * height`.
    public let pixels: [UInt8]

    /// Wraps row-major pixels; `pixels.count` must be `width × height`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height,
                     "GreyImage: \(pixels.count) pixels for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Pixel (x, y).
    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }
}

/// A PNG file that cannot be decoded: which file, and what is wrong with it.
public struct PNGError: Error, CustomStringConvertible, Equatable {
    /// What is wrong.
    public enum Kind: Equatable, Sendable {
        /// The file does not start with the 8-byte PNG signature 89 50 4E 47 0D 0A 1A 0A.
        case badSignature(firstBytes: [UInt8])
        /// A chunk's header or declared length runs past the end of the file.
        case truncatedChunk(type: String, offset: Int)
        /// The first chunk is not a 13-byte IHDR.
        case missingHeader
        /// The file ends without an IEND chunk.
        case missingEnd
        /// There is no IDAT chunk.
        case missingData
        /// A header field this decoder does not handle (e.g. 16-bit depth, palettes, interlacing).
        case unsupported(String)
        /// zlib rejected the concatenated IDAT stream.
        case corruptData(String)
        /// The image data holds a different number of bytes than the header implies.
        case wrongDataSize(expected: Int, found: Int)
        /// A scanline starts with a filter type outside 0…4.
        case badFilter(row: Int, type: UInt8)
    }

    /// The file at fault.
    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String {
        let message: String
        switch kind {
        case .badSignature(let first):
            let shown = first.isEmpty ? "the file is empty"
                : "starts with " + first.map { String(format: "%02x", $0) }.joined(separator: " ")
            message = "not a PNG file: expected signature 89 50 4e 47 0d 0a 1a 0a, \(shown)"
        case .truncatedChunk(let type, let offset):
            message = "PNG is truncated: chunk \(type) at byte \(offset) runs past the end of the file"
        case .missingHeader: message = "PNG does not start with a 13-byte IHDR chunk"
        case .missingEnd: message = "PNG is truncated: no IEND chunk"
        case .missingData: message = "PNG has no IDAT chunk"
        case .unsupported(let what): message = "unsupported PNG: \(what)"
        case .corruptData(let reason): message = "corrupt PNG image data: \(reason)"
        case .wrongDataSize(let expected, let found):
            message = "PNG image data holds \(found) bytes, the header implies \(expected)"
        case .badFilter(let row, let type): message = "PNG scanline \(row) has filter type \(type), expected 0…4"
        }
        return "\(path): \(message)"
    }
}

/// A minimal PNG decoder (ISO/IEC 15948, the W3C PNG specification) to grey-scale.
///
/// Handles non-interlaced images with bit depth 8 and colour type 0 (grey), 2 (RGB),
/// 4 (grey + alpha) or 6 (RGBA), and all five scanline filters (None, Sub, Up, Average, Paeth).
/// Chunk lengths are checked against the file; CRCs are not checked (zlib still checks the
/// Adler-32 of the image data). Ancillary chunks are skipped. Colour becomes grey by the
/// ITU-R BT.601 luma, round(0.299 R + 0.587 G + 0.114 B); alpha is dropped (not composited).
public enum PNG {
    /// The 8-byte signature every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads and decodes the PNG file at `path`.
    /// - Throws: `DataError` (`.missing` carrying `hint`, `.unreadable`) or `PNGError`.
    public static func read(path: String, hint: String? = nil) throws -> GreyImage {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, kind: .missing(hint: hint))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(path: path, kind: .unreadable(error.localizedDescription))
        }
        return try decode([UInt8](data), path: path)
    }

    /// Decodes the bytes of a PNG file; `path` only names the file in errors.
    /// - Throws: `PNGError`.
    public static func decode(_ bytes: [UInt8], path: String) throws(PNGError) -> GreyImage {
        func fail(_ kind: PNGError.Kind) -> PNGError { PNGError(path: path, kind: kind) }
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw fail(.badSignature(firstBytes: Array(bytes.prefix(8))))
        }
        func be32(_ i: Int) -> Int {
            Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }

        var offset = 8
        var header: ArraySlice<UInt8>?
        var idat: [UInt8] = []
        var sawData = false
        var ended = false
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else { throw fail(.truncatedChunk(type: "?", offset: offset)) }
            let length = be32(offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let start = offset + 8
            // length < 2³¹ by the spec; 4 CRC bytes follow the data.
            guard length < 1 << 31, start + length + 4 <= bytes.count else {
                throw fail(.truncatedChunk(type: type, offset: offset))
            }
            let body = bytes[start..<(start + length)]
            if header == nil {
                guard type == "IHDR", length == 13 else { throw fail(.missingHeader) }
                header = body
            } else if type == "IDAT" {
                idat += body
                sawData = true
            } else if type == "IEND" {
                ended = true
                break
            } else if type == "PLTE" || type == "IHDR" {
                // A palette only matters for colour type 3, rejected below; a second IHDR is invalid.
                if type == "IHDR" { throw fail(.unsupported("a second IHDR chunk")) }
            }
            offset = start + length + 4
        }
        guard let header else { throw fail(.missingHeader) }
        guard ended else { throw fail(.missingEnd) }
        guard sawData else { throw fail(.missingData) }

        let h = header.startIndex
        let width = be32(h), height = be32(h + 4)
        let depth = bytes[h + 8], colour = bytes[h + 9]
        let compression = bytes[h + 10], filter = bytes[h + 11], interlace = bytes[h + 12]
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw fail(.unsupported("size \(width)×\(height) (this decoder takes 1…65536 per side)"))
        }
        guard depth == 8 else { throw fail(.unsupported("bit depth \(depth) (only 8 is handled)")) }
        let channels: Int
        switch colour {
        case 0: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        case 3: throw fail(.unsupported("colour type 3 (palette)"))
        default: throw fail(.unsupported("colour type \(colour)"))
        }
        guard compression == 0, filter == 0 else {
            throw fail(.unsupported("compression method \(compression), filter method \(filter)"))
        }
        guard interlace == 0 else { throw fail(.unsupported("Adam7 interlacing")) }

        let stride = width * channels
        let expected = height * (1 + stride)
        let raw = try inflate(idat, expected: expected, path: path)
        let samples = try unfilter(raw, width: width, height: height, channels: channels, path: path)
        return GreyImage(width: width, height: height, pixels: grey(samples, channels: channels))
    }

    /// Inflates a zlib stream (RFC 1950) that must decompress to exactly `expected` bytes.
    static func inflate(_ input: [UInt8], expected: Int, path: String) throws(PNGError) -> [UInt8] {
        // One spare byte: filling it means the stream holds more than the header implies.
        var output = [UInt8](repeating: 0, count: expected + 1)
        var produced = uLongf(output.count)
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { inp in
                uncompress(out.baseAddress!, &produced, inp.baseAddress, uLong(inp.count))
            }
        }
        switch status {
        case Z_OK:
            guard Int(produced) == expected else {
                throw PNGError(path: path, kind: .wrongDataSize(expected: expected, found: Int(produced)))
            }
        case Z_BUF_ERROR where Int(produced) == output.count:
            throw PNGError(path: path, kind: .wrongDataSize(expected: expected, found: output.count))
        case Z_BUF_ERROR, Z_DATA_ERROR:
            // uncompress reports a stream cut short as Z_DATA_ERROR (or Z_BUF_ERROR in old zlib).
            throw PNGError(path: path, kind: .corruptData("zlib stream is corrupt or truncated (status \(status))"))
        default:
            throw PNGError(path: path, kind: .corruptData("zlib status \(status)"))
        }
        output.removeLast()
        return output
    }

    /// Reverses the scanline filters: each row is a filter-type byte then `width × channels`
    /// bytes; a = left byte (same channel), b = byte above, c = above-left, all 0 off the image.
    /// Sub adds a, Up adds b, Average adds ⌊(a + b) / 2⌋, Paeth adds whichever of a, b, c is
    /// nearest to a + b − c (ties: a, then b). Arithmetic is modulo 256.
    static func unfilter(_ raw: [UInt8], width: Int, height: Int, channels bpp: Int,
                         path: String) throws(PNGError) -> [UInt8] {
        let stride = width * bpp
        var out = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let type = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1, row = y * stride, prev = row - stride
            guard type <= 4 else { throw PNGError(path: path, kind: .badFilter(row: y, type: type)) }
            for i in 0..<stride {
                let x = raw[src + i]
                let a = i >= bpp ? out[row + i - bpp] : 0
                let b = y > 0 ? out[prev + i] : 0
                let c = (i >= bpp && y > 0) ? out[prev + i - bpp] : 0
                let predictor: UInt8
                switch type {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = UInt8((Int(a) + Int(b)) / 2)
                default:
                    let p = Int(a) + Int(b) - Int(c)
                    let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
                    predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                }
                out[row + i] = x &+ predictor
            }
        }
        return out
    }

    /// Grey from interleaved samples: grey as is, colour by round(0.299 R + 0.587 G + 0.114 B)
    /// (computed exactly in integers), alpha dropped.
    static func grey(_ samples: [UInt8], channels: Int) -> [UInt8] {
        switch channels {
        case 1: return samples
        case 2: return stride(from: 0, to: samples.count, by: 2).map { samples[$0] }
        default:
            return stride(from: 0, to: samples.count, by: channels).map { i in
                let sum = 299 * Int(samples[i]) + 587 * Int(samples[i + 1]) + 114 * Int(samples[i + 2])
                return UInt8((sum + 500) / 1000)
            }
        }
    }
}
