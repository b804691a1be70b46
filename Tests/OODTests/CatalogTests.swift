import Foundation
import Testing
import NN
import Tensor
import TestSupport
@testable import OOD

@Suite struct SHA256Tests {
    // reference: FIPS 180-4 example vectors (NIST CSRC "SHA256.pdf") and `sha256sum`.
    @Test func publishedVectors() {
        #expect(SHA256.hash("").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // 55 and 56 bytes straddle the one-block / two-block padding boundary.
        // reference: printf 'a%.0s' {1..55} | sha256sum; likewise for 56 and 64.
        #expect(SHA256.hash(String(repeating: "a", count: 55)).hex == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hash(String(repeating: "a", count: 56)).hex == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(SHA256.hash(String(repeating: "a", count: 64)).hex == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func incrementalUpdatesEqualOneShot() {
        var rng = SeededGenerator(seed: 5)
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for cuts in [[0, 1000], [1, 63, 64, 65, 200], [63, 127, 999], [500]] {
            var h = SHA256()
            var start = 0
            for cut in cuts + [1000] where cut >= start {
                h.update(Array(bytes[start..<cut]))
                start = cut
            }
            #expect(h.finalize() == SHA256.hash(bytes), "cuts \(cuts)")
        }
    }

    @Test(.enabled(if: installed(Digits.defaultPath), "python3-sklearn is not installed"))
    func fileHashMatchesTheDocumentedDigitsChecksum() throws {
        #expect(try SHA256.hash(fileAt: Digits.defaultPath).hex == Digits.sha256)
    }

    // reference: sha256sum /usr/lib/python3/dist-packages/sklearn/datasets/data/{breast_cancer,wine_data}.csv
    // (python3-sklearn 1.2.1, Debian bookworm).
    @Test(.enabled(if: installed(sklearnPath(.breastCancer)), "python3-sklearn is not installed"))
    func fileHashMatchesTheDocumentedBreastCancerChecksum() throws {
        #expect(TabularDataset.breastCancer.sha256 == "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed")
        #expect(try SHA256.hash(fileAt: sklearnPath(.breastCancer)).hex == TabularDataset.breastCancer.sha256)
        // The catalog verifies it on load, and the file has the documented shape.
        let malignant = try DataSpec.tabular(.breastCancer, class: 0, .train).load()
        #expect(malignant.exampleShape == [30] && malignant.count == 212 - 64)  // round(0.3 · 212) = 64 test rows
    }

    @Test(.enabled(if: installed(sklearnPath(.wine)), "python3-sklearn is not installed"))
    func fileHashMatchesTheDocumentedWineChecksum() throws {
        #expect(try SHA256.hash(fileAt: sklearnPath(.wine)).hex == TabularDataset.wine.sha256)
    }
}

@Suite struct DataSpecKeys {
    static let all: [DataSpec] = [
        .fashionMNIST(.train), .fashionMNIST(.test), .digits, .textures, .photos, .gaussianNoise, .uniformNoise, .constant,
        .invertedFashionMNIST, .flippedFashionMNIST, .fashionMNISTClasses([0, 1, 2], .test), .fashionMNISTClasses([7], .train),
        .tabular(.wine, class: 1, .test), .tabular(.breastCancer, class: 0, .train),
    ]

    @Test func keysAreTheDocumentedOnesAndRoundTrip() throws {
        #expect(Self.all.map(\.key) == [
            "fashion-mnist-train", "fashion-mnist-test", "digits", "textures", "photos", "gaussian-noise", "uniform-noise",
            "constant", "fashion-mnist-inverted", "fashion-mnist-flipped", "fashion-mnist-classes-0-1-2-test",
            "fashion-mnist-classes-7-train", "tabular-wine-1-test", "tabular-breast-cancer-0-train",
        ])
        for spec in Self.all {
            #expect(try DataSpec(key: spec.key) == spec)
            let json = try JSONEncoder().encode([spec])
            #expect(String(decoding: json, as: UTF8.self) == "[\"\(spec.key)\"]")
            #expect(try JSONDecoder().decode([DataSpec].self, from: json) == [spec])
        }
    }

    @Test(arguments: ["mnist", "fashion-mnist", "fashion-mnist-classes-test", "fashion-mnist-classes-10-test",
                      "fashion-mnist-classes-1-1-test", "tabular-wine-3-test", "tabular-iris-0-test", "tabular-wine-0-val", ""])
    func badKeysAreRejected(_ key: String) {
        #expect(throws: DataSpecError.self) { try DataSpec(key: key) }
    }

    @Test func errorListsTheAcceptedForms() {
        let message = DataSpecError(key: "mnist").description
        #expect(message.contains("'mnist'") && message.contains("gaussian-noise") && message.contains("tabular-<breast-cancer|wine>"))
    }

    @Test func trainCounterparts() {
        #expect(DataSpec.fashionMNIST(.test).trainCounterpart == .fashionMNIST(.train))
        #expect(DataSpec.fashionMNISTClasses([3, 4], .test).trainCounterpart == .fashionMNISTClasses([3, 4], .train))
        #expect(DataSpec.tabular(.wine, class: 2, .test).trainCounterpart == .tabular(.wine, class: 2, .train))
        #expect(DataSpec.digits.trainCounterpart == nil && DataSpec.gaussianNoise.trainCounterpart == nil)
    }
}

private func installed(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
private func sklearnPath(_ set: TabularDataset) -> String { ScikitLearnData.path(of: set.fileName, dataRoot: nil) }
private let fashionTest = FashionMNIST.defaultDirectory + "/" + FashionMNIST.Split.test.imagesFile
private let fashionInstalled = installed(fashionTest)
private let skimageInstalled = SkimageCrops.photoFiles.allSatisfy { installed(SkimageCrops.defaultDirectory + "/" + $0) }

/// Expects a 28×28 image set with values in [0, 1] and `count` examples.
private func expectImages(_ set: LoadedDataset, count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(set.count == count, sourceLocation: sourceLocation)
    #expect(set.exampleShape == [1, 28, 28], sourceLocation: sourceLocation)
    let t = set.tensor(indices: 0..<Swift.min(count, 16))
    #expect(t.shape == [Swift.min(count, 16), 1, 28, 28], sourceLocation: sourceLocation)
    let v = t.scalars
    #expect(v.allSatisfy { $0 >= 0 && $0 <= 1 }, sourceLocation: sourceLocation)
}

@Suite struct DatasetCatalogTests {
    @Test func generatedSetsAreSeededAndSized() throws {
        for spec in [DataSpec.gaussianNoise, .uniformNoise, .constant] {
            let a = try spec.load(count: 20, seed: 1), b = try spec.load(count: 20, seed: 1), c = try spec.load(count: 20, seed: 2)
            expectImages(a, count: 20)
            #expect(a.images!.images == b.images!.images && a.images!.images != c.images!.images, "\(spec)")
            #expect(a.labels == nil && a.identity == "\(spec.key) count=20 seed=1")
            #expect(a.seed == 1 && a.sources == (0..<20).map { ExampleSource(source: "generated", index: $0) })
        }
        #expect(try DataSpec.constant.load(count: nil).count == DataSpec.defaultGeneratedCount)
        // Different sets with one seed use different streams.
        #expect(try DataSpec.uniformNoise.load(count: 5).images!.images != DataSpec.constant.load(count: 5).images!.images)
    }

    @Test(.enabled(if: fashionInstalled, "dataset-fashion-mnist is not installed"))
    func fashionMNISTSubsamplesAreSeededDistinctAndOrdered() throws {
        let all = try DataSpec.fashionMNIST(.test).load()
        expectImages(all, count: 10_000)
        let a = try DataSpec.fashionMNIST(.test).load(count: 50, seed: 3)
        let b = try DataSpec.fashionMNIST(.test).load(count: 50, seed: 3)
        let c = try DataSpec.fashionMNIST(.test).load(count: 50, seed: 4)
        expectImages(a, count: 50)
        #expect(a.images!.images == b.images!.images && a.images!.images != c.images!.images)
        #expect(a.labels!.allSatisfy { (0..<10).contains($0) })
        // Every subsampled image is a distinct image of the full set, in file order.
        let pixels = 784
        var positions: [Int] = []
        for i in 0..<50 {
            let image = Array(a.images!.images[(i * pixels)..<((i + 1) * pixels)])
            let match = (0..<10_000).first { j in all.images!.images[(j * pixels)..<((j + 1) * pixels)].elementsEqual(image) }
            positions.append(try #require(match))
        }
        #expect(positions == positions.sorted() && Set(positions).count == 50)
        // The catalog records those positions as the examples' indices in the IDX file.
        #expect(a.sourceIndices == positions)
        #expect(a.sources!.allSatisfy { $0.source == "t10k-images-idx3-ubyte.gz" && $0.cropX == nil })
        #expect(all.sourceIndices == Array(0..<10_000))
        // A count at or above the size returns the whole set.
        #expect(try DataSpec.fashionMNIST(.test).load(count: 20_000).count == 10_000)
    }

    @Test(.enabled(if: fashionInstalled, "dataset-fashion-mnist is not installed"))
    func transformedAndClassSubsets() throws {
        let plain = try DataSpec.fashionMNIST(.test).load(count: 30, seed: 7)
        let inverted = try DataSpec.invertedFashionMNIST.load(count: 30, seed: 7)
        let flipped = try DataSpec.flippedFashionMNIST.load(count: 30, seed: 7)
        expectImages(inverted, count: 30)
        expectImages(flipped, count: 30)
        // Undoing the transform gives images of the test set (the subset itself differs per key).
        let full = try DataSpec.fashionMNIST(.test).load()
        let pixels = 784
        func images(_ set: LabeledImages) -> [[UInt8]] {
            (0..<set.count).map { Array(set.images[($0 * pixels)..<(($0 + 1) * pixels)]) }
        }
        let known = Set(images(full.images!))
        #expect(images(plain.images!).allSatisfy(known.contains))
        #expect(images(Synthetic.inverted(inverted.images!)).allSatisfy(known.contains))
        #expect(images(Synthetic.verticallyFlipped(flipped.images!)).allSatisfy(known.contains))
        #expect(!images(inverted.images!).contains(where: known.contains))
        let classes = try DataSpec.fashionMNISTClasses([2, 5, 9], .test).load()
        #expect(classes.count == 3_000)
        #expect(Set(classes.labels!) == [0, 1, 2], "labels are positions in the class list")
        #expect(full.labels!.filter { [2, 5, 9].contains($0) }.map { [2: 0, 5: 1, 9: 2][$0]! } == classes.labels!)
        let sub = try DataSpec.fashionMNISTClasses([0, 1], .train).load(count: 40, seed: 1)
        #expect(sub.count == 40 && sub.labels!.allSatisfy { $0 == 0 || $0 == 1 })
        // Sources: the transformed and class sets point into the original files; undoing the
        // transform of example i gives image sources[i].index of the file.
        func image(_ set: LabeledImages, _ i: Int) -> [UInt8] { Array(set.images[(i * pixels)..<((i + 1) * pixels)]) }
        for i in 0..<30 {
            let j = inverted.sources![i].index
            #expect(inverted.sources![i].source == "t10k-images-idx3-ubyte.gz")
            #expect(image(Synthetic.inverted(inverted.images!), i) == image(full.images!, j))
            #expect(image(Synthetic.verticallyFlipped(flipped.images!), i) == image(full.images!, flipped.sources![i].index))
        }
        for (i, source) in classes.sources!.enumerated() {
            #expect(image(classes.images!, i) == image(full.images!, source.index) && [2, 5, 9].contains(full.labels![source.index]))
        }
        #expect(sub.sources!.allSatisfy { $0.source == "train-images-idx3-ubyte.gz" })
    }

    @Test(.enabled(if: installed(Digits.defaultPath), "python3-sklearn is not installed"))
    func digitsAreSubsampledWithTheirRows() throws {
        let digits = try DataSpec.digits.load(count: 40, seed: 1)
        expectImages(digits, count: 40)
        #expect(digits.labels!.allSatisfy { (0..<10).contains($0) })
        let all = try DataSpec.digits.load()
        #expect(all.count == Digits.publishedCount)
        // Example i is row sources[i].index of digits.csv.gz.
        let pixels = 784
        for (i, source) in digits.sources!.enumerated() {
            #expect(source.source == "digits.csv.gz")
            #expect(digits.images!.images[(i * pixels)..<((i + 1) * pixels)] == all.images!.images[(source.index * pixels)..<((source.index + 1) * pixels)])
            #expect(digits.labels![i] == all.labels![source.index])
        }
    }

    @Test(.enabled(if: skimageInstalled, "python3-skimage is not installed"))
    func texturesAndPhotosRecordWhereEachCropLies() throws {
        let textures = try DataSpec.textures.load(count: 30, seed: 1)
        expectImages(textures, count: 30)
        #expect(textures.labels! == (0..<30).map { $0 % 3 })
        #expect(try DataSpec.textures.load(count: 30, seed: 1).images!.images == textures.images!.images)
        let photos = try DataSpec.photos.load(count: 12, seed: 1)
        expectImages(photos, count: 12)
        #expect(Set(photos.labels!) == Set(0..<6), "every one of the six photos is used")
        // Cutting the recorded window out of the recorded file gives the crop.
        for set in [textures, photos] {
            for (i, source) in set.sources!.enumerated() {
                let image = try SkimageCrops.load(source.source, directory: SkimageCrops.defaultDirectory)
                let x = try #require(source.cropX), y = try #require(source.cropY)
                #expect(source.index == i)
                for row in 0..<28 {
                    let crop = set.images!.images[(i * 784 + row * 28)..<(i * 784 + row * 28 + 28)]
                    let window = image.pixels[((y + row) * image.width + x)..<((y + row) * image.width + x + 28)]
                    #expect(crop.elementsEqual(window), "\(set.key) crop \(i) row \(row) is not \(source.source) at (\(x), \(y))")
                }
            }
        }
        #expect(photos.sources!.map(\.source) == (0..<12).map { SkimageCrops.photoFiles[$0 % 6] })
    }

    @Test(.enabled(if: skimageInstalled, "python3-skimage is not installed"))
    func aMissingPhotoIsNamedWithItsPackage() throws {
        try withTemporaryDirectory { dir in
            let skimage = dir.appendingPathComponent("skimage")
            try FileManager.default.createDirectory(at: skimage, withIntermediateDirectories: true)
            for file in SkimageCrops.textureFiles + SkimageCrops.photoFiles where file != "coins.png" {
                try FileManager.default.copyItem(atPath: SkimageCrops.defaultDirectory + "/" + file, toPath: skimage.appendingPathComponent(file).path)
            }
            // Five of six photos present: an error naming coins.png, not a silently smaller set.
            let error = #expect(throws: DataError.self) { try DataSpec.photos.load(count: 6, dataDir: dir.path) }
            #expect(error?.path == skimage.appendingPathComponent("coins.png").path)
            #expect(error?.description.contains("apt-get install python3-skimage") == true)
            // The same without checksum verification (the decoder reports the missing file).
            let unverified = #expect(throws: DataError.self) { try DataSpec.photos.load(count: 6, dataDir: dir.path, verify: false) }
            #expect(unverified?.path == skimage.appendingPathComponent("coins.png").path)
            #expect(try DataSpec.textures.load(count: 3, dataDir: dir.path).count == 3)
        }
    }

    @Test func photoListIsExplicitAndRocketIsDocumentedAsMissing() {
        #expect(SkimageCrops.photoFiles == ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "moon.png"])
        #expect(DataSpec.photos.sourceFiles(dataDir: "/nowhere").map { ($0.path as NSString).lastPathComponent } == SkimageCrops.photoFiles)
        #expect(!SkimageCrops.photoFiles.contains { $0.hasPrefix("rocket") })
    }

    @Test(.enabled(if: installed(sklearnPath(.wine)), "python3-sklearn is not installed"))
    func tabularSplitsStandardisedWithInDistributionTrainStatistics() throws {
        let path = sklearnPath(.wine)
        let train = try DataSpec.tabular(.wine, class: 0, .train).load()
        let test = try DataSpec.tabular(.wine, class: 0, .test).load()
        // Class 0 has 59 rows: round(0.3 · 59) = 18 test rows, 41 train rows.
        #expect(train.count == 41 && test.count == 18 && train.exampleShape == [13])
        #expect(train.labels!.allSatisfy { $0 == 0 })
        guard case let .vectors(values, d) = train.content else { Issue.record("not vectors"); return }
        for j in 0..<d {
            let column = (0..<41).map { values[$0 * d + j] }
            let mean = column.reduce(0, +) / 41
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 41
            #expect(abs(mean) < 1e-12 && abs(variance - 1) < 1e-9, "feature \(j): mean \(mean), variance \(variance)")
        }
        // Train and test parts are disjoint and cover the class.
        let table = try TabularTable.load(path: path, expected: .wine)
        let trainRows = table.split(class: 0, .train), testRows = table.split(class: 0, .test)
        #expect(Set(trainRows).isDisjoint(with: testRows) && trainRows.count + testRows.count == 59)
        // The OOD class loaded like the ID set uses the ID statistics: raw = x·σ₀ + μ₀.
        let ood = try DataSpec.tabular(.wine, class: 1, .test).load(standardizeLike: .tabular(.wine, class: 0, .test))
        let standardizer = Standardizer(fittedOn: table.rows(trainRows), dimension: 13)
        guard case let .vectors(oodValues, _) = ood.content else { Issue.record("not vectors"); return }
        let raw = table.rows(table.split(class: 1, .test))
        expectClose(oodValues, standardizer.apply(raw), tolerance: 1e-12)
        #expect(ood.identity == "tabular-wine-1-test count=all seed=0 standardized-like=tabular-wine-0-test")
        let tensor = ood.tensor
        #expect(tensor.shape == [21, 13] && tensor.dtype == .float32)
        // Sources are the data rows of wine_data.csv (0-based, header not counted).
        #expect(ood.sources!.map(\.source) == Array(repeating: "wine_data.csv", count: 21))
        #expect(ood.sourceIndices == table.split(class: 1, .test))
        #expect(ood.sourceIndices!.allSatisfy { table.labels[$0] == 1 })
        let sub = try DataSpec.tabular(.wine, class: 1, .test).load(count: 5, seed: 2)
        #expect(sub.count == 5 && Set(sub.sourceIndices!).isSubset(of: table.split(class: 1, .test)))
    }

    @Test(.enabled(if: installed(sklearnPath(.wine)), "python3-sklearn is not installed"))
    func checksumMismatchIsAClearError() throws {
        let path = sklearnPath(.wine)
        try withTemporaryDirectory { dir in
            let sklearn = dir.appendingPathComponent("sklearn")
            try FileManager.default.createDirectory(at: sklearn, withIntermediateDirectories: true)
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // Change one digit of the first data row: still a valid file, different bytes.
            let i = bytes.firstIndex(of: UInt8(ascii: "\n"))! + 1
            bytes[i] = bytes[i] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            let copy = sklearn.appendingPathComponent("wine_data.csv")
            try Data(bytes).write(to: copy)
            do {
                _ = try DataSpec.tabular(.wine, class: 0, .train).load(dataDir: dir.path)
                Issue.record("a modified file was accepted")
            } catch let e as ChecksumError {
                #expect(e.path == copy.path && e.expected == TabularDataset.wine.sha256 && e.found == SHA256.hash(bytes).hex)
                #expect(e.description.contains("SHA-256 mismatch") && e.description.contains("pip install scikit-learn"))
            }
            // Without verification the modified (still well-formed) file loads.
            #expect(try DataSpec.tabular(.wine, class: 0, .train).load(dataDir: dir.path, verify: false).count == 41)
        }
    }

    @Test(.enabled(if: installed(sklearnPath(.breastCancer)), "python3-sklearn is not installed"))
    func truncatedCSVNamesTheProblem() throws {
        let path = sklearnPath(.breastCancer)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Cut after 100 complete lines: the header declares 569 rows.
        var newlines = 0
        let cut = bytes.firstIndex { b in if b == UInt8(ascii: "\n") { newlines += 1 }; return newlines == 101 }!
        #expect(throws: TabularDataError(path: "bc.csv", line: 0, kind: .rowCount(declared: 569, found: 100))) {
            try TabularTable.parse(Array(bytes[...cut]), path: "bc.csv", expected: .breastCancer)
        }
        // Cut inside a line: that line has too few values.
        let mid = Array(bytes[..<(cut - 20)])
        do {
            _ = try TabularTable.parse(mid, path: "bc.csv")
            Issue.record("a cut line was accepted")
        } catch {
            #expect(error.line == 101, "\(error)")
            if case .wrongFieldCount(let expected, _) = error.kind { #expect(expected == 31) } else { Issue.record("\(error)") }
        }
    }

    @Test func malformedTabularFiles() {
        func parse(_ s: String) throws(TabularDataError) -> TabularTable { try TabularTable.parse(Array(s.utf8), path: "t.csv") }
        #expect(throws: TabularDataError(path: "t.csv", line: 1, kind: .header("the file is empty"))) { try parse("") }
        #expect(throws: TabularDataError(path: "t.csv", line: 3, kind: .notANumber(field: 2, text: "x"))) {
            try parse("2,2,a,b\n1,2,0\n3,x,1\n")
        }
        #expect(throws: TabularDataError(path: "t.csv", line: 2, kind: .badLabel(text: "2", classes: 2))) {
            try parse("2,2,a,b\n1,2,2\n3,4,1\n")
        }
        let ok = try? parse("2,2,a,b\r\n1.5,2,0\r\n3,4e1,1\r\n")
        #expect(ok?.features == [1.5, 2, 3, 40] && ok?.labels == [0, 1])
        #expect(TabularDataError(path: "t.csv", line: 3, kind: .notANumber(field: 2, text: "x")).description
                == "t.csv:3: value 2 ('x') is not a finite number")
    }

    @Test func missingFilesNameTheDebianAndPyPIPackages() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("wine_data.csv").path
            let file = SourceFile(path: path, sha256: TabularDataset.wine.sha256, hint: ScikitLearnData.installHint("wine_data.csv"))
            do {
                try file.verify()
                Issue.record("a missing file verified")
            } catch let e as DataError {
                #expect(e.kind == .missing(hint: ScikitLearnData.installHint("wine_data.csv")))
                #expect(e.description.contains("apt-get install python3-sklearn") && e.description.contains("pip install scikit-learn"))
            }
        }
        #expect(FashionMNIST.installHint.contains("dataset-fashion-mnist"))
        #expect(SkimageCrops.installHint.contains("python3-skimage") && SkimageCrops.installHint.contains("pip install scikit-image"))
    }

    @Test func sklearnSearchOrderStartsAtTheDataRoot() {
        let dirs = ScikitLearnData.candidateDirectories(dataRoot: "/data", environment: ["FLOWOOD_DATA": "/env", "HOME": "/nohome"])
        #expect(Array(dirs.prefix(4)) == ["/data/sklearn", "/data", "/env/sklearn", ScikitLearnData.debianDirectory])
    }
}
