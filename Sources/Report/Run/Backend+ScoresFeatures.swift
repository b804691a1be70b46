import Foundation
import Tensor
import Flows
import OOD

extension Backend {
    static let scoresVersion = "scores-1"
    static let featuresVersion = "features-1"

    /// `@Scores`: scores every data set with the flow of a `@Train` node (`FlowScorer`, as
    /// `flowood score` does) and stores `scores.json` plus `scores.csv` (dataset, index,
    /// log_likelihood, bits_per_dim). Tabular sets are standardised like the flow's training set.
    func scores(_ spec: ScoresSpec, flowDirectory: URL, train: TrainSpec, into out: URL) throws {
        let (flow, flowSpec) = try loadFlow(flowDirectory)
        let like: DataRef? = if case .tabular = train.data { train.data } else { nil }
        var sets: [ScoresResult.SetScores] = []
        var csv = ["dataset,index,log_likelihood,bits_per_dim"]
        for ref in spec.datasets {
            let data = try load(ref, count: spec.subset, seed: 100, standardizeLike: like)
            let scores = try FlowScorer(flow: flow, spec: flowSpec, seed: 0).score(FlowData(data.tensor), name: ref.key)
            sets.append(.init(data: ref.key, displayName: ref.displayName, logLikelihood: scores.logLikelihood,
                              bitsPerDim: scores.bitsPerDimension))
            for (i, (ll, bits)) in zip(scores.logLikelihood, scores.bitsPerDimension).enumerated() {
                csv.append("\(ref.key),\(i),\(ll),\(bits)")
            }
        }
        try writeJSON(ScoresResult(sets: sets, dimensions: flowSpec.dimensions), to: out.appendingPathComponent("scores.json"))
        try Data((csv.joined(separator: "\n") + "\n").utf8).write(to: out.appendingPathComponent("scores.csv"))
    }

    /// `@Features`: the classifier's penultimate features of every data set, L2-normalised when
    /// `normalize`, stored as `features/<data key>.csv` (one row per sample, columns f0…) and
    /// summarised in `features.json` (count, dimension, mean norm before normalisation).
    func features(_ spec: FeaturesSpec, classifier: URL, into out: URL) throws {
        let extractor = try extractor(classifier)
        let folder = out.appendingPathComponent("features")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var sets: [FeaturesResult.SetSummary] = []
        for ref in spec.datasets {
            let data = try load(ref, count: spec.subset, seed: 100)
            let f = try extractor.features(of: data)
            let n = f.shape[0], d = f.shape[1]
            let raw = f.doubles
            var norms = 0.0
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { s += raw[i * d + j] * raw[i * d + j] }
                norms += s.squareRoot()
            }
            let (rows, _) = try latentRows(f, normalize: spec.normalize, pca: nil)
            var lines = [(0..<d).map { "f\($0)" }.joined(separator: ",")]
            lines.reserveCapacity(n + 1)
            for i in 0..<n {
                lines.append(rows[(i * d)..<((i + 1) * d)].map { "\($0)" }.joined(separator: ","))
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("\(ref.key).csv"))
            sets.append(.init(data: ref.key, displayName: ref.displayName, count: n, dimension: d,
                              meanNorm: n > 0 ? norms / Double(n) : .nan))
        }
        try writeJSON(FeaturesResult(sets: sets, normalized: spec.normalize), to: out.appendingPathComponent("features.json"))
    }
}
