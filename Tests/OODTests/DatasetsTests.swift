import CZlib
import Foundation
import Testing
import Tensor
import TestSupport
@testable import OOD

// MARK: - PNG files built from the specification (ISO/IEC 15948)

private func be32(_ v: Int) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// A chunk: length, type, data, and a CRC field (zeros; the decoder does not check CRCs).
private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    be32(data.count) + Array(type.utf8) + data + [0, 0, 0, 0]
}

/// zlib's deflate (level 9) of `bytes`, as a zlib stream (RFC 1950).
private func zlibCompress(_ bytes: [UInt8]) -> [UInt8] {
    var size = compressBound(uLong(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let status = out.withUnsafeMutableBufferPointer { o in
        bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress!, &size, i.baseAddress, uLong(i.count), 9) }
    }
    precondition(status == Z_OK, "compress2: \(status)")
    return Array(out.prefix(Int(size)))
}

/// Applies PNG filter `type` to `row` given the unfiltered row above (`prior`, zeros for row 0).
private func filter(_ type: UInt8, row: [UInt8], prior: [UInt8], bpp: Int) -> [UInt8] {
    (0..<row.count).map { i in
        let a = i >= bpp ? Int(row[i - bpp]) : 0, b = Int(prior[i]), c = i >= bpp ? Int(prior[i - bpp]) : 0
        let predictor: Int
        switch type {
        case 0: predictor = 0
        case 1: predictor = a
        case 2: predictor = b
        case 3: predictor = (a + b) / 2
        default:
            let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
            predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
        }
        return UInt8(truncatingIfNeeded: Int(row[i]) - predictor)
    }
}

/// A PNG of `rows` (each `width × channels` samples), scanline y filtered with `filters[y % 5]`.
private func png(width: Int, colourType: UInt8, channels: Int, rows: [[UInt8]],
                 filters: [UInt8] = [0, 1, 2, 3, 4]) -> [UInt8] {
    var raw: [UInt8] = []
    var prior = [UInt8](repeating: 0, count: width * channels)
    for (y, row) in rows.enumerated() {
        let type = filters[y % filters.count]
        raw.append(type)
        raw += filter(type, row: row, prior: prior, bpp: channels)
        prior = row
    }
    let ihdr = be32(width) + be32(rows.count) + [8, colourType, 0, 0, 0]
    return PNG.signature + chunk("IHDR", ihdr) + chunk("tEXt", Array("Comment\0test".utf8))
        + chunk("IDAT", zlibCompress(raw)) + chunk("IEND", [])
}

/// Deterministic varied samples: enough structure that every filter sees nonzero a, b and c.
private func samples(width: Int, height: Int, channels: Int) -> [[UInt8]] {
    (0..<height).map { y in (0..<(width * channels)).map { i in UInt8(truncatingIfNeeded: 37 * y + 11 * i + (y * i) % 7 + 200) } }
}

private let skimage = SkimageCrops.defaultDirectory

@Suite struct DatasetsTests {
    // MARK: Digits

    @Test func digitsLoadAll1797WithLabelsAndLevels() throws {
        let digits = try Digits.load(path: Digits.defaultPath)
        #expect(digits.count == 1_797)
        #expect(digits.images.count == 1_797 * 64)
        #expect(Set(digits.labels) == Set(0...9))
        #expect(digits.images.allSatisfy { $0 <= 16 })
        // reference: python3 zcat digits.csv.gz | head -1 → "0,0,5,13,9,1,0,0,...,0" (label 0)
        #expect(Array(digits.images.prefix(8)) == [0, 0, 5, 13, 9, 1, 0, 0])
        #expect(digits.labels[0] == 0)
        // reference: python3 count per label = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        #expect((0...9).map { k in digits.labels.filter { $0 == k }.count } == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    }

    @Test func digitsMNISTStyleIs28x28WithEmptyBorder() throws {
        let mnist = try Digits.load(path: Digits.defaultPath).mnistStyle()
        #expect(mnist.count == 1_797 && mnist.height == 28 && mnist.width == 28)
        #expect(mnist.images.max() == 255)
        var borderSum = 0
        for i in 0..<mnist.count {
            let image = mnist.images[(i * 784)..<((i + 1) * 784)]
            #expect(image.max()! > 0)
            for y in 0..<28 {
                for x in 0..<28 where y < 4 || y >= 24 || x < 4 || x >= 24 {
                    borderSum += Int(image[i * 784 + y * 28 + x])
                }
            }
        }
        #expect(borderSum == 0)
    }

    @Test func digitsAreaResamplingOfAFullSquare() {
        // One image with only source pixel (0, 0) at level 16: box pixels (0,0),(0,1),(1,0),(1,1)
        // lie inside it (255); box pixel (2, 2) covers [0.8, 1.2)² → area 0.04 of 0.16 → 255/4.
        var pixels = [UInt8](repeating: 0, count: 64)
        pixels[0] = 16
        let out = Digits(images: pixels, labels: [3]).mnistStyle()
        #expect(out.images[4 * 28 + 4] == 255 && out.images[5 * 28 + 5] == 255)
        #expect(out.images[6 * 28 + 6] == 64)  // round(255 × 0.25) = 63.75 → 64
        #expect(out.images[7 * 28 + 7] == 0)
        #expect(out.labels == [3])
    }

    @Test func digitsPathResolution() throws {
        #expect(Digits.path(override: "/x/d.csv.gz", environment: ["FLOWOOD_DATA": "/nope"]) == "/x/d.csv.gz")
        #expect(Digits.path(override: nil, environment: [:]) == Digits.defaultPath)
        try withTemporaryDirectory { dir in
            let sub = dir.appendingPathComponent("sklearn-digits")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            #expect(Digits.path(environment: ["FLOWOOD_DATA": dir.path]) == Digits.defaultPath)
            let file = sub.appendingPathComponent("digits.csv.gz")
            try Data([1]).write(to: file)
            #expect(Digits.path(environment: ["FLOWOOD_DATA": dir.path]) == file.path)
        }
    }

    @Test func digitsMissingFileNamesThePackage() {
        let error = #expect(throws: DataError.self) { try Digits.load(path: "/nonexistent/digits.csv.gz") }
        #expect(error?.description.contains("/nonexistent/digits.csv.gz") == true)
        #expect(error?.description.contains("apt-get install python3-sklearn") == true)
        #expect(error?.description.contains("pip install scikit-learn") == true)
    }

    @Test func digitsBadRowsNameFileAndLine() throws {
        let good = (Array(repeating: "0", count: 64) + ["7"]).joined(separator: ",")
        let short = Array(repeating: "1", count: 64).joined(separator: ",")
        let error = #expect(throws: CSVError.self) {
            try Digits.parse(Array((good + "\n" + short + "\n").utf8), path: "d.csv")
        }
        #expect(error?.description == "d.csv:2: expected 65 comma-separated values, found 64")
        let high = #expect(throws: CSVError.self) {
            try Digits.parse(Array(("17," + good.dropFirst(2)).utf8), path: "d.csv")
        }
        #expect(high?.kind == .outOfRange(field: 1, value: 17, range: 0...16))
        #expect(try Digits.parse(Array((good + "\r\n" + good).utf8), path: "d.csv").labels == [7, 7])
        #expect(try Digits.parse(Array((good.replacingOccurrences(of: ",7", with: ",7.0")).utf8), path: "d").labels == [7])
    }

    // MARK: PNG

    @Test(arguments: [(UInt8(0), 1), (2, 3), (4, 2), (6, 4)])
    func pngDecodesEveryColourTypeAndFilter(colourType: UInt8, channels: Int) throws {
        let width = 7, height = 10  // 10 rows: each of the 5 filters used twice
        let rows = samples(width: width, height: height, channels: channels)
        let image = try PNG.decode(png(width: width, colourType: colourType, channels: channels, rows: rows), path: "t.png")
        #expect(image.width == width && image.height == height)
        for y in 0..<height {
            for x in 0..<width {
                let s = rows[y][(x * channels)..<((x + 1) * channels)].map(Int.init)
                let expected = channels >= 3
                    ? UInt8((299 * s[0] + 587 * s[1] + 114 * s[2] + 500) / 1000)
                    : UInt8(s[0])
                #expect(image[x, y] == expected, "pixel (\(x), \(y))")
            }
        }
    }

    @Test func pngLumaIsRoundedBT601() throws {
        // 0.299·213 + 0.587·201 + 0.114·201 = 204.588 → 205 (as PIL's convert("L") on astronaut.png)
        let image = try PNG.decode(png(width: 1, colourType: 2, channels: 3, rows: [[213, 201, 201]]), path: "t.png")
        #expect(image.pixels == [205])
    }

    @Test func pngRealSkimageFiles() throws {
        // reference: python3 PIL Image.open(f).size (width, height) and getpixel((w // 2, h // 3)),
        // converted with .convert("L") for RGB files.
        let cases: [(String, Int, Int, UInt8)] = [
            ("camera.png", 512, 512, 218), ("coins.png", 384, 303, 66), ("brick.png", 512, 512, 106),
            ("astronaut.png", 512, 512, 205), ("chelsea.png", 451, 300, 150), ("coffee.png", 600, 400, 152),
        ]
        for (file, w, h, centre) in cases {
            let image = try PNG.read(path: skimage + "/" + file)
            #expect(image.width == w && image.height == h, "\(file)")
            #expect(image[w / 2, h / 3] == centre, "\(file)")
        }
        // reference: PIL camera.png getpixel((0, 0)) = 200, getpixel((511, 511)) = 149
        let camera = try PNG.read(path: skimage + "/camera.png")
        #expect(camera[0, 0] == 200 && camera[511, 511] == 149)
    }

    @Test func pngBadSignatureNamesTheFile() {
        let error = #expect(throws: PNGError.self) { try PNG.decode(Array("GIF89a..".utf8), path: "bad.png") }
        #expect(error?.kind == .badSignature(firstBytes: Array("GIF89a..".utf8)))
        #expect(error?.description.hasPrefix("bad.png: not a PNG file") == true)
    }

    @Test func pngTruncatedFilesNameTheFile() throws {
        let good = png(width: 4, colourType: 0, channels: 1, rows: samples(width: 4, height: 4, channels: 1))
        // Cut inside the IDAT chunk: its declared length runs past the end.
        let cut = Array(good.prefix(good.count - 20))
        let error = #expect(throws: PNGError.self) { try PNG.decode(cut, path: "cut.png") }
        #expect(error?.description.hasPrefix("cut.png: PNG is truncated") == true)
        // No IEND.
        let noEnd = #expect(throws: PNGError.self) { try PNG.decode(Array(good.prefix(good.count - 12)), path: "e.png") }
        #expect(noEnd?.kind == .missingEnd)
        // Image data for fewer rows than IHDR declares.
        var tall = good
        tall[16 + 7] = 5  // height 4 → 5
        let short = #expect(throws: PNGError.self) { try PNG.decode(tall, path: "s.png") }
        #expect(short?.kind == .wrongDataSize(expected: 25, found: 20))
        // A real file cut in half, read from disk.
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("half.png").path
            let bytes = try Data(contentsOf: URL(fileURLWithPath: skimage + "/camera.png"))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: PNGError.self) { try PNG.read(path: path) }
            #expect(error?.description.contains(path) == true)
        }
        let missing = #expect(throws: DataError.self) { try PNG.read(path: "/nonexistent/x.png") }
        #expect(missing?.path == "/nonexistent/x.png")
    }

    @Test func pngRejectsUnsupportedHeaders() {
        var palette = png(width: 2, colourType: 0, channels: 1, rows: [[1, 2]])
        palette[16 + 9] = 3
        #expect(throws: PNGError(path: "p.png", kind: .unsupported("colour type 3 (palette)"))) {
            try PNG.decode(palette, path: "p.png")
        }
        var deep = png(width: 2, colourType: 0, channels: 1, rows: [[1, 2]])
        deep[16 + 8] = 16
        #expect(throws: PNGError(path: "d.png", kind: .unsupported("bit depth 16 (only 8 is handled)"))) {
            try PNG.decode(deep, path: "d.png")
        }
    }

    // MARK: skimage crops

    @Test func textureCropsAre28x28AndSeeded() throws {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), c = SeededGenerator(seed: 8)
        let first = try SkimageCrops.textures(count: 30, directory: skimage, using: &a)
        let again = try SkimageCrops.textures(count: 30, directory: skimage, using: &b)
        let other = try SkimageCrops.textures(count: 30, directory: skimage, using: &c)
        #expect(first.count == 30 && first.height == 28 && first.width == 28)
        #expect(first.images == again.images && first.labels == again.labels)
        #expect(first.images != other.images)
        #expect(first.labels == (0..<30).map { UInt8($0 % 3) })
    }

    @Test func photoCropsComeFromEveryPhoto() throws {
        var rng = SeededGenerator(seed: 1)
        let photos = try SkimageCrops.photos(count: 12, directory: skimage, using: &rng)
        #expect(photos.count == 12 && photos.height == 28 && photos.width == 28)
        #expect(Set(photos.labels) == Set(0..<6))
    }

    @Test func cropsCopyTheRightWindow() {
        // A 30×29 ramp: pixel (x, y) = x + 30 y mod 256; every 28×28 crop must be a window of it.
        let source = GreyImage(width: 30, height: 29, pixels: (0..<(30 * 29)).map { UInt8($0 % 256) })
        var rng = SeededGenerator(seed: 3)
        let set = SkimageCrops.crops(of: [source], count: 5, side: 28, using: &rng)
        for i in 0..<5 {
            // The corner (x0, y0) has value x0 + 30 y0 with x0 ∈ 0…2, y0 ∈ 0…1 (all < 256).
            let corner = Int(set.images[i * 784])
            #expect(corner % 30 <= 2 && corner / 30 <= 1)
            for y in 0..<28 {
                for x in 0..<28 where Int(set.images[i * 784 + y * 28 + x]) != (corner + x + 30 * y) % 256 {
                    Issue.record("crop \(i) pixel (\(x), \(y)) is not from the window at \(corner)")
                }
            }
        }
    }

    @Test func missingTexturesNameThePackage() {
        var rng = SeededGenerator(seed: 0)
        let error = #expect(throws: DataError.self) {
            try SkimageCrops.textures(count: 1, directory: "/nonexistent", using: &rng)
        }
        #expect(error?.path == "/nonexistent/brick.png")
        #expect(error?.description.contains("apt-get install python3-skimage") == true)
    }

    // MARK: Synthetic

    @Test func gaussianNoiseShapeRangeAndMoments() {
        var a = SeededGenerator(seed: 5), b = SeededGenerator(seed: 5)
        let set = Synthetic.gaussianNoise(count: 50, mean: 100, std: 20, using: &a)
        #expect(set.count == 50 && set.height == 28 && set.width == 28 && set.images.count == 50 * 784)
        #expect(set.images == Synthetic.gaussianNoise(count: 50, mean: 100, std: 20, using: &b).images)
        let values = set.images.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(mean - 100) < 0.5 && abs(sd - 20) < 0.5)  // 39 200 draws: s.e. of mean ≈ 0.1
        var c = SeededGenerator(seed: 5)
        let clipped = Synthetic.gaussianNoise(count: 10, mean: 250, std: 50, using: &c)
        #expect(clipped.images.contains(255) && clipped.images.contains { $0 < 200 })
    }

    @Test func uniformAndConstantImages() {
        var rng = SeededGenerator(seed: 9)
        let uniform = Synthetic.uniformNoise(count: 20, height: 28, width: 28, using: &rng)
        #expect(uniform.images.count == 20 * 784 && uniform.images.min()! < 5 && uniform.images.max()! > 250)
        let constant = Synthetic.constant(count: 20, using: &rng)
        #expect(constant.count == 20 && constant.height == 28)
        for i in 0..<20 {
            #expect(Set(constant.images[(i * 784)..<((i + 1) * 784)]).count == 1)
        }
        #expect(Set(constant.images).count > 10)
    }

    @Test func invertedAndFlipped() {
        let set = LabeledImages(images: [0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 255], labels: [4, 8], height: 3, width: 2)
        let inverted = Synthetic.inverted(set)
        #expect(inverted.images == [255, 254, 253, 252, 251, 250, 245, 235, 225, 215, 205, 0])
        #expect(inverted.labels == [4, 8])
        let flipped = Synthetic.verticallyFlipped(set)
        #expect(flipped.images == [4, 5, 2, 3, 0, 1, 50, 255, 30, 40, 10, 20])
        #expect(Synthetic.verticallyFlipped(flipped).images == set.images)
        var rng = SeededGenerator(seed: 2)
        let sub = Synthetic.sample(set, size: 1, using: &rng)
        #expect(sub.count == 1 && (sub.images == Array(set.images[0..<6]) || sub.images == Array(set.images[6..<12])))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.directory(override: nil) + "/" + FashionMNIST.Split.test.imagesFile),
                   "dataset-fashion-mnist is not installed"))
    func transformedFashionMNISTWhenInstalled() throws {
        let dir = FashionMNIST.directory(override: nil)
        let test = try FashionMNIST.load(.test, directory: dir)
        var rng = SeededGenerator(seed: 0)
        let sample = Synthetic.sample(test, size: 100, using: &rng)
        let inverted = Synthetic.inverted(sample), flipped = Synthetic.verticallyFlipped(sample)
        #expect(inverted.count == 100 && flipped.height == 28 && flipped.width == 28)
        #expect(zip(inverted.images, sample.images).allSatisfy { Int($0) + Int($1) == 255 })
    }
}
