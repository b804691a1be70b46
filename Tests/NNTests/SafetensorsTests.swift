import Foundation
import Testing
import Tensor
import TestSupport
@testable import NN

/// A safetensors file built by hand from the spec: u64 LE header length, header, data.
private func file(header: String, data: [UInt8], pad: Bool = true) -> Data {
    file(headerBytes: Array(header.utf8), data: data, pad: pad)
}

private func file(headerBytes: [UInt8], data: [UInt8], pad: Bool = true) -> Data {
    var h = headerBytes
    if pad { while h.count % 8 != 0 { h.append(0x20) } }
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    return Data(out + h + data)
}

private func littleEndianBytes(_ x: Float) -> [UInt8] { withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }
private func littleEndianBytes(_ x: Double) -> [UInt8] { withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }

// IEEE 754 edge values, given as bit patterns.
private let specialFloats: [Float] = [
    0x3F80_0000, // 1.0
    0x8000_0000, // -0.0
    0x0000_0000, // +0.0
    0x0000_0001, // smallest subnormal
    0x007F_FFFF, // largest subnormal
    0x7F80_0000, // +inf
    0xFF80_0000, // -inf
    0x7FC1_2345, // quiet NaN with payload
    0x7FA0_0001, // signalling NaN with payload
    0xFFC0_0001, // negative quiet NaN
    0x7F7F_FFFF, // greatest finite
    0x4049_0FDB, // pi
].map { Float(bitPattern: $0) }

private let specialDoubles: [Double] = [
    0x3FF0_0000_0000_0000, // 1.0
    0x8000_0000_0000_0000, // -0.0
    0x0000_0000_0000_0001, // smallest subnormal
    0x000F_FFFF_FFFF_FFFF, // largest subnormal
    0x7FF0_0000_0000_0000, // +inf
    0x7FF8_0000_DEAD_BEEF, // quiet NaN with payload
    0x7FF0_0000_0000_0001, // signalling NaN with payload
    0xFFF8_0000_0000_0002, // negative quiet NaN
].map { Double(bitPattern: $0) }

@Suite struct SafetensorsRoundTrip {
    @Test func float32IsBitExact() throws {
        let t = Tensor(specialFloats, shape: [3, 4])
        let (tensors, metadata) = try Safetensors.decode(Safetensors.encode(["w": t]), source: "mem")
        let back = try #require(tensors["w"])
        #expect(back.dtype == .float32)
        #expect(back.shape == [3, 4])
        #expect(bits(back) == specialFloats.map { UInt64($0.bitPattern) })
        #expect(metadata.isEmpty)
    }

    @Test func float64IsBitExact() throws {
        let t = Tensor(specialDoubles, shape: [2, 2, 2], dtype: .float64)
        let (tensors, _) = try Safetensors.decode(Safetensors.encode(["w": t]), source: "mem")
        let back = try #require(tensors["w"])
        #expect(back.dtype == .float64)
        #expect(back.shape == [2, 2, 2])
        #expect(bits(back) == specialDoubles.map(\.bitPattern))
    }

    @Test func mixedShapesAndMetadataSurvive() throws {
        let matrix = Tensor((0..<6).map(Float.init), shape: [2, 3])
        let tensors: [String: Tensor] = [
            "scalar": Tensor(scalar: -0.0, dtype: .float64),
            "empty": Tensor.zeros([0, 3]),
            "transposed": matrix.transposed(),  // non-contiguous: stored as its row-major values
            "layer.0.weight": Tensor(specialFloats, shape: [12]),
        ]
        let metadata = ["format": "flowood", "quote\"and\\slash": "line\nbreak\t\u{01} ünïcödé ✓"]
        let (back, meta) = try Safetensors.decode(Safetensors.encode(tensors, metadata: metadata), source: "mem")
        #expect(meta == metadata)
        #expect(Set(back.keys) == Set(tensors.keys))
        for (name, t) in tensors {
            let b = try #require(back[name])
            #expect(b.shape == t.shape, "\(name)")
            #expect(b.dtype == t.dtype, "\(name)")
            #expect(bits(b) == bits(t), "\(name)")
        }
        // transposed [[0,1,2],[3,4,5]] row-major is 0,3,1,4,2,5
        #expect(back["transposed"]!.scalars == [0, 3, 1, 4, 2, 5])
        #expect(bits(back["scalar"]!) == [0x8000_0000_0000_0000])
    }

    @Test func encodingIsDeterministicAndMatchesTheSpec() throws {
        var a: [String: Tensor] = [:]
        a["b"] = Tensor([2.0], shape: [1], dtype: .float64)
        a["a"] = Tensor([1.0, -2.0] as [Float], shape: [2])
        var b: [String: Tensor] = [:]
        b["a"] = a["a"]
        b["b"] = a["b"]
        let encoded = Safetensors.encode(a, metadata: ["format": "pt", "epoch": "3"])
        #expect(encoded == Safetensors.encode(b, metadata: ["epoch": "3", "format": "pt"]))

        // Expected bytes written out from the format definition: metadata first, then tensors
        // in name order, compact JSON, header padded with spaces to a multiple of 8.
        let header = #"{"__metadata__":{"epoch":"3","format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#
        let data = littleEndianBytes(Float(1)) + littleEndianBytes(Float(-2)) + littleEndianBytes(Double(2))
        // reference: IEEE 754 1.0f = 3f800000, -2.0f = c0000000, 2.0 = 4000000000000000 (little-endian below)
        #expect(data == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0, 0, 0, 0, 0, 0, 0x00, 0x40])
        let expected = file(header: header, data: data)
        #expect(encoded == expected)
        let headerLength = encoded.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(headerLength == 152)  // 151 bytes of JSON + 1 space
    }
}

@Suite struct SafetensorsHandBuiltFiles {
    @Test func singleFloat32Decodes() throws {
        let data = file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                        data: [0x00, 0x00, 0x80, 0x3F])  // 1.0f = 0x3F800000, little-endian
        let (tensors, metadata) = try Safetensors.decode(data, source: "one.safetensors")
        #expect(metadata.isEmpty)
        #expect(tensors.count == 1)
        #expect(tensors["w"]?.shape == [1])
        #expect(tensors["w"]?.scalars == [1.0])
    }

    @Test func unpaddedHeaderWithWhitespaceAndOutOfOrderOffsetsDecodes() throws {
        // "b" comes first in the JSON but second in the buffer; other writers order tensors differently.
        let header = """
            { "b" : {"shape": [2, 1], "dtype": "F64", "data_offsets": [4, 20]},
              "__metadata__": {"framework": "hand"},
              "a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]} }
            """
        let data = littleEndianBytes(Float(-0.5)) + littleEndianBytes(Double(1)) + littleEndianBytes(Double(-3.25))
        let (tensors, metadata) = try Safetensors.decode(file(header: header, data: data, pad: false), source: "hand")
        #expect(metadata == ["framework": "hand"])
        #expect(tensors["a"]?.shape == [])
        #expect(tensors["a"]?.scalars == [-0.5])
        #expect(tensors["b"]?.dtype == .float64)
        #expect(tensors["b"]?.shape == [2, 1])
        #expect(tensors["b"]?.doubles == [1, -3.25])
    }

    @Test func decodesAFileThatIsASliceOfALargerBuffer() throws {
        let inner = file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: littleEndianBytes(Float(7)))
        let outer = Data([1, 2, 3]) + inner
        let slice = outer[3...]  // startIndex 3
        #expect(try Safetensors.decode(slice, source: "slice").tensors["w"]?.scalars == [7])
    }
}

@Suite struct SafetensorsFiles {
    @Test func writeThenReadLeavesNoTemporaryFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")

        try Safetensors.write(["w": Tensor([1, 2, 3] as [Float], shape: [3])], metadata: ["v": "1"], to: url)
        // Overwriting an existing file goes through the same rename.
        try Safetensors.write(["w": Tensor(specialFloats, shape: [12])], metadata: ["v": "2"], to: url)
        let (tensors, metadata) = try Safetensors.read(from: url)
        #expect(metadata == ["v": "2"])
        #expect(bits(tensors["w"]!) == specialFloats.map { UInt64($0.bitPattern) })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
    }

    @Test func missingFileNamesThePath() throws {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/model.safetensors")
        let error = try #require(throws: SafetensorsError.self) { try Safetensors.read(from: url) }
        #expect(error.source == url.path)
        #expect(error.description.contains(url.path))
        #expect(error.kind == .io("no such file"))
    }

    @Test func unwritableDirectoryIsAnIOError() throws {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/model.safetensors")
        let error = try #require(throws: SafetensorsError.self) { try Safetensors.write([:], to: url) }
        #expect(error.source == url.path)
        guard case .io = error.kind else { Issue.record("expected .io, got \(error.kind)"); return }
    }
}

/// One corrupt file and the error it must give.
struct Corruption: Sendable, CustomTestStringConvertible {
    let name: String
    let data: Data
    let field: String
    /// The expected kind; nil to check only `kindName`.
    let kind: SafetensorsError.Kind?
    let kindName: String
    var testDescription: String { name }

    init(_ name: String, _ data: Data, field: String, _ kind: SafetensorsError.Kind) {
        self.name = name
        self.data = data
        self.field = field
        self.kind = kind
        self.kindName = Corruption.caseName(kind)
    }

    init(_ name: String, _ data: Data, field: String, kindName: String) {
        self.name = name
        self.data = data
        self.field = field
        self.kind = nil
        self.kindName = kindName
    }

    static func caseName(_ kind: SafetensorsError.Kind) -> String {
        String("\(kind)".prefix { $0 != "(" })
    }
}

private let one = littleEndianBytes(Float(1))
private let valid = Safetensors.encode([
    "a": Tensor([1, 2] as [Float], shape: [2]),
    "b": Tensor([3, 4, 5] as [Double], shape: [3], dtype: .float64),
])

private let corruptions: [Corruption] = [
    Corruption("empty file", Data(), field: "header length", .truncated(needed: 8, available: 0)),
    Corruption("shorter than the length prefix", Data([8, 0, 0, 0, 0]), field: "header length", .truncated(needed: 8, available: 5)),
    Corruption("header length past the end", Data([0xE8, 0x03, 0, 0, 0, 0, 0, 0]) + Data(repeating: 0x20, count: 12),
               field: "header length", .headerLengthExceedsFile(declared: 1000, available: 12)),
    Corruption("header length 2^64-1", Data(repeating: 0xFF, count: 8) + Data("{}".utf8),
               field: "header length", .headerLengthExceedsFile(declared: UInt64.max, available: 2)),
    Corruption("valid file cut inside its header", valid.prefix(40),
               field: "header length", .headerLengthExceedsFile(declared: 112, available: 32)),
    Corruption("valid file cut inside its data", valid.dropLast(1),
               field: "b.data_offsets", .offsetsOutOfRange(begin: 8, end: 32, bufferSize: 31)),
    Corruption("invalid JSON", file(header: #"{"w": {"dtype": "F32", "#, data: []), field: "header", kindName: "invalidJSON"),
    Corruption("header not UTF-8", file(headerBytes: Array(#"{""#.utf8) + [0xFF] + Array(#"":{}}"#.utf8), data: []),
               field: "header", .invalidJSON("header is not valid UTF-8")),
    Corruption("header is an array", file(header: "[1, 2]", data: []), field: "header", .invalidJSON("header is not a JSON object")),
    Corruption("missing dtype", file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: one),
               field: "w.dtype", .malformedEntry("missing field 'dtype'")),
    Corruption("shape is a string", file(header: #"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#, data: one),
               field: "w.shape", kindName: "malformedEntry"),
    Corruption("metadata value not a string", file(header: #"{"__metadata__":{"epoch":3}}"#, data: []),
               field: "__metadata__.epoch", kindName: "malformedEntry"),
    Corruption("unknown dtype", file(header: #"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: one),
               field: "w.dtype", .unknownDType("F16")),
    Corruption("shape disagrees with offsets", file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: one),
               field: "w.data_offsets", .shapeMismatch(shape: [2], dtype: .float32, dataBytes: 4)),
    Corruption("negative dimension", file(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: one),
               field: "w.shape", .invalidShape([-1])),
    Corruption("overflowing shape", file(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: one),
               field: "w.shape", .invalidShape([4_294_967_296, 4_294_967_296])),
    Corruption("end before begin", file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: one),
               field: "w.data_offsets", .invalidOffsets([4, 0])),
    Corruption("three offsets", file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, data: one),
               field: "w.data_offsets", .invalidOffsets([0, 4, 8])),
    Corruption("offsets past the buffer", file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: one),
               field: "w.data_offsets", .offsetsOutOfRange(begin: 0, end: 8, bufferSize: 4)),
    Corruption("overlapping tensors",
               file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: one + one),
               field: "b.data_offsets", .overlappingOffsets(begin: 4, end: 8, other: "a", otherBegin: 0, otherEnd: 8)),
    Corruption("gap between tensors",
               file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: one + one + one),
               field: "b.data_offsets", .gapBeforeData(begin: 8, previousEnd: 4)),
    Corruption("trailing bytes", file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: one + one),
               field: "data", .unusedBytes(dataEnd: 4, bufferSize: 8)),
]

@Suite struct SafetensorsCorruption {
    @Test(arguments: corruptions)
    func corruptFileGivesTypedError(_ c: Corruption) throws {
        let source = "runs/demo/corrupt.safetensors"
        let error = try #require(throws: SafetensorsError.self) { try Safetensors.decode(c.data, source: source) }
        #expect(error.source == source)
        #expect(error.field == c.field)
        if let kind = c.kind { #expect(error.kind == kind) }
        #expect(Corruption.caseName(error.kind) == c.kindName)
        #expect(error.description.hasPrefix("\(source): \(c.field): "))
    }

    @Test func descriptionsReadWell() {
        let e = SafetensorsError(source: "m.safetensors", field: "w.data_offsets",
                                 kind: .shapeMismatch(shape: [2, 3], dtype: .float32, dataBytes: 20))
        #expect(e.description == "m.safetensors: w.data_offsets: shape [2, 3] of F32 needs 6 × 4 = 24 bytes, data_offsets span 20")
        let d = SafetensorsError(source: "m.safetensors", field: "w.dtype", kind: .unknownDType("BF16"))
        #expect(d.description == "m.safetensors: w.dtype: unknown dtype 'BF16' (supported: F32, F64)")
    }
}
