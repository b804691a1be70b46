import Foundation
import Testing
import Tensor
import NN
import TestSupport
@testable import OOD

@Suite struct FeatureCacheTests {
    /// A log sink that keeps the lines.
    final class Lines: @unchecked Sendable { var all: [String] = [] }

    @Test func missThenHitThenCorruptionRecomputes() throws {
        try withTemporaryDirectory { dir in
            let model = Classifier(ClassifierConfig(classes: 3, seed: 4))
            model.setTraining(false)
            let cache = FeatureCache(directory: dir)
            let lines = Lines()
            let extractor = FeatureExtractor(classifier: model, cache: cache)
            extractor.log = { lines.all.append($0) }
            extractor.batchSize = 4
            let data = try DataSpec.gaussianNoise.load(count: 6, seed: 1)
            let key = try #require(extractor.cacheKey(of: data))
            #expect(key == extractor.cacheKey(dataIdentity: try #require(data.identity), contentSHA256: data.contentSHA256))
            let file = cache.url(key: key)

            let first = try extractor.features(of: data)
            #expect(first.shape == [6, 128] && lines.all.isEmpty, "miss computes silently: \(lines.all)")
            #expect(FileManager.default.fileExists(atPath: file.path))
            // The features equal a direct forward pass.
            let direct = withoutGrad { model.features(data.tensor) }
            #expect(bits(first) == bits(direct))

            // A second extractor with the same weights hits.
            let other = FeatureExtractor(classifier: model, cache: cache)
            other.log = { lines.all.append($0) }
            #expect(bits(try other.features(of: data)) == bits(first))
            #expect(lines.all == ["features of gaussian-noise: cache hit"])

            // Flip one byte of the stored values: detected, recomputed, rewritten.
            var bytes = [UInt8](try Data(contentsOf: file))
            bytes[bytes.count - 3] ^= 0x40
            try Data(bytes).write(to: file)
            guard case .corrupt(let why) = cache.lookup(key: key, count: 6, dimension: 128) else {
                Issue.record("flipped byte not detected"); return
            }
            #expect(why.contains("SHA-256"), "\(why)")
            lines.all = []
            #expect(bits(try other.features(of: data)) == bits(first))
            #expect(lines.all.count == 1 && lines.all[0].contains("corrupt"), "\(lines.all)")
            guard case .hit = cache.lookup(key: key, count: 6, dimension: 128) else { Issue.record("entry not rewritten"); return }

            // A truncated file is corrupt too; a wrong shape is corrupt.
            try Data(bytes.prefix(20)).write(to: file)
            guard case .corrupt = cache.lookup(key: key, count: 6, dimension: 128) else { Issue.record("truncation not detected"); return }
            _ = try other.features(of: data)
            guard case .corrupt = cache.lookup(key: key, count: 7, dimension: 128) else { Issue.record("shape not checked"); return }
        }
    }

    @Test func keysDependOnWeightsDataCountSeedAndContent() throws {
        let a = FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 1)))
        let b = FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 2)))
        #expect(a.weightsDigest != b.weightsDigest)
        #expect(a.weightsDigest == FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 1))).weightsDigest)
        let ids = ["digits count=100 seed=0", "digits count=100 seed=1", "digits count=200 seed=0", "textures count=100 seed=0"]
        let content = SHA256.hash("pixels").hex
        let keys = ids.map { a.cacheKey(dataIdentity: $0, contentSHA256: content) }
        #expect(Set(keys).count == 4 && !keys.contains(b.cacheKey(dataIdentity: ids[0], contentSHA256: content)))
        #expect(keys[0].count == 64)
        #expect(a.cacheKey(dataIdentity: ids[0], contentSHA256: SHA256.hash("other pixels").hex) != keys[0])
    }

    @Test func contentDigestCoversThePixels() throws {
        let base = LabeledImages(images: (0..<(2 * 784)).map { UInt8($0 % 251) }, labels: [0, 1], height: 28, width: 28)
        var changed = base.images
        changed[1000] ^= 1
        let one = LoadedDataset(key: "x", images: base, labels: nil)
        let two = LoadedDataset(key: "x", images: LabeledImages(images: changed, labels: [0, 1], height: 28, width: 28), labels: nil)
        // reference: the digest is SHA-256("images 28 28" ‖ 0x00 ‖ pixel bytes), computed independently here.
        #expect(one.contentSHA256 == SHA256.hash(Array("images 28 28".utf8) + [0] + base.images).hex)
        #expect(one.contentSHA256 != two.contentSHA256)
        let vectors = LoadedDataset(key: "v", vectors: [1.5, -2], dimension: 2, labels: nil)
        var bytes = Array("vectors 2".utf8) + [0]
        for v in [1.5, -2.0] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        #expect(vectors.contentSHA256 == SHA256.hash(bytes).hex)
    }

    @Test func changedPixelsUnderTheSameIdentityAreNotServedStaleFeatures() throws {
        try withTemporaryDirectory { dir in
            let model = Classifier(ClassifierConfig(classes: 3, seed: 4))
            model.setTraining(false)
            let extractor = FeatureExtractor(classifier: model, cache: FeatureCache(directory: dir))
            let lines = Lines()
            extractor.log = { lines.all.append($0) }
            let original = try DataSpec.gaussianNoise.load(count: 4, seed: 1)
            _ = try extractor.features(of: original)
            // Same key, count and seed (the identity), different pixels — as after a change in
            // how a set is rendered or cropped.
            var pixels = original.images!.images
            for i in pixels.indices { pixels[i] = 255 - pixels[i] }
            var rerendered = LoadedDataset(spec: .gaussianNoise, images: LabeledImages(images: pixels, labels: [0, 0, 0, 0], height: 28, width: 28),
                                           labelsKnown: false)
            rerendered.identity = original.identity
            let features = try extractor.features(of: rerendered)
            #expect(lines.all.isEmpty, "no cache hit for different pixels: \(lines.all)")
            #expect(bits(features) == bits(withoutGrad { model.features(rerendered.tensor) }))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 2)
            // The original still hits its own entry.
            _ = try extractor.features(of: original)
            #expect(lines.all == ["features of gaussian-noise: cache hit"])
        }
    }

    @Test func handBuiltSetsAreNeverCached() throws {
        try withTemporaryDirectory { dir in
            let extractor = FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 1)), cache: FeatureCache(directory: dir))
            let images = LabeledImages(images: [UInt8](repeating: 9, count: 2 * 784), labels: [0, 0], height: 28, width: 28)
            _ = try extractor.features(of: LoadedDataset(key: "mine", images: images, labels: nil))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        }
    }

    @Test func checkpointDigestIsTheWeightFileSHA256() throws {
        try withTemporaryDirectory { dir in
            let config = ClassifierConfig(classes: 4, seed: 2)
            try Checkpoint.save(Classifier(config), config: config, to: dir)
            let extractor = try FeatureExtractor.load(checkpoint: dir)
            #expect(extractor.weightsDigest == (try SHA256.hash(fileAt: dir.appendingPathComponent("model.safetensors").path).hex))
            #expect(extractor.classifier.config == config && !extractor.classifier.isTraining)
        }
    }
}

@Suite struct BackboneAndAugmentationTests {
    @Test func architectureNamesAndOldConfigs() throws {
        #expect(ClassifierArchitecture(rawValue: "cnn-fmnist") == .cnnFMNIST)
        #expect(ClassifierArchitecture(rawValue: "resnet") == .resnet(width: 32))
        #expect(ClassifierArchitecture(rawValue: "resnet-16") == .resnet(width: 16))
        for bad in ["resnet-0", "resnet-x", "resnet18", "cnn"] { #expect(ClassifierArchitecture(rawValue: bad) == nil, "\(bad)") }
        // A config.json written before the ResNet and --classes options existed still decodes,
        // and a config of all ten classes encodes exactly as before (same weights digest inputs).
        let old = #"{"architecture":"cnn-fmnist","classes":10,"inputChannels":1,"inputMean":0.28604,"inputStd":0.35302,"seed":0}"#
        #expect(try JSONDecoder().decode(ClassifierConfig.self, from: Data(old.utf8)) == ClassifierConfig())
        #expect(FeatureExtractor.configJSON(ClassifierConfig()) == old)
        let subset = ClassifierConfig(classes: 3, fashionMNISTClasses: [2, 5, 9])
        let subsetJSON = try JSONEncoder().encode(subset)
        #expect(String(decoding: subsetJSON, as: UTF8.self).contains(#""fashionMNISTClasses":[2,5,9]"#))
        #expect(try JSONDecoder().decode(ClassifierConfig.self, from: subsetJSON) == subset)
        #expect(subset.inDistributionTest == .fashionMNISTClasses([2, 5, 9], .test) && subset.heldOutClasses == [0, 1, 3, 4, 6, 7, 8])
        #expect(ClassifierConfig().inDistributionTest == .fashionMNIST(.test) && ClassifierConfig().heldOutClasses.isEmpty)
        let resnet = ClassifierConfig(architecture: .resnet(width: 8))
        let json = try JSONEncoder().encode(resnet)
        #expect(String(decoding: json, as: UTF8.self).contains(#""architecture":"resnet-8""#))
        #expect(try JSONDecoder().decode(ClassifierConfig.self, from: json) == resnet)
        // Old training options (no `augment`) decode with augmentation off.
        let options = #"{"batchSize":128,"cosineSchedule":true,"epochs":15,"learningRate":0.003,"seed":0,"trainLimit":0,"weightDecay":0}"#
        let decoded = try JSONDecoder().decode(ClassifierTrainingOptions.self, from: Data(options.utf8))
        #expect(decoded == ClassifierTrainingOptions() && !decoded.augment)
    }

    @Test func resnetShapesAndParameters() throws {
        let model = Classifier(ClassifierConfig(architecture: .resnet(width: 4), classes: 3, seed: 1))
        #expect(model.featureDimension == 16)
        // Stem 1·4·9, blocks 4·4·9·2, 4·8·9 + 8·8·9 + 4·8 (projection), 8·16·9 + 16·16·9 + 8·16;
        // BatchNorm γ, β per channel: 4 + 4·2 + 8·3 + 16·3; head 16·3 + 3.
        let convs = 36 + 288 + (288 + 576 + 32) + (1152 + 2304 + 128)
        let norms = 2 * (4 + 8 + 24 + 48)
        #expect(model.parameterCount == convs + norms + 51)
        #expect(model.namedParameters().map(\.0).contains("backbone.5.shortcut.1.running_var"))
        var rng = SeededGenerator(seed: 2)
        let x = Tensor.uniform([2, 1, 28, 28], using: &rng)
        model.setTraining(false)
        #expect(withoutGrad { model.features(x) }.shape == [2, 16])
        #expect(withoutGrad { model.logits(x) }.shape == [2, 3])
        // Trainable: one Adam step on a batch lowers the loss.
        model.setTraining(true)
        let opt = Adam(model.trainableParameters, learningRate: 1e-2)
        let labels = [0, 2]
        let before = model.logits(x).crossEntropy(labels: labels)
        model.zeroGrad()
        before.backward()
        opt.step()
        #expect(model.logits(x).crossEntropy(labels: labels).item < before.item)
    }

    @Test func augmentationShiftsAndFlips() {
        // One bright pixel at (y, x) = (3, 1) in a 6×6 image.
        var pixels = [UInt8](repeating: 0, count: 36)
        pixels[3 * 6 + 1] = 255
        let set = LabeledImages(images: pixels, labels: [0], height: 6, width: 6)
        var seen = Set<[Int]>()
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<400 {
            let t = set.augmentedTensor(indices: [0], using: &rng).doubles
            let lit = t.indices.filter { t[$0] == 1 }
            #expect(t.allSatisfy { $0 == 0 || $0 == 1 } && lit.count <= 1)
            guard let p = lit.first else { continue }
            let y = p / 6, x = p % 6
            // Reachable positions: y = 3 + dy; x = 1 + dx or, flipped, 4 + dx.
            #expect(abs(y - 3) <= 2 && (abs(x - 1) <= 2 || abs(x - 4) <= 2), "(\(y), \(x))")
            seen.insert([y, x])
        }
        // Every shift and both flips appear: rows 1…5, columns 0…3 unflipped and 2…5 flipped.
        #expect(seen.count == 5 * 6, "\(seen.count) positions")
        // Seeded: the same generator state gives the same batch.
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        #expect(set.augmentedTensor(indices: [0, 0, 0], using: &a).doubles == set.augmentedTensor(indices: [0, 0, 0], using: &b).doubles)
        // Without shifts or flips it is the plain tensor.
        var c = SeededGenerator(seed: 3)
        #expect(set.augmentedTensor(indices: [0], maxShift: 0, flips: false, using: &c).doubles == set.tensor(indices: [0]).doubles)
    }
}

@Suite struct EvaluationRunTests {
    private func vectors(_ key: String, n: Int, shift: Double, seed: UInt64) -> DetectorInput {
        var rng = SeededGenerator(seed: seed)
        let values = (0..<(n * 3)).map { i in (i % 3 == 0 ? shift : 0) + rng.nextNormal() }
        return DetectorInput(LoadedDataset(key: key, vectors: values, dimension: 3, labels: Array(repeating: 0, count: n)))
    }

    @Test func runsDetectorsAndWritesFiles() throws {
        var evaluation = OODEvaluation(inDistribution: .fashionMNIST(.test), ood: [], seed: 3)
        evaluation.bootstrapResamples = 200
        let result = try evaluation.run(
            [MahalanobisDetector(extractor: nil), KNNDetector(extractor: nil, k: 3, normalize: false)],
            train: vectors("id-train", n: 50, shift: 0, seed: 1), test: vectors("id-test", n: 20, shift: 0, seed: 2),
            ood: [vectors("far", n: 15, shift: 6, seed: 3), vectors("near", n: 10, shift: 0.5, seed: 4)])
        #expect(result.rows.map { "\($0.detector)/\($0.ood)" } == ["mahalanobis/far", "mahalanobis/near", "knn/far", "knn/near"])
        #expect(result.row(detector: "knn", ood: "far")!.metrics.auroc > 0.99)
        #expect(result.rows.allSatisfy { $0.inCount == 20 && $0.inDistribution == "id-test" && $0.run == "" })
        #expect(result.trainCount == 50 && result.train == "id-train")
        let far = try #require(result.row(detector: "mahalanobis", ood: "far"))
        let idScores = try #require(result.scores(detector: "mahalanobis", dataset: "id-test"))
        let farScores = try #require(result.scores(detector: "mahalanobis", dataset: "far"))
        #expect(far.metrics == (try OODMetrics(inScores: idScores, outScores: farScores)))

        // Intervals: the documented bootstrap of this row (its own seeded generator), for every metric.
        let near = try #require(result.row(detector: "mahalanobis", ood: "near"))
        let nearScores = try #require(result.scores(detector: "mahalanobis", dataset: "near"))
        var rng = SeededGenerator(seed: 3 ^ DataSpec.fnv1a("bootstrap/mahalanobis/near"))
        let expected = try bootstrapMetrics(inScores: idScores, outScores: nearScores, resamples: 200, using: &rng)
        #expect(near.intervals == expected && expected.auroc.point == near.metrics.auroc)
        #expect(expected.auroc.lower < near.metrics.auroc && near.metrics.auroc < expected.auroc.upper, "\(expected.auroc)")

        let csv = result.scoresCSV().split(separator: "\n")
        #expect(csv.first == "detector,run,dataset,count,seed,index,source,source_index,crop_x,crop_y,score")
        #expect(csv.count == 1 + 2 * (20 + 15 + 10))
        // Hand-built sets have no seed or sources: those fields are empty.
        #expect(csv[1].hasPrefix("mahalanobis,,id-test,20,,0,,,,,") && csv[21].hasPrefix("mahalanobis,,far,15,,0,,,,,"))
        #expect(Double(csv[1].split(separator: ",", omittingEmptySubsequences: false)[10]) == idScores[0], "scores print exactly")

        let table = result.table()
        #expect(table.contains("AUROC") && table.contains("FPR95 = FPR at 95% TPR with in-distribution positive"))
        #expect(table.contains(String(format: "%.2f [%.2f, %.2f]", near.metrics.auroc * 100, expected.auroc.lower * 100, expected.auroc.upper * 100)))
        #expect(table.contains("95% percentile bootstrap interval, 200 resamples (seed 3)"))
        #expect(table.split(separator: "\n").count == 2 + 4 + 1, "one run per detector: no aggregate table\n\(table)")

        try withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("eval")
            try result.write(to: out)
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(names == ["aggregate.csv", "metrics.csv", "metrics.json", "scores.csv"], "no temporary files left: \(names)")
            let metrics = try String(contentsOf: out.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
            #expect(metrics[0].hasPrefix("detector,run,in_distribution,ood,n_in,n_out,auroc,auroc_ci_low,auroc_ci_high,fpr95_id_positive,"))
            #expect(metrics.count == 5)
            let fields = metrics[2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields[0...3] == ["mahalanobis", "", "id-test", "near"] && Double(fields[7]) == expected.auroc.lower
                    && Double(fields[8]) == expected.auroc.upper)
            let aggregate = try String(contentsOf: out.appendingPathComponent("aggregate.csv"), encoding: .utf8).split(separator: "\n")
            #expect(aggregate[0].hasPrefix("detector,in_distribution,ood,runs,auroc_mean,auroc_std,") && aggregate.count == 5)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("metrics.json"))) as? [String: Any]
            #expect((json?["rows"] as? [Any])?.count == 4 && json?["conventions"] != nil && json?["scores"] == nil)
            #expect((json?["aggregates"] as? [Any])?.count == 4 && json?["bootstrapResamples"] as? Int == 200)
        }
    }

    @Test func severalRunsAreAggregatedAsMeanAndSampleStd() throws {
        var evaluation = OODEvaluation(inDistribution: .fashionMNIST(.test), ood: [], seed: 1)
        evaluation.bootstrapResamples = 0
        // Three "seeds" of one detector: KNN with different k, under one name.
        let runs = [1, 4, 9].map { RunDetector(KNNDetector(extractor: nil, k: $0, normalize: false), run: "model-k\($0)") }
        let result = try evaluation.run(runs, train: vectors("id-train", n: 40, shift: 0, seed: 1),
                                        test: vectors("id-test", n: 20, shift: 0, seed: 2), ood: [vectors("near", n: 20, shift: 1, seed: 3)])
        #expect(result.rows.map(\.run) == ["model-k1", "model-k4", "model-k9"] && result.rows.allSatisfy { $0.intervals == nil })
        let aggregate = try #require(result.aggregate(detector: "knn", ood: "near"))
        #expect(aggregate.runs == ["model-k1", "model-k4", "model-k9"])
        let aurocs = result.rows.map(\.metrics.auroc)
        // reference: numpy mean and std(ddof=1) written out: mean = Σx/3, std = √(Σ(x − mean)²/2).
        let mean = aurocs.reduce(0, +) / 3
        let std = (aurocs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
        #expect(abs(aggregate.mean.auroc - mean) < 1e-15 && abs(aggregate.std.auroc - std) < 1e-15 && std > 0)
        #expect(Set(aurocs).count > 1, "the runs differ: \(aurocs)")
        let table = result.table()
        #expect(table.contains("mean ± sample standard deviation over runs (seeds):"))
        #expect(table.contains(String(format: "%.2f ± %.2f", mean * 100, std * 100)))
        #expect(table.contains("model-k4") && !table.contains("bootstrap interval"))
        let csv = result.scoresCSV().split(separator: "\n")
        #expect(csv.count == 1 + 3 * 40 && csv[21].hasPrefix("knn,model-k1,near,20,"))
        #expect(result.aggregateCSV().split(separator: "\n")[1].hasPrefix("knn,id-test,near,3,\(mean),\(std),"))
    }

    @Test func csvFieldsAreQuotedOnlyWhenNeeded() {
        #expect(csvField("runs/a") == "runs/a")
        #expect(csvField("runs/a,b") == "\"runs/a,b\"")
        #expect(csvField("say \"x\"") == "\"say \"\"x\"\"\"")
    }

    @Test func noTrainingPartIsAnError() {
        #expect(throws: OODEvaluation.NoTrainingSetError.self) {
            _ = try OODEvaluation(inDistribution: .digits, ood: [.constant]).loadData()
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: ScikitLearnData.path(of: "wine_data.csv", dataRoot: nil)),
                   "python3-sklearn is not installed"))
    func tabularWineEndToEnd() throws {
        // Class 0 in-distribution, class 1 OOD; both standardised with class-0 training statistics.
        // (KNN on raw vectors: unit-normalising centred tabular data discards the distance from
        // the centre, which is what tells the classes apart — with it this AUROC was 0.33.)
        var evaluation = OODEvaluation(inDistribution: .tabular(.wine, class: 0, .test), ood: [.tabular(.wine, class: 1, .test)])
        evaluation.bootstrapResamples = 50
        let result = try evaluation.run([MahalanobisDetector(extractor: nil), KNNDetector(extractor: nil, k: 5, normalize: false)])
        #expect(result.train == "tabular-wine-0-train" && result.trainCount == 41)
        for row in result.rows {
            #expect(row.inCount == 18 && row.outCount == 21)
            #expect(row.metrics.auroc > 0.9, "\(row.detector): \(row.metrics.auroc)")
        }
        // Every score line names the CSV row its example came from: re-reading that row and
        // standardising it with the class-0 training statistics gives the example scored.
        let table = try TabularTable.load(path: ScikitLearnData.path(of: "wine_data.csv", dataRoot: nil), expected: .wine)
        let standardizer = Standardizer(fittedOn: table.rows(table.split(class: 0, .train)), dimension: 13)
        let (_, test, ood) = try evaluation.loadData()
        let sets = Dictionary(uniqueKeysWithValues: ([test] + ood).map { ($0.key, $0) })
        let lines = result.scoresCSV().split(separator: "\n").dropFirst()
        #expect(lines.count == 2 * (18 + 21))
        for line in lines {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(f[3] == (f[2] == "tabular-wine-0-test" ? "18" : "21") && f[4] == "0" && f[6] == "wine_data.csv" && f[8].isEmpty)
            let index = try #require(Int(f[5])), row = try #require(Int(f[7]))
            guard case let .vectors(values, d) = sets[f[2]]!.content else { Issue.record("not vectors"); return }
            #expect(Array(values[(index * d)..<((index + 1) * d)]) == standardizer.apply(table.rows([row])), "\(line)")
        }
    }
}
