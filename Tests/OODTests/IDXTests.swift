import Foundation
import Testing
import NN
import Tensor
import TestSupport
@testable import OOD

// MARK: - Helpers that build files from the format specs

/// CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), as the gzip trailer needs.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
private func be32(_ v: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// One gzip member (RFC 1952) whose deflate stream (RFC 1951) uses stored blocks only.
private func gzip(_ payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]  // ID1 ID2 CM=deflate FLG MTIME XFL OS
    var start = 0
    repeat {
        let n = min(65_535, payload.count - start)
        let final: UInt8 = start + n == payload.count ? 1 : 0
        out.append(final)  // BFINAL, BTYPE = 00 (stored), rest of the byte is padding
        out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += payload[start..<(start + n)]
        start += n
    } while start < payload.count
    return out + le32(crc32(payload)) + le32(UInt32(truncatingIfNeeded: payload.count))
}

/// An IDX file: big-endian magic, big-endian sizes, then the bytes.
private func idx(magic: UInt32, dimensions: [Int], data: [UInt8]) -> [UInt8] {
    be32(magic) + dimensions.flatMap { be32(UInt32($0)) } + data
}

private func write(_ bytes: [UInt8], _ dir: String, _ name: String) throws -> String {
    let path = (dir as NSString).appendingPathComponent(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Three 2×2 images with pixels 0...11 and labels 9, 0, 3.
private let smallImages = idx(magic: 0x0803, dimensions: [3, 2, 2], data: Array(0..<12))
private let smallLabels = idx(magic: 0x0801, dimensions: [3], data: [9, 0, 3])

/// Writes a Fashion-MNIST-shaped split (the real file names) with the given raw file contents.
private func writeSplit(_ dir: String, _ split: FashionMNIST.Split, images: [UInt8], labels: [UInt8]) throws -> (images: String, labels: String) {
    (try write(images, dir, split.imagesFile), try write(labels, dir, split.labelsFile))
}

/// The error `load` throws for the given file contents (fails the test if it does not throw).
private func loadError(images: [UInt8], labels: [UInt8], sourceLocation: SourceLocation = #_sourceLocation)
throws -> (error: DataError, images: String, labels: String) {
    try withTemporaryDirectory { dir in
        let paths = try writeSplit(dir.path, .test, images: images, labels: labels)
        let error = try #require(throws: DataError.self, sourceLocation: sourceLocation) {
            try FashionMNIST.load(.test, directory: dir.path)
        }
        #expect(error.description.hasPrefix(error.path + ": "), sourceLocation: sourceLocation)
        return (error, paths.images, paths.labels)
    }
}

// MARK: - The installed data set

private let installed = FileManager.default.fileExists(
    atPath: (FashionMNIST.defaultDirectory as NSString).appendingPathComponent("train-images-idx3-ubyte.gz"))

/// The real files from Debian's dataset-fashion-mnist (see .ci for the install step).
@Suite(.serialized) struct FashionMNISTInstalled {
    @Test func trainSplitHas6000ImagesPerClass() throws {
        let train = try FashionMNIST.load(.train, directory: FashionMNIST.defaultDirectory)
        // reference: Xiao et al. 2017, Table 1: 60,000 training images, 6,000 per class, 28×28
        #expect(train.count == 60_000)
        #expect(train.height == 28 && train.width == 28)
        #expect(train.images.count == 60_000 * 28 * 28)
        #expect(train.labels.allSatisfy { $0 < 10 })
        var counts = [Int](repeating: 0, count: 10)
        for l in train.labels { counts[Int(l)] += 1 }
        #expect(counts == [Int](repeating: 6_000, count: 10))
        // reference: `zcat train-labels-idx1-ubyte.gz | xxd | head -1` → 0000 0801 0000 ea60 0900 0003 ...
        #expect(Array(train.labels.prefix(4)) == [9, 0, 0, 3])
        #expect(FashionMNIST.classNames[Int(train.labels[0])] == "Ankle boot")

        let x = train.tensor(indices: [0, 59_999])
        #expect(x.shape == [2, 1, 28, 28])
        #expect(x.dtype == .float32)
        let values = x.scalars
        #expect(values.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Pixel (14, 14) of image 59 999 is stored at 59_999·784 + 14·28 + 14.
        let pixel: Int = 14 * 28 + 14
        let stored: UInt8 = train.images[59_999 * 784 + pixel]
        #expect(values[784 + pixel] == Float(stored) / 255)
    }

    @Test func testSplitHas1000ImagesPerClass() throws {
        let test = try FashionMNIST.load(.test, directory: FashionMNIST.defaultDirectory)
        #expect(test.count == 10_000)
        #expect(test.height == 28 && test.width == 28)
        #expect(test.labels.allSatisfy { $0 < 10 })
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels { counts[Int(l)] += 1 }
        #expect(counts == [Int](repeating: 1_000, count: 10))
        // reference: `zcat t10k-labels-idx1-ubyte.gz | xxd | head -1` → 0000 0801 0000 2710 0902 0101 0601 ...
        #expect(Array(test.labels.prefix(6)) == [9, 2, 1, 1, 6, 1])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")))
    func checksumConstantsMatchTheInstalledFiles() throws {
        for split in FashionMNIST.Split.allCases {
            for (file, expected) in [(split.imagesFile, split.imagesSHA256), (split.labelsFile, split.labelsSHA256)] {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
                process.arguments = [(FashionMNIST.defaultDirectory as NSString).appendingPathComponent(file)]
                let pipe = Pipe()
                process.standardOutput = pipe
                try process.run()
                let output = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let digest = String(decoding: output, as: UTF8.self).prefix(64)
                #expect(digest == expected, "\(file)")
            }
        }
    }
}

// MARK: - Directory resolution

@Suite struct FashionMNISTDirectory {
    @Test func explicitOptionWinsOverEnvironment() throws {
        try withTemporaryDirectory { dir in
            #expect(FashionMNIST.directory(override: dir.path, environment: ["FLOWOOD_DATA": "/elsewhere"]) == dir.path)
        }
    }

    @Test func environmentRootWithSubfolder() throws {
        try withTemporaryDirectory { root in
            let sub = (root.path as NSString).appendingPathComponent("fashion-mnist")
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            #expect(FashionMNIST.directory(override: nil, environment: ["FLOWOOD_DATA": root.path]) == sub)
            #expect(FashionMNIST.directory(override: "", environment: ["FLOWOOD_DATA": root.path]) == sub)
        }
    }

    @Test func environmentDirectoryHoldingTheFiles() throws {
        try withTemporaryDirectory { root in
            #expect(FashionMNIST.directory(override: nil, environment: ["FLOWOOD_DATA": root.path]) == root.path)
        }
    }

    @Test func defaultWhenNothingIsSet() {
        #expect(FashionMNIST.directory(override: nil, environment: [:]) == "/usr/share/datasets/fashion-mnist")
        #expect(FashionMNIST.directory(override: nil, environment: ["FLOWOOD_DATA": ""]) == FashionMNIST.defaultDirectory)
    }
}

// MARK: - Small files built in the test

@Suite struct IDXParsing {
    @Test func smallSplitLoads() throws {
        let data = try withTemporaryDirectory { dir in
            _ = try writeSplit(dir.path, .test, images: gzip(smallImages), labels: gzip(smallLabels))
            return try FashionMNIST.load(.test, directory: dir.path)
        }
        #expect(data.count == 3)
        #expect(data.height == 2 && data.width == 2)
        #expect(data.images == Array(0..<12))
        #expect(data.labels == [9, 0, 3])

        let x = data.tensor(indices: [2, 0, 2])
        #expect(x.shape == [3, 1, 2, 2])
        let pixels: [Float] = [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]
        #expect(x.scalars == pixels.map { $0 / 255 })
        #expect(data.tensor(indices: 1..<2, scale: .byteValues).scalars == [4, 5, 6, 7])
        let standardized = data.tensor(indices: [0], scale: .standardized(mean: 0.5, std: 0.25)).scalars
        let expected: [Float] = [0, 1, 2, 3].map { (p: Float) -> Float in (p / 255 - 0.5) / 0.25 }
        #expect(standardized == expected)
    }

    @Test func multiMemberGzipIsConcatenated() throws {
        let payload = Array(smallImages)
        let twoMembers = gzip(Array(payload[..<7])) + gzip(Array(payload[7...]))
        #expect(try Gzip.decompress(Data(twoMembers), path: "two.gz") == payload)
    }

    @Test func largePayloadSpansSeveralBlocks() throws {
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try Gzip.decompress(Data(gzip(payload)), path: "big.gz") == payload)
    }

    @Test func emptyPayload() throws {
        #expect(try Gzip.decompress(Data(gzip([])), path: "empty.gz") == [])
    }

    @Test func parseReadsBigEndianDimensions() throws {
        let array = try IDX.parse(idx(magic: 0x0803, dimensions: [1, 256, 3], data: Array(repeating: 7, count: 768)),
                                  path: "x", expecting: IDX.imagesMagic)
        #expect(array.dimensions == [1, 256, 3])
        #expect(array.bytes.count == 768)
    }
}

@Suite struct IDXErrors {
    @Test func missingFileSaysWhichPackageProvidesIt() throws {
        try withTemporaryDirectory { dir in
            let error = try #require(throws: DataError.self) { try FashionMNIST.load(.train, directory: dir.path) }
            #expect(error.path == (dir.path as NSString).appendingPathComponent("train-images-idx3-ubyte.gz"))
            #expect(error.kind == .missing(hint: FashionMNIST.installHint))
            #expect(error.description.contains(error.path))
            #expect(error.description.contains("apt-get install dataset-fashion-mnist"))
            #expect(error.description.contains("FLOWOOD_DATA"))
            #expect(error.description.contains("--data-dir"))
        }
    }

    @Test func notGzip() throws {
        let (error, images, _) = try loadError(images: smallImages, labels: gzip(smallLabels))
        #expect(error.path == images)
        #expect(error.kind == .notGzip(firstBytes: [0x00, 0x00, 0x08, 0x03]))
        #expect(error.description.contains("not a gzip file"))
    }

    @Test func emptyFileIsNotGzip() throws {
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: [])
        #expect(error.path == labels)
        #expect(error.kind == .notGzip(firstBytes: []))
    }

    @Test func corruptChecksum() throws {
        var bytes = gzip(smallLabels)
        bytes[bytes.count - 8] ^= 0xFF  // first byte of the CRC-32
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: bytes)
        #expect(error.path == labels)
        // reference: zlib inflate.c reports a CRC mismatch as "incorrect data check"
        #expect(error.kind == .corruptGzip("incorrect data check"))
    }

    @Test func corruptDeflateData() throws {
        var bytes = gzip(smallLabels)
        bytes[10] = 0x07  // BTYPE = 11, reserved
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: bytes)
        #expect(error.path == labels)
        // reference: zlib inflate.c, "invalid block type"
        #expect(error.kind == .corruptGzip("invalid block type"))
    }

    @Test func trailingGarbageAfterGzip() throws {
        let (error, images, _) = try loadError(images: gzip(smallImages) + [1, 2, 3], labels: gzip(smallLabels))
        #expect(error.path == images)
        guard case .corruptGzip(let reason) = error.kind else { Issue.record("got \(error.kind)"); return }
        #expect(reason.contains("3 bytes of trailing data"))
    }

    @Test func truncatedGzip() throws {
        let bytes = gzip(smallImages)
        let (error, images, _) = try loadError(images: Array(bytes.dropLast(6)), labels: gzip(smallLabels))
        #expect(error.path == images)
        #expect(error.kind == .truncatedGzip(decompressedBytes: smallImages.count))
        #expect(error.description.contains("truncated"))
    }

    @Test func truncatedIDXData() throws {
        let short = Array(smallImages.dropLast())
        let (error, images, _) = try loadError(images: gzip(short), labels: gzip(smallLabels))
        #expect(error.path == images)
        // 16 header bytes + 3·2·2 pixels
        #expect(error.kind == .truncated(expectedBytes: 28, foundBytes: 27))
    }

    @Test func truncatedIDXHeader() throws {
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: gzip([0, 0, 8, 1, 0, 0]))
        #expect(error.path == labels)
        #expect(error.kind == .truncated(expectedBytes: 8, foundBytes: 6))
    }

    @Test func trailingIDXBytes() throws {
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: gzip(smallLabels + [0]))
        #expect(error.path == labels)
        #expect(error.kind == .trailingBytes(expectedBytes: 11, foundBytes: 12))
    }

    @Test func wrongMagicPrintsExpectedAndFoundInHex() throws {
        // The labels file where the images file should be.
        let (error, images, _) = try loadError(images: gzip(smallLabels), labels: gzip(smallLabels))
        #expect(error.path == images)
        #expect(error.kind == .wrongMagic(expected: 0x0803, found: 0x0801))
        #expect(error.description == "\(images): wrong IDX magic number: expected 0x00000803 (ubyte, 3 dimensions), found 0x00000801 (ubyte, 1 dimension)")
    }

    @Test func countMismatchBetweenImagesAndLabels() throws {
        let twoLabels = idx(magic: 0x0801, dimensions: [2], data: [1, 2])
        let (error, images, labels) = try loadError(images: gzip(smallImages), labels: gzip(twoLabels))
        #expect(error.path == images)
        #expect(error.kind == .countMismatch(images: 3, labels: 2, labelsPath: labels))
    }

    @Test func labelOutOfRange() throws {
        let bad = idx(magic: 0x0801, dimensions: [3], data: [1, 10, 2])
        let (error, _, labels) = try loadError(images: gzip(smallImages), labels: gzip(bad))
        #expect(error.path == labels)
        #expect(error.kind == .labelOutOfRange(index: 1, label: 10, classes: 10))
    }
}
