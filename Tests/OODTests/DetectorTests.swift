import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport
@testable import OOD

// MARK: - Toy data

/// `n` vectors from N(mean, std² I) (dimension = mean.count), labelled `label`.
private func gaussian(_ key: String, n: Int, mean: [Double], std: Double = 1, label: Int = 0, seed: UInt64) -> LoadedDataset {
    var rng = SeededGenerator(seed: seed)
    let d = mean.count
    let values = (0..<(n * d)).map { mean[$0 % d] + std * rng.nextNormal() }
    return LoadedDataset(key: key, vectors: values, dimension: d, labels: Array(repeating: label, count: n))
}

/// Concatenates labelled vector sets.
private func merged(_ key: String, _ sets: [LoadedDataset]) -> LoadedDataset {
    var values: [Double] = [], labels: [Int] = []
    var d = 0
    for s in sets {
        guard case let .vectors(v, dim) = s.content else { fatalError("vectors expected") }
        values += v
        labels += s.labels!
        d = dim
    }
    return LoadedDataset(key: key, vectors: values, dimension: d, labels: labels)
}

private func rows(_ set: LoadedDataset) -> [[Double]] {
    guard case let .vectors(v, d) = set.content else { return [] }
    return (0..<(v.count / d)).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
}

/// Inverse of a small non-singular matrix by Gauss–Jordan elimination with partial pivoting.
private func inverse(_ a: [[Double]]) -> [[Double]] {
    let n = a.count
    var m = a.enumerated().map { i, row in row + (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    for c in 0..<n {
        let p = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
        m.swapAt(c, p)
        let pivot = m[c][c]
        m[c] = m[c].map { $0 / pivot }
        for r in 0..<n where r != c {
            let f = m[r][c]
            m[r] = zip(m[r], m[c]).map { $0 - f * $1 }
        }
    }
    return m.map { Array($0[n...]) }
}

/// Euclidean distance.
private func distance(_ a: some Collection<Double>, _ b: some Collection<Double>) -> Double {
    var s = 0.0
    for (x, y) in zip(a, b) { s += (x - y) * (x - y) }
    return s.squareRoot()
}

/// T · log Σ exp(x / T), computed stably.
private func temperedLogSumExp(_ row: [Double], _ t: Double = 1) -> Double {
    let m = row.max()! / t
    var s = 0.0
    for x in row { s += Foundation.exp(x / t - m) }
    return t * (m + Foundation.log(s))
}

/// max softmax(x / T).
private func maxSoftmax(_ row: [Double], _ t: Double = 1) -> Double {
    Foundation.exp(row.max()! / t - temperedLogSumExp(row, t) / t)
}

private func fit(_ detector: any OODDetector, _ train: LoadedDataset, seed: UInt64 = 0) throws {
    var rng = SeededGenerator(seed: seed)
    try detector.fit(DetectorInput(train), using: &rng)
}

private func auroc(_ detector: any OODDetector, _ id: LoadedDataset, _ ood: LoadedDataset) throws -> Double {
    try OOD.auroc(inScores: detector.scores(DetectorInput(id)), outScores: detector.scores(DetectorInput(ood)))
}

// MARK: - Linear algebra

@Suite struct LinearAlgebraTests {
    @Test func jacobiEigenDecompositionReconstructs() {
        var rng = SeededGenerator(seed: 3)
        let n = 7
        let b = (0..<(n * n)).map { _ in rng.nextNormal() }
        var a = [Double](repeating: 0, count: n * n)  // A = B Bᵀ − 2 I: symmetric, indefinite
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        for i in 0..<n { a[i * n + i] -= 2 }
        let e = SymmetricEigen(a, n: n)
        #expect(e.values == e.values.sorted(by: >))
        for j in 0..<n {
            for i in 0..<n {
                var av = 0.0
                for k in 0..<n { av += a[i * n + k] * e.vectors[k * n + j] }
                #expect(abs(av - e.values[j] * e.vectors[i * n + j]) < 1e-10, "A v = λ v, column \(j) row \(i)")
            }
            for l in 0..<n {
                var dot = 0.0
                for i in 0..<n { dot += e.vectors[i * n + j] * e.vectors[i * n + l] }
                #expect(abs(dot - (j == l ? 1 : 0)) < 1e-12, "orthonormal columns \(j), \(l)")
            }
        }
        // Trace is preserved.
        var trace = 0.0
        for i in 0..<n { trace += a[i * n + i] }
        let eigenSum: Double = e.values.reduce(0, +)
        #expect(abs(eigenSum - trace) < 1e-10)
    }

    @Test func pseudoInverseOfARankDeficientMatrix() {
        // A = u uᵀ + v vᵀ in 4 dimensions (rank 2): A A⁺ A = A and A⁺ A A⁺ = A⁺.
        let u = [1.0, 2, 0, -1], v = [0.5, -1, 3, 0]
        let n = 4
        var a = [Double](repeating: 0, count: 16)
        for i in 0..<4 { for j in 0..<4 { a[i * 4 + j] = u[i] * u[j] + v[i] * v[j] } }
        let p = SymmetricEigen(a, n: n).pseudoInverse()
        func mul(_ x: [Double], _ y: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: 16)
            for i in 0..<n { for j in 0..<n { for k in 0..<n { out[i * n + j] += x[i * n + k] * y[k * n + j] } } }
            return out
        }
        expectClose(mul(mul(a, p), a), a, tolerance: 1e-10, "A A⁺ A")
        expectClose(mul(mul(p, a), p), p, tolerance: 1e-10, "A⁺ A A⁺")
        // Of an invertible matrix it is the inverse.
        let b = [4.0, 1, 0, 0, 1, 3, 0.5, 0, 0, 0.5, 2, 0, 0, 0, 0, 1]
        let inv = inverse((0..<4).map { Array(b[($0 * 4)..<($0 * 4 + 4)]) }).flatMap { $0 }
        expectClose(SymmetricEigen(b, n: 4).pseudoInverse(), inv, tolerance: 1e-12)
    }

    @Test func selectKthAgreesWithSorting() {
        var rng = SeededGenerator(seed: 11)
        for n in [1, 2, 3, 10, 101, 1000] {
            // Many ties: values from a small set.
            var values = (0..<n).map { _ in Float(Int.random(in: 0..<7, using: &rng)) + (n > 100 ? Float(rng.nextUnit()) : 0) }
            let sorted = values.sorted()
            for k in Set([0, n / 2, n - 1, Swift.min(5, n - 1)]) {
                var copy = values
                let got = copy.withUnsafeMutableBufferPointer { selectKth($0, k) }
                #expect(got == sorted[k], "n \(n), k \(k)")
            }
            values.removeAll()
        }
    }

    @Test func pcaFindsThePlaneOfTheData() {
        // Points on the plane spanned by (1, 1, 0, 0)/√2 and (0, 0, 1, 0), offset by (5, 5, 5, 5).
        var rng = SeededGenerator(seed: 2)
        var values: [Double] = []
        for _ in 0..<200 {
            let a = 3 * rng.nextNormal(), b = rng.nextNormal()
            values += [5 + a / 2.0.squareRoot(), 5 + a / 2.0.squareRoot(), 5 + b, 5]
        }
        let pca = PCA(fittedOn: values, dimension: 4, components: 2)
        #expect(pca.variances[0] > 5 && pca.variances[1] > 0.5 && pca.variances[1] < 2)
        // Both components lie in the plane: orthogonal to (1, −1, 0, 0) and to e₄.
        for j in 0..<2 {
            let c = (0..<4).map { pca.components[$0 * 2 + j] }
            #expect(abs(c[0] - c[1]) < 1e-9 && abs(c[3]) < 1e-9, "component \(j): \(c)")
        }
        // Projections keep the distances between points (they lie in the plane).
        let projected = pca.project(values)
        let d01 = distance(values[0..<4], values[4..<8])
        let p01 = distance(projected[0..<2], projected[2..<4])
        #expect(abs(d01 - p01) < 1e-9)
        // The mean projects to the origin.
        expectClose(pca.project(pca.mean), [0, 0], tolerance: 1e-12)
    }
}

// MARK: - Distance detectors on vectors

@Suite struct DistanceDetectorTests {
    private let train = merged("train", [
        gaussian("a", n: 60, mean: [0, 0, 0, 0, 0], label: 0, seed: 1),
        gaussian("b", n: 50, mean: [3, -1, 0, 2, 0], std: 0.7, label: 1, seed: 2),
        gaussian("c", n: 40, mean: [-2, 2, 1, 0, 1], std: 1.3, label: 2, seed: 3),
    ])
    private let query = gaussian("q", n: 25, mean: [0.5, 0.5, 0.5, 0.5, 0.5], std: 2, seed: 4)

    @Test func mahalanobisEqualsBruteForce() throws {
        let detector = MahalanobisDetector(extractor: nil)
        try fit(detector, train)
        let x = rows(train), y = train.labels!
        var means = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 3)
        var counts = [Double](repeating: 0, count: 3)
        for (row, c) in zip(x, y) {
            counts[c] += 1
            for j in 0..<5 { means[c][j] += row[j] }
        }
        for c in 0..<3 { for j in 0..<5 { means[c][j] /= counts[c] } }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 5)
        let total = Double(x.count)
        for (row, c) in zip(x, y) {
            for i in 0..<5 {
                for j in 0..<5 {
                    let product: Double = (row[i] - means[c][i]) * (row[j] - means[c][j])
                    cov[i][j] += product / total
                }
            }
        }
        let precision = inverse(cov)
        let expected = rows(query).map { h in
            (0..<3).map { c -> Double in
                let e = (0..<5).map { h[$0] - means[c][$0] }
                var q = 0.0
                for i in 0..<5 { for j in 0..<5 { q += e[i] * precision[i][j] * e[j] } }
                return -q
            }.max()!
        }
        expectClose(try detector.scores(DetectorInput(query)), expected, tolerance: 1e-9, relativeTolerance: 1e-9)
    }

    @Test(arguments: [(1, true), (7, true), (7, false), (150, true)])
    func knnEqualsBruteForce(k: Int, normalize: Bool) throws {
        let detector = KNNDetector(extractor: nil, k: k, normalize: normalize)
        detector.blockRows = 10  // several blocks
        try fit(detector, train)
        func prepared(_ r: [Double]) -> [Double] {
            let norm = distance(r, [Double](repeating: 0, count: r.count))
            return normalize ? r.map { $0 / norm } : r
        }
        let bank = rows(train).map(prepared)
        let expected = rows(query).map(prepared).map { (q: [Double]) -> Double in
            let sorted: [Double] = bank.map { distance(q, $0) }.sorted()
            return -sorted[k - 1]
        }
        expectClose(try detector.scores(DetectorInput(query)), expected, tolerance: 2e-5, relativeTolerance: 2e-5)
    }

    @Test func knnNeedsAtLeastKTrainingExamples() throws {
        let detector = KNNDetector(extractor: nil, k: 151)
        #expect(throws: DetectorError.self) { try fit(detector, train) }
        #expect(throws: DetectorError.self) { try KNNDetector(extractor: nil).scores(DetectorInput(query)) }
    }

    @Test func distanceDetectorsSeparateShiftedGaussians() throws {
        let id = merged("id", [gaussian("a", n: 100, mean: [0, 0, 0, 0, 0], seed: 10)])
        let ood = gaussian("ood", n: 100, mean: [4, 4, -4, 0, 0], seed: 11)
        let idTrain = gaussian("train", n: 300, mean: [0, 0, 0, 0, 0], seed: 12)
        for detector in [MahalanobisDetector(extractor: nil), KNNDetector(extractor: nil, k: 10, normalize: false)] as [any OODDetector] {
            try fit(detector, idTrain)
            let value = try auroc(detector, id, ood)
            #expect(value > 0.97, "\(detector.name): AUROC \(value)")
        }
    }

    @Test func mahalanobisNeedsLabels() throws {
        let unlabelled = LoadedDataset(key: "u", vectors: [1, 2, 3, 4], dimension: 2, labels: nil)
        #expect(throws: DetectorError.self) { try fit(MahalanobisDetector(extractor: nil), unlabelled) }
    }

    @Test func nonFiniteScoresNameTheExample() throws {
        let detector = MahalanobisDetector(extractor: nil)
        try fit(detector, train)
        var values = rows(query).flatMap { $0 }
        values[3 * 5 + 2] = .nan
        let bad = LoadedDataset(key: "bad", vectors: values, dimension: 5, labels: nil)
        do {
            _ = try detector.scores(DetectorInput(bad))
            Issue.record("NaN input scored")
        } catch let e as DetectorError {
            guard case .nonFiniteScore(let index, _) = e.kind else { Issue.record("\(e)"); return }
            #expect(index == 3 && e.dataset == "bad" && e.detector == "mahalanobis")
            #expect(e.description.contains("example 3"))
        }
    }
}

// MARK: - Flow detectors

@Suite struct FlowDetectorTests {
    /// An untrained vector RealNVP starts as the identity: log p is the standard normal density.
    private func identityFlow(features: Int = 4) -> SequentialFlow {
        var rng = SeededGenerator(seed: 0)
        return VectorFlows.realNVPVector(features: features, couplings: 2, hidden: 8, using: &rng)
    }

    @Test func likelihoodIsStandardNormalForTheIdentityFlow() throws {
        let detector = FlowLikelihoodDetector(flow: identityFlow(), bits: .lde)
        let data = gaussian("x", n: 5, mean: [0, 0, 0, 0], seed: 1)
        let bits = try detector.bitsPerDimension(DetectorInput(data))
        let expected = rows(data).map { x in
            let r = distance(x, [0, 0, 0, 0])
            let ll = -0.5 * r * r - 2 * Foundation.log(2 * Double.pi)
            return -ll / (4 * M_LN2) + 10  // −log₂ ε = 10 for ε = 1/1024
        }
        expectClose(bits, expected, tolerance: 1e-5, relativeTolerance: 1e-6)
        expectClose(try detector.scores(DetectorInput(data)), expected.map { -$0 }, tolerance: 1e-5, relativeTolerance: 1e-6)
    }

    @Test func typicalityCatchesTooTypicalInputsThatLikelihoodMisses() throws {
        // ID: N(0, I). OOD "near the mode": N(0, 0.1² I) gets *higher* likelihood than ID data
        // (the failure Nalisnick et al. 2019 describe), but its bpd is far from the ID entropy.
        // In 16 dimensions ‖x‖² ~ χ²₁₆ concentrates around 16, so typical ID points are rarely
        // as close to the mode as the narrow set (in 4 dimensions they often are).
        let flow = identityFlow(features: 16)
        let zero = [Double](repeating: 0, count: 16)
        let train = gaussian("train", n: 400, mean: zero, seed: 1)
        let id = gaussian("id", n: 200, mean: zero, seed: 2)
        let narrow = gaussian("narrow", n: 200, mean: zero, std: 0.1, seed: 3)
        let wide = gaussian("wide", n: 200, mean: zero, std: 3, seed: 4)
        let likelihood = FlowLikelihoodDetector(flow: flow, bits: .lde)
        let typicality = TypicalityDetector(flow: flow, bits: .lde)
        try fit(typicality, train)
        let h = try #require(typicality.meanTrainBits)
        // The mean bpd of N(0, I) under N(0, I): (½ log 2πe)/ln 2 + 10 ≈ 12.047 bits.
        #expect(abs(h - (0.5 * Foundation.log(2 * Double.pi * M_E) / M_LN2 + 10)) < 0.1, "Ĥ = \(h)")
        #expect(try auroc(likelihood, id, narrow) < 0.2)
        #expect(try auroc(typicality, id, narrow) > 0.95)
        #expect(try auroc(likelihood, id, wide) > 0.95)
        #expect(try auroc(typicality, id, wide) > 0.95)
        #expect(throws: DetectorError.self) { try TypicalityDetector(flow: flow).scores(DetectorInput(id)) }
    }

    @Test func specDetectorsScoreLikeFlowScorerAndShareTheWork() throws {
        // A vector flow on 4 features scoring 2×2 "images": the detector reshapes them like
        // `flowood score` and reports the latent bpd of FlowScorer exactly.
        let spec = FlowSpec.realNVPVector(features: 4, couplings: 2, hidden: 8, seed: 3)
        let flow = spec.makeFlow()
        var rng = SeededGenerator(seed: 4)
        let pixels = (0..<(6 * 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let images = LoadedDataset(key: "tiny", images: LabeledImages(images: pixels, labels: Array(repeating: 0, count: 6), height: 2, width: 2),
                                   labels: nil)
        let detector = FlowLikelihoodDetector(flow: flow, spec: spec, seed: 9)
        let input = DetectorInput(images)
        let bits = try detector.bitsPerDimension(input)
        let expected = try FlowScorer(flow: flow, spec: spec, seed: 9).score(FlowData(images.tensor.reshaped([6, 4])), name: "tiny")
        #expect(bits == expected.bitsPerDimension)
        #expect(try detector.scores(input) == bits.map { -$0 })
        // Typicality on the same flow and seed reuses the memoised bpd of the input.
        let typicality = TypicalityDetector(flow: flow, spec: spec, seed: 9)
        try fit(typicality, images)
        let h = try #require(typicality.meanTrainBits)
        #expect(abs(h - bits.reduce(0, +) / 6) < 1e-12)
        #expect(try typicality.scores(input) == bits.map { -abs($0 - h) })
        // fitLimit estimates Ĥ on a seeded subset of the training set.
        let limited = TypicalityDetector(flow: flow, spec: spec, seed: 9)
        limited.fitLimit = 2
        try fit(limited, images, seed: 1)
        let chosen = try #require(limited.meanTrainBits)
        #expect(bits.indices.contains { i in bits.indices.contains { j in j > i && abs((bits[i] + bits[j]) / 2 - chosen) < 1e-12 } })
        // Examples of another size are a clear error.
        let wrong = LoadedDataset(key: "wide", vectors: [Double](repeating: 0, count: 10), dimension: 5, labels: nil)
        let error = #expect(throws: DetectorError.self) { try detector.scores(DetectorInput(wrong)) }
        #expect(error?.description.contains("examples of shape [5] (5 values)") == true, "\(String(describing: error))")
    }

    @Test func nonFiniteLikelihoodNamesTheExample() throws {
        var values = rows(gaussian("x", n: 6, mean: [0, 0, 0, 0], seed: 1)).flatMap { $0 }
        values[4 * 4] = .infinity
        let bad = LoadedDataset(key: "bad", vectors: values, dimension: 4, labels: nil)
        do {
            _ = try FlowLikelihoodDetector(flow: identityFlow(), bits: .lde).scores(DetectorInput(bad))
            Issue.record("infinite input scored")
        } catch let e as DetectorError {
            guard case .nonFiniteScore(let index, _) = e.kind else { Issue.record("\(e)"); return }
            #expect(index == 4 && e.dataset == "bad")
        }
    }

    @Test func ldeOnToyVectorsBeatsChance() throws {
        // ID features point along e₁, OOD along e₂ (after normalisation the directions differ).
        let train = gaussian("train", n: 512, mean: [3, 0, 0, 0], seed: 1)
        let id = gaussian("id", n: 200, mean: [3, 0, 0, 0], seed: 2)
        let ood = gaussian("ood", n: 200, mean: [0, 3, 0, 0], seed: 3)
        var options = LDEOptions()
        options.epochs = 3
        options.blocks = 2
        options.hidden = 16
        options.learningRate = 3e-3
        let detector = LDEDetector(extractor: nil, options: options)
        try fit(detector, train, seed: 5)
        #expect(detector.history.count == 3)
        #expect(detector.history.last! < detector.history.first!, "training loss \(detector.history)")
        let value = try auroc(detector, id, ood)
        #expect(value > 0.9, "LDE AUROC \(value)")
        // Same seed, same scores.
        let again = LDEDetector(extractor: nil, options: options)
        try fit(again, train, seed: 5)
        #expect(try again.scores(DetectorInput(ood)) == detector.scores(DetectorInput(ood)))
    }

    @Test func ldePCAAndFactory() throws {
        let train = gaussian("train", n: 64, mean: [1, 2, 3, 4, 5, 6], seed: 1)
        var options = LDEOptions()
        options.pca = 4
        options.normalize = false
        var seenDimension = 0
        let detector = LDEDetector(extractor: nil, options: options) { d, rng in
            seenDimension = d
            return VectorFlows.realNVPVector(features: d, couplings: 2, hidden: 8, using: &rng)
        }
        try fit(detector, train)
        #expect(seenDimension == 4 && detector.pca?.outputDimension == 4)
        #expect(try detector.scores(DetectorInput(train)).count == 64)
        #expect(throws: DetectorError.self) { try LDEDetector(extractor: nil).scores(DetectorInput(train)) }
    }

    @Test func ldeAcceptsOddDimensions() throws {
        // The default glow-latent flow on odd dimensions: PCA to 3, and raw 5-dimensional vectors
        // (the couplings condition on ⌊d/2⌋ features and transform the rest).
        let train = gaussian("train", n: 64, mean: [1, 2, 3, 4, 5], seed: 1)
        var options = LDEOptions()
        options.blocks = 2
        options.hidden = 8
        options.normalize = false
        options.pca = 3
        let pca = LDEDetector(extractor: nil, options: options)
        try fit(pca, train)
        #expect(pca.pca?.outputDimension == 3 && pca.history.count == 1)
        #expect(try pca.scores(DetectorInput(train)).allSatisfy(\.isFinite))
        options.pca = nil
        let raw = LDEDetector(extractor: nil, options: options)
        try fit(raw, train)
        #expect(try raw.scores(DetectorInput(train)).count == 64)
        // One principal component cannot be split by a coupling: a clear error, not a crash.
        options.pca = 1
        let error = #expect(throws: DetectorError.self) { try fit(LDEDetector(extractor: nil, options: options), train) }
        #expect(error?.description.contains("PCA to 1 of 5 dimensions") == true, "\(String(describing: error))")
    }
}

// MARK: - Classifier detectors on a tiny trained classifier

/// Dark images (pixels 0…80) are class 0, bright ones (170…255) class 1; `grey` images have
/// pixels 100…150, between the two classes.
private func brightDark(count: Int, side: Int = 12, grey: Bool = false, seed: UInt64) -> LoadedDataset {
    var rng = SeededGenerator(seed: seed)
    var images: [UInt8] = [], labels: [UInt8] = []
    for i in 0..<count {
        let bright = i % 2 == 1
        labels.append(bright ? 1 : 0)
        for _ in 0..<(side * side) {
            let p = grey ? 100 + rng.next() % 51 : (bright ? 170 + rng.next() % 86 : rng.next() % 81)
            images.append(UInt8(p))
        }
    }
    let set = LabeledImages(images: images, labels: labels, height: side, width: side)
    return LoadedDataset(key: grey ? "grey" : "bright-dark", images: set, labels: grey ? nil : labels.map(Int.init))
}

/// A cnn-fmnist classifier trained for 40 Adam steps on bright/dark images (shared by the tests).
nonisolated(unsafe) private let trainedExtractor: FeatureExtractor = {
    let model = Classifier(ClassifierConfig(classes: 2, seed: 1))
    let data = brightDark(count: 64, seed: 1)
    let opt = Adam(model.trainableParameters, learningRate: 3e-3)
    let x = data.tensor, labels = data.labels!
    for _ in 0..<40 {
        let loss = model.logits(x).crossEntropy(labels: labels)
        model.zeroGrad()
        loss.backward()
        opt.step()
    }
    model.setTraining(false)
    return FeatureExtractor(classifier: model)
}()

@Suite(.serialized) struct ClassifierDetectorTests {
    let train = brightDark(count: 64, seed: 1)
    let id = brightDark(count: 40, seed: 2)
    let grey = brightDark(count: 40, grey: true, seed: 3)

    /// Logits by hand: W h + b with the head's parameters.
    private func logits(_ features: [[Double]]) -> [[Double]] {
        let head = trainedExtractor.classifier.head
        let w = head.weight.value.doubles, b = head.bias!.value.doubles
        let d = features.first?.count ?? 0
        return features.map { (h: [Double]) -> [Double] in
            var z = b
            for k in 0..<b.count { for j in 0..<d { z[k] += w[k * d + j] * h[j] } }
            return z
        }
    }

    private func featureRows(_ set: LoadedDataset) throws -> [[Double]] {
        let f = try DetectorInput(set).features(trainedExtractor)
        let v = f.doubles, d = f.shape[1]
        return (0..<f.shape[0]).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
    }

    @Test func mspAndEnergyFollowTheirFormulas() throws {
        let z = logits(try featureRows(id))
        let msp = z.map { maxSoftmax($0) }
        let energy = z.map { temperedLogSumExp($0) }
        expectClose(try MSPDetector(extractor: trainedExtractor).scores(DetectorInput(id)), msp, tolerance: 1e-5)
        expectClose(try EnergyDetector(extractor: trainedExtractor).scores(DetectorInput(id)), energy, tolerance: 1e-4, relativeTolerance: 1e-5)
        let t = 2.5
        let tempered = z.map { temperedLogSumExp($0, t) }
        expectClose(try EnergyDetector(extractor: trainedExtractor, temperature: t).scores(DetectorInput(id)), tempered,
                    tolerance: 1e-4, relativeTolerance: 1e-5)
    }

    @Test func reactClipsAtTheTrainingPercentile() throws {
        let detector = ReActDetector(extractor: trainedExtractor, percentile: 80)
        try fit(detector, train)
        let all = try featureRows(train).flatMap { $0 }.sorted()
        // numpy percentile (linear): position (n − 1)·0.8 between order statistics.
        let position = Double(all.count - 1) * 0.8
        let lo = Int(position), frac = position - Double(lo)
        let c = all[lo] + frac * (all[lo + 1] - all[lo])
        #expect(abs(try #require(detector.threshold) - c) < 1e-6)
        let h = try featureRows(id)
        #expect(h.flatMap { $0 }.contains { $0 > c }, "some activations are clipped")
        let clipped = h.map { $0.map { Swift.min($0, c) } }
        let expected = logits(clipped).map { temperedLogSumExp($0) }
        expectClose(try detector.scores(DetectorInput(id)), expected, tolerance: 1e-4, relativeTolerance: 1e-5)
        let rectified = try detector.rectified(try DetectorInput(id).features(trainedExtractor)).doubles
        expectClose(rectified, clipped.flatMap { $0 }, tolerance: 1e-6)
        #expect(throws: DetectorError.self) { try ReActDetector(extractor: trainedExtractor).scores(DetectorInput(id)) }
    }

    @Test func odinStepsTowardsThePredictedClass() throws {
        let epsilon = 0.002, t = 10.0
        let detector = ODINDetector(extractor: trainedExtractor, temperature: t, epsilon: epsilon)
        let x = grey.tensor
        let xt = detector.perturbed(x)
        let delta = zip(xt.doubles, x.doubles).map { $0 - $1 }
        #expect(delta.allSatisfy { abs(abs($0) - epsilon) < 1e-6 || $0 == 0 })
        #expect(delta.filter { $0 != 0 }.count > delta.count / 2)
        #expect(trainedExtractor.classifier.trainableParameters.allSatisfy { $0.grad == nil }, "parameter gradients cleared")
        // The step raises log S_ŷ(x; T) for (nearly) every example.
        let model = trainedExtractor.classifier
        func logProbability(_ images: Tensor) -> [Double] {
            let z = withoutGrad { model.logits(images) }
            let k = z.shape[1], v = z.doubles
            return (0..<z.shape[0]).map { i in
                let row = Array(v[(i * k)..<((i + 1) * k)])
                let predicted = row.max()!
                return predicted / t - temperedLogSumExp(row, t) / t
            }
        }
        let before = logProbability(x), after = logProbability(xt)
        let raised = zip(after, before).filter { $0 > $1 }.count
        #expect(raised >= 38, "\(raised) of 40 raised")
        // Direction against a finite difference on the most sensitive pixel of example 0.
        let one = x.slice(axis: 0, 0..<1).contiguous()
        let stepped = detector.perturbed(one).doubles
        let values = one.doubles
        let pixel = (0..<values.count).first { stepped[$0] != values[$0] }!
        let direction = stepped[pixel] > values[pixel] ? 1.0 : -1.0
        var moved = values
        moved[pixel] += direction * 0.05
        let movedTensor = Tensor(moved.map(Float.init), shape: one.shape)
        #expect(logProbability(movedTensor)[0] >= logProbability(one)[0] - 1e-7)
        // ε = 0 leaves the images and gives the tempered MSP.
        let plain = ODINDetector(extractor: trainedExtractor, temperature: t, epsilon: 0)
        let z = logits(try featureRows(grey))
        let msp = z.map { maxSoftmax($0, t) }
        expectClose(try plain.scores(DetectorInput(grey)), msp, tolerance: 1e-5)
    }

    @Test func classifierDetectorsSeparateInBetweenImages() throws {
        let detectors: [any OODDetector] = [
            MSPDetector(extractor: trainedExtractor), EnergyDetector(extractor: trainedExtractor),
            ODINDetector(extractor: trainedExtractor, temperature: 10, epsilon: 0.002),
            ReActDetector(extractor: trainedExtractor), MahalanobisDetector(extractor: trainedExtractor),
            KNNDetector(extractor: trainedExtractor, k: 5),
        ]
        for detector in detectors {
            try fit(detector, train)
            let value = try auroc(detector, id, grey)
            #expect(value > 0.8, "\(detector.name): AUROC \(value)")
        }
    }

    @Test func vectorsAreRejectedByImageDetectors() throws {
        let vectors = gaussian("v", n: 3, mean: [0, 0], seed: 1)
        #expect(throws: DetectorError.self) { try MSPDetector(extractor: trainedExtractor).scores(DetectorInput(vectors)) }
        #expect(throws: DetectorError.self) { try ODINDetector(extractor: trainedExtractor).scores(DetectorInput(vectors)) }
    }
}

@Suite struct DetectorContract {
    @Test func checkedScoresPassesFiniteAndNamesTheFirstBadIndex() {
        #expect((try? checkedScores([1, -2, 0], detector: "d", dataset: "s")) == [1, -2, 0])
        do {
            _ = try checkedScores([1, .infinity, .nan], detector: "d", dataset: "s")
            Issue.record("non-finite accepted")
        } catch {
            #expect(error.description == "detector d on s: score of example 1 is inf (non-finite)")
        }
    }
}
