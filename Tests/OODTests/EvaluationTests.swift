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
            let key = extractor.cacheKey(dataIdentity: try #require(data.identity))
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

    @Test func keysDependOnWeightsDataCountAndSeed() throws {
        let a = FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 1)))
        let b = FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 2)))
        #expect(a.weightsDigest != b.weightsDigest)
        #expect(a.weightsDigest == FeatureExtractor(classifier: Classifier(ClassifierConfig(seed: 1))).weightsDigest)
        let ids = ["digits count=100 seed=0", "digits count=100 seed=1", "digits count=200 seed=0", "textures count=100 seed=0"]
        let keys = ids.map { a.cacheKey(dataIdentity: $0) }
        #expect(Set(keys).count == 4 && !keys.contains(b.cacheKey(dataIdentity: ids[0])))
        #expect(keys[0].count == 64)
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
        // A config.json written before the ResNet option existed still decodes.
        let old = #"{"architecture":"cnn-fmnist","classes":10,"inputChannels":1,"inputMean":0.28604,"inputStd":0.35302,"seed":0}"#
        #expect(try JSONDecoder().decode(ClassifierConfig.self, from: Data(old.utf8)) == ClassifierConfig())
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
        let evaluation = OODEvaluation(inDistribution: .fashionMNIST(.test), ood: [], seed: 3)
        let result = try evaluation.run(
            [MahalanobisDetector(extractor: nil), KNNDetector(extractor: nil, k: 3, normalize: false)],
            train: vectors("id-train", n: 50, shift: 0, seed: 1), test: vectors("id-test", n: 20, shift: 0, seed: 2),
            ood: [vectors("far", n: 15, shift: 6, seed: 3), vectors("near", n: 10, shift: 0.5, seed: 4)])
        #expect(result.rows.map { "\($0.detector)/\($0.ood)" } == ["mahalanobis/far", "mahalanobis/near", "knn/far", "knn/near"])
        #expect(result.row(detector: "knn", ood: "far")!.metrics.auroc > 0.99)
        #expect(result.rows.allSatisfy { $0.inCount == 20 && $0.inDistribution == "id-test" })
        #expect(result.trainCount == 50 && result.train == "id-train")
        let far = try #require(result.row(detector: "mahalanobis", ood: "far"))
        let scores = try #require(result.scores["mahalanobis"])
        #expect(far.metrics == (try OODMetrics(inScores: scores["id-test"]!, outScores: scores["far"]!)))

        let csv = result.scoresCSV().split(separator: "\n")
        #expect(csv.first == "detector,dataset,index,score" && csv.count == 1 + 2 * (20 + 15 + 10))
        #expect(csv[1].hasPrefix("mahalanobis,id-test,0,") && csv[21].hasPrefix("mahalanobis,far,0,"))
        #expect(Double(csv[1].split(separator: ",")[3]) == scores["id-test"]![0], "scores print exactly")

        let table = result.table()
        #expect(table.contains("AUROC") && table.contains("FPR95 = FPR at 95% TPR with in-distribution positive"))
        #expect(table.split(separator: "\n").count == 2 + 4 + 1)

        try withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("eval")
            try result.write(to: out)
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(names == ["metrics.csv", "metrics.json", "scores.csv"], "no temporary files left: \(names)")
            let metrics = try String(contentsOf: out.appendingPathComponent("metrics.csv"), encoding: .utf8)
            #expect(metrics.hasPrefix("detector,in_distribution,ood,n_in,n_out,auroc,fpr95_id_positive,"))
            #expect(metrics.split(separator: "\n").count == 5)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("metrics.json"))) as? [String: Any]
            #expect((json?["rows"] as? [Any])?.count == 4 && json?["conventions"] != nil && json?["scores"] == nil)
        }
    }

    @Test func noTrainingPartIsAnError() {
        #expect(throws: OODEvaluation.NoTrainingSetError.self) {
            _ = try OODEvaluation(inDistribution: .digits, ood: [.constant]).loadData()
        }
    }

    @Test func tabularWineEndToEnd() throws {
        guard FileManager.default.fileExists(atPath: ScikitLearnData.path(of: "wine_data.csv", dataRoot: nil)) else { return }
        // Class 0 in-distribution, class 1 OOD; both standardised with class-0 training statistics.
        // (KNN on raw vectors: unit-normalising centred tabular data discards the distance from
        // the centre, which is what tells the classes apart — with it this AUROC was 0.33.)
        let evaluation = OODEvaluation(inDistribution: .tabular(.wine, class: 0, .test), ood: [.tabular(.wine, class: 1, .test)])
        let result = try evaluation.run([MahalanobisDetector(extractor: nil), KNNDetector(extractor: nil, k: 5, normalize: false)])
        #expect(result.train == "tabular-wine-0-train" && result.trainCount == 41)
        for row in result.rows {
            #expect(row.inCount == 18 && row.outCount == 21)
            #expect(row.metrics.auroc > 0.9, "\(row.detector): \(row.metrics.auroc)")
        }
    }
}
