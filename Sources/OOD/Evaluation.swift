import Foundation
import Tensor
import NN

/// One detector against one OOD set: the metrics and the set sizes.
public struct EvaluationRow: Codable, Sendable, Equatable {
    public var detector: String
    /// Key of the in-distribution test set.
    public var inDistribution: String
    /// Key of the OOD set.
    public var ood: String
    public var inCount: Int
    public var outCount: Int
    public var metrics: OODMetrics
}

/// The outcome of an evaluation: metrics per (detector, OOD set) and every score.
public struct EvaluationResult: Codable, Sendable {
    /// Key of the set detectors were fitted on.
    public var train: String
    public var trainCount: Int
    public var inDistribution: String
    public var ood: [String]
    public var detectors: [String]
    public var seed: UInt64
    public var subset: Int?
    public var rows: [EvaluationRow]
    /// detector → data-set key → scores (higher = more in-distribution), the ID set included.
    public var scores: [String: [String: [Double]]]

    /// The metrics row of a detector and OOD set.
    public func row(detector: String, ood: String) -> EvaluationRow? {
        rows.first { $0.detector == detector && $0.ood == ood }
    }

    /// The scores as CSV lines `detector,dataset,index,score` with a header, detectors in
    /// evaluation order, the ID set first, then the OOD sets in order. Values print in
    /// Swift's shortest round-trip form.
    public func scoresCSV() -> String {
        var out = "detector,dataset,index,score\n"
        for detector in detectors {
            for set in [inDistribution] + ood {
                for (i, s) in (scores[detector]?[set] ?? []).enumerated() { out += "\(detector),\(set),\(i),\(s)\n" }
            }
        }
        return out
    }

    /// The metrics as CSV with a header; rates as fractions in [0, 1].
    ///
    /// Columns: `fpr95_id_positive` is FPR at 95 % TPR with ID as the positive class (energy
    /// and LDE papers), `fpr95_ood_positive` with OOD positive (OpenOOD); `aupr_in` and
    /// `aupr_out` are average precision with ID resp. OOD positive.
    public func metricsCSV() -> String {
        var out = "detector,in_distribution,ood,n_in,n_out,auroc,fpr95_id_positive,fpr95_ood_positive,aupr_in,aupr_out,detection_error\n"
        for r in rows {
            let m = r.metrics
            out += "\(r.detector),\(r.inDistribution),\(r.ood),\(r.inCount),\(r.outCount),\(m.auroc),\(m.fpr95InPositive),"
                + "\(m.fpr95OutPositive),\(m.auprIn),\(m.auprOut),\(m.detectionError)\n"
        }
        return out
    }

    /// The metrics (without the scores) as pretty-printed JSON with sorted keys.
    public func metricsJSON() throws -> Data {
        var copy = self
        copy.scores = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(MetricsFile(result: copy))
    }

    private struct MetricsFile: Encodable {
        let result: EvaluationResult
        func encode(to encoder: any Encoder) throws {
            enum Keys: String, CodingKey { case train, trainCount, inDistribution, ood, detectors, seed, subset, rows, conventions }
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(result.train, forKey: .train)
            try c.encode(result.trainCount, forKey: .trainCount)
            try c.encode(result.inDistribution, forKey: .inDistribution)
            try c.encode(result.ood, forKey: .ood)
            try c.encode(result.detectors, forKey: .detectors)
            try c.encode(result.seed, forKey: .seed)
            try c.encodeIfPresent(result.subset, forKey: .subset)
            try c.encode(result.rows, forKey: .rows)
            try c.encode([
                "score": "higher = more in-distribution",
                "fpr95InPositive": "FPR at 95% TPR, in-distribution positive (energy / LDE papers)",
                "fpr95OutPositive": "FPR at 95% TPR, OOD positive with negated scores (OpenOOD)",
                "auprIn": "average precision, in-distribution positive",
                "auprOut": "average precision, OOD positive with negated scores",
            ], forKey: .conventions)
        }
    }

    /// Writes `metrics.csv`, `metrics.json` and `scores.csv` into `directory` (created if
    /// needed), each atomically (temporary file, then rename).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeAtomically(Data(metricsCSV().utf8), to: directory.appendingPathComponent("metrics.csv"))
        try writeAtomically(try metricsJSON(), to: directory.appendingPathComponent("metrics.json"))
        try writeAtomically(Data(scoresCSV().utf8), to: directory.appendingPathComponent("scores.csv"))
    }

    /// A fixed-width table: one line per (detector, OOD set) with AUROC, FPR95 (ID positive),
    /// AUPR-In and AUPR-Out in percent, and a legend line stating the conventions.
    public func table() -> String {
        let header = ["detector", "ood", "AUROC", "FPR95", "AUPR-in", "AUPR-out"]
        var lines = [header]
        for r in rows {
            let m = r.metrics
            lines.append([r.detector, r.ood] + [m.auroc, m.fpr95InPositive, m.auprIn, m.auprOut].map { String(format: "%.2f", $0 * 100) })
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        var out = ""
        for (k, line) in lines.enumerated() {
            let cells = line.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i < 2 ? cell + pad : pad + cell
            }
            out += cells.joined(separator: "  ") + "\n"
            if k == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        out += "in-distribution \(inDistribution) (n = \(rows.first?.inCount ?? 0)), fitted on \(train) (n = \(trainCount)); "
            + "percent; score higher = more in-distribution; FPR95 = FPR at 95% TPR with in-distribution positive; "
            + "AUPR-in/out = average precision with ID/OOD positive\n"
        return out
    }
}

/// Runs detectors against OOD sets: fit every detector on the in-distribution training set,
/// score the in-distribution test set and each OOD set, compute `OODMetrics`.
///
/// Data: the training set is `inDistribution.trainCounterpart` (at most `trainCount`
/// examples); the test and OOD sets have at most `subset` examples each (generated sets exactly
/// `subset`, or `DataSpec.defaultGeneratedCount`). All loads use `seed`. Tabular OOD sets are
/// standardised with the in-distribution class's training statistics. Each detector is fitted
/// with its own generator, `SeededGenerator(seed: seed ^ FNV-1a(name))`, so adding a detector
/// does not change the others' results.
public struct OODEvaluation {
    public var inDistribution: DataSpec
    public var ood: [DataSpec]
    public var subset: Int?
    public var trainCount: Int?
    public var seed: UInt64
    public var dataDir: String?
    public var showProgress = false

    public init(inDistribution: DataSpec, ood: [DataSpec], subset: Int? = nil, trainCount: Int? = nil,
                seed: UInt64 = 0, dataDir: String? = nil) {
        self.inDistribution = inDistribution
        self.ood = ood
        self.subset = subset
        self.trainCount = trainCount
        self.seed = seed
        self.dataDir = dataDir
    }

    /// An in-distribution set without a training part.
    public struct NoTrainingSetError: Error, CustomStringConvertible {
        public let key: String
        public var description: String {
            "'\(key)' cannot be the in-distribution set: it has no training part "
                + "(use fashion-mnist-test, fashion-mnist-classes-…-test or tabular-…-test)"
        }
    }

    /// Loads the training, test and OOD sets.
    public func loadData() throws -> (train: LoadedDataset, test: LoadedDataset, ood: [LoadedDataset]) {
        guard let trainSpec = inDistribution.trainCounterpart else { throw NoTrainingSetError(key: inDistribution.key) }
        let train = try trainSpec.load(count: trainCount, seed: seed, dataDir: dataDir, standardizeLike: inDistribution)
        let test = try inDistribution.load(count: subset, seed: seed, dataDir: dataDir, standardizeLike: inDistribution)
        let sets = try ood.map { try $0.load(count: subset, seed: seed, dataDir: dataDir, standardizeLike: inDistribution) }
        return (train, test, sets)
    }

    /// Fits and scores every detector.
    /// - Throws: data errors, `DetectorError` (with the detector, the set and, for a non-finite
    ///   score, the example index), `MetricsError`.
    public func run(_ detectors: [any OODDetector]) throws -> EvaluationResult {
        let (train, test, oodSets) = try loadData()
        return try run(detectors, train: DetectorInput(train), test: DetectorInput(test), ood: oodSets.map(DetectorInput.init))
    }

    /// Fits and scores every detector on already loaded sets (shared between runs, so features
    /// are extracted once per classifier).
    public func run(_ detectors: [any OODDetector], train: DetectorInput, test: DetectorInput,
                    ood oodSets: [DetectorInput]) throws -> EvaluationResult {
        let names = detectors.map(\.name)
        precondition(Set(names).count == names.count, "OODEvaluation: duplicate detector names \(names)")
        let bar = ProgressBar("evaluate", total: detectors.count * (2 + oodSets.count), unit: "step")
        bar.quiet = !showProgress
        var rows: [EvaluationRow] = []
        var scores: [String: [String: [Double]]] = [:]
        for detector in detectors {
            var rng = SeededGenerator(seed: seed ^ DataSpec.fnv1a(detector.name))
            try detector.fit(train, using: &rng)
            bar.advance(by: 1, fields: ["detector": detector.name, "step": "fit"])
            let inScores = try detector.scores(test)
            scores[detector.name, default: [:]][test.key] = inScores
            bar.advance(by: 1, fields: ["detector": detector.name, "step": test.key])
            for set in oodSets {
                let outScores = try detector.scores(set)
                scores[detector.name, default: [:]][set.key] = outScores
                rows.append(EvaluationRow(detector: detector.name, inDistribution: test.key, ood: set.key,
                                          inCount: inScores.count, outCount: outScores.count,
                                          metrics: try OODMetrics(inScores: inScores, outScores: outScores)))
                bar.advance(by: 1, fields: ["detector": detector.name, "step": set.key])
            }
        }
        return EvaluationResult(train: train.key, trainCount: train.count, inDistribution: test.key, ood: oodSets.map(\.key),
                                detectors: names, seed: seed, subset: subset, rows: rows, scores: scores)
    }
}
