import Foundation
import Tensor
import NN

/// One detector of one model run against one OOD set: the metrics, their bootstrap intervals
/// and the set sizes.
public struct EvaluationRow: Codable, Sendable, Equatable {
    public var detector: String
    /// The model run the detector used (a classifier or flow run directory, as given; one per
    /// seed), or "" when the evaluation names no runs.
    public var run: String
    /// Key of the in-distribution test set.
    public var inDistribution: String
    /// Key of the OOD set.
    public var ood: String
    public var inCount: Int
    public var outCount: Int
    public var metrics: OODMetrics
    /// Percentile-bootstrap intervals of every metric (`bootstrapMetrics`); nil when the
    /// evaluation ran without bootstrap.
    public var intervals: MetricIntervals?
}

/// One detector against one OOD set over all its model runs (seeds): mean and sample standard
/// deviation (Bessel-corrected, numpy `ddof=1`; 0 for a single run) of every metric
/// (`meanAndStd`).
public struct AggregateRow: Codable, Sendable, Equatable {
    public var detector: String
    public var ood: String
    /// The runs aggregated, in evaluation order.
    public var runs: [String]
    public var mean: OODMetrics
    public var std: OODMetrics
}

/// The per-example scores of one detector (of one run) on one data set.
public struct ScoreList: Codable, Sendable, Equatable {
    public var detector: String
    public var run: String
    public var dataset: String
    /// Higher = more in-distribution, in the order of the set's examples.
    public var scores: [Double]
}

/// A data set of an evaluation as loaded: key, size, seed and where each example came from.
public struct EvaluatedSet: Codable, Sendable, Equatable {
    public var key: String
    public var count: Int
    /// The seed of the load; nil for a set built by hand.
    public var seed: UInt64?
    /// `LoadedDataset.sources`; nil for a set built by hand.
    public var sources: [ExampleSource]?

    public init(_ data: LoadedDataset) {
        key = data.key
        count = data.count
        seed = data.seed
        sources = data.sources
    }
}

/// The outcome of an evaluation: metrics per (detector, run, OOD set), aggregates over runs,
/// and every score.
public struct EvaluationResult: Codable, Sendable {
    /// Key of the set detectors were fitted on.
    public var train: String
    public var trainCount: Int
    public var inDistribution: String
    public var ood: [String]
    /// Detector names in evaluation order, each once.
    public var detectors: [String]
    public var seed: UInt64
    public var subset: Int?
    /// Bootstrap rounds per row (0 = no intervals) and their coverage.
    public var bootstrapResamples: Int
    public var confidence: Double
    public var rows: [EvaluationRow]
    public var aggregates: [AggregateRow]
    /// Scores of every detector and run on the ID test set and each OOD set, in evaluation order.
    public var scores: [ScoreList]
    /// The ID test set, then the OOD sets.
    public var sets: [EvaluatedSet]

    /// The metrics row of a detector, run and OOD set (the first run when `run` is nil).
    public func row(detector: String, run: String? = nil, ood: String) -> EvaluationRow? {
        rows.first { $0.detector == detector && $0.ood == ood && (run == nil || $0.run == run) }
    }

    /// The aggregate of a detector and OOD set.
    public func aggregate(detector: String, ood: String) -> AggregateRow? {
        aggregates.first { $0.detector == detector && $0.ood == ood }
    }

    /// The scores of a detector (first run when `run` is nil) on a data set.
    public func scores(detector: String, run: String? = nil, dataset: String) -> [Double]? {
        scores.first { $0.detector == detector && $0.dataset == dataset && (run == nil || $0.run == run) }?.scores
    }

    /// Whether some detector was evaluated with more than one run.
    public var hasSeveralRuns: Bool { aggregates.contains { $0.runs.count > 1 } }

    /// The header of `scoresCSV` (documented in README, "Score files").
    public static let scoresHeader = "detector,run,dataset,count,seed,index,source,source_index,crop_x,crop_y,score"

    /// The scores as CSV, one line per (detector, run, example), with a header
    /// (`scoresHeader`); ID set first, then the OOD sets in order. Columns: `run` the model run,
    /// `count` the set's size and `seed` the seed it was loaded with (together with `dataset`
    /// they reproduce the load), `index` the position in the evaluated set, `source` and
    /// `source_index` the file and 0-based record in it (`ExampleSource`), `crop_x`/`crop_y` a
    /// crop's top-left corner in `source` (empty otherwise). Values print in Swift's shortest
    /// round-trip form; fields holding commas or quotes are quoted (RFC 4180).
    public func scoresCSV() -> String {
        var out = Self.scoresHeader + "\n"
        let byKey = Dictionary(sets.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for list in scores {
            let set = byKey[list.dataset]
            let prefix = "\(csvField(list.detector)),\(csvField(list.run)),\(csvField(list.dataset)),\(set?.count ?? list.scores.count),"
                + "\(set?.seed.map(String.init) ?? ""),"
            for (i, s) in list.scores.enumerated() {
                out += prefix + "\(i)," + ExampleSource.csvFields(set?.sources?[i]) + ",\(s)\n"
            }
        }
        return out
    }

    /// The rows as CSV with a header; rates as fractions in [0, 1].
    ///
    /// Columns: `fpr95_id_positive` is FPR at 95 % TPR with ID as the positive class (energy
    /// and LDE papers), `fpr95_ood_positive` with OOD positive (OpenOOD); `aupr_in` and
    /// `aupr_out` are average precision with ID resp. OOD positive. Every metric `m` is
    /// followed by `m_ci_low` and `m_ci_high`, the bootstrap interval (empty without bootstrap).
    public func metricsCSV() -> String {
        let names = Self.metricColumns
        var out = "detector,run,in_distribution,ood,n_in,n_out,"
            + names.map { "\($0),\($0)_ci_low,\($0)_ci_high" }.joined(separator: ",") + "\n"
        for r in rows {
            out += "\(csvField(r.detector)),\(csvField(r.run)),\(r.inDistribution),\(r.ood),\(r.inCount),\(r.outCount),"
            out += r.metrics.named.map { key, value in
                let ci = r.intervals?.interval(key)
                return "\(value),\(ci.map { String($0.lower) } ?? ""),\(ci.map { String($0.upper) } ?? "")"
            }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// The aggregates as CSV: `detector,in_distribution,ood,runs` then `m_mean,m_std` for every
    /// metric (same names as `metricsCSV`); std is the sample standard deviation over runs.
    public func aggregateCSV() -> String {
        var out = "detector,in_distribution,ood,runs,"
            + Self.metricColumns.map { "\($0)_mean,\($0)_std" }.joined(separator: ",") + "\n"
        for a in aggregates {
            out += "\(csvField(a.detector)),\(inDistribution),\(a.ood),\(a.runs.count),"
            out += zip(a.mean.named, a.std.named).map { "\($0.value),\($1.value)" }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// CSV names of `OODMetrics.named`, in that order.
    static let metricColumns = ["auroc", "fpr95_id_positive", "fpr95_ood_positive", "aupr_in", "aupr_out", "detection_error"]

    /// The metrics, intervals and aggregates (without the scores) as pretty-printed JSON with
    /// sorted keys.
    public func metricsJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(MetricsFile(result: self))
    }

    private struct MetricsFile: Encodable {
        let result: EvaluationResult
        func encode(to encoder: any Encoder) throws {
            enum Keys: String, CodingKey {
                case train, trainCount, inDistribution, ood, detectors, seed, subset, bootstrapResamples, confidence, rows
                case aggregates, sets, conventions
            }
            struct SetInfo: Encodable { let key: String; let count: Int; let seed: UInt64? }
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(result.train, forKey: .train)
            try c.encode(result.trainCount, forKey: .trainCount)
            try c.encode(result.inDistribution, forKey: .inDistribution)
            try c.encode(result.ood, forKey: .ood)
            try c.encode(result.detectors, forKey: .detectors)
            try c.encode(result.seed, forKey: .seed)
            try c.encodeIfPresent(result.subset, forKey: .subset)
            try c.encode(result.bootstrapResamples, forKey: .bootstrapResamples)
            try c.encode(result.confidence, forKey: .confidence)
            try c.encode(result.rows, forKey: .rows)
            try c.encode(result.aggregates, forKey: .aggregates)
            try c.encode(result.sets.map { SetInfo(key: $0.key, count: $0.count, seed: $0.seed) }, forKey: .sets)
            try c.encode([
                "score": "higher = more in-distribution",
                "fpr95InPositive": "FPR at 95% TPR, in-distribution positive (energy / LDE papers)",
                "fpr95OutPositive": "FPR at 95% TPR, OOD positive with negated scores (OpenOOD)",
                "auprIn": "average precision, in-distribution positive",
                "auprOut": "average precision, OOD positive with negated scores",
                "intervals": "percentile bootstrap, stratified resampling of ID and OOD scores with replacement",
                "aggregates": "mean and sample standard deviation (ddof = 1) over runs; std 0 for one run",
            ], forKey: .conventions)
        }
    }

    /// Writes `metrics.csv`, `aggregate.csv`, `metrics.json` and `scores.csv` into `directory`
    /// (created if needed), each atomically (temporary file, then rename).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeAtomically(Data(metricsCSV().utf8), to: directory.appendingPathComponent("metrics.csv"))
        try writeAtomically(Data(aggregateCSV().utf8), to: directory.appendingPathComponent("aggregate.csv"))
        try writeAtomically(try metricsJSON(), to: directory.appendingPathComponent("metrics.json"))
        try writeAtomically(Data(scoresCSV().utf8), to: directory.appendingPathComponent("scores.csv"))
    }

    /// Fixed-width tables in percent: one line per (detector, run, OOD set) with AUROC, FPR95
    /// (ID positive), AUPR-In and AUPR-Out, each followed by its bootstrap interval
    /// `[low, high]`; when a detector has several runs, a second table of mean ± sample std over
    /// runs; then a legend stating the conventions.
    public func table() -> String {
        let several = rows.contains { !$0.run.isEmpty } && Set(rows.map(\.run)).count > 1
        func cell(_ value: Double, _ ci: ConfidenceInterval?) -> String {
            let v = String(format: "%.2f", value * 100)
            guard let ci else { return v }
            return v + String(format: " [%.2f, %.2f]", ci.lower * 100, ci.upper * 100)
        }
        var lines: [[String]] = [(several ? ["detector", "run", "ood"] : ["detector", "ood"]) + ["AUROC", "FPR95", "AUPR-in", "AUPR-out"]]
        for r in rows {
            let m = r.metrics, i = r.intervals
            lines.append((several ? [r.detector, r.run, r.ood] : [r.detector, r.ood])
                + [cell(m.auroc, i?.auroc), cell(m.fpr95InPositive, i?.fpr95InPositive),
                   cell(m.auprIn, i?.auprIn), cell(m.auprOut, i?.auprOut)])
        }
        var out = Self.layout(lines, textColumns: several ? 3 : 2)
        if hasSeveralRuns {
            func spread(_ mean: Double, _ std: Double) -> String { String(format: "%.2f ± %.2f", mean * 100, std * 100) }
            var agg: [[String]] = [["detector", "ood", "runs", "AUROC", "FPR95", "AUPR-in", "AUPR-out"]]
            for a in aggregates {
                agg.append([a.detector, a.ood, "\(a.runs.count)", spread(a.mean.auroc, a.std.auroc),
                            spread(a.mean.fpr95InPositive, a.std.fpr95InPositive), spread(a.mean.auprIn, a.std.auprIn),
                            spread(a.mean.auprOut, a.std.auprOut)])
            }
            out += "\nmean ± sample standard deviation over runs (seeds):\n" + Self.layout(agg, textColumns: 2)
        }
        out += "in-distribution \(inDistribution) (n = \(rows.first?.inCount ?? 0)), fitted on \(train) (n = \(trainCount)); "
            + "percent; score higher = more in-distribution; FPR95 = FPR at 95% TPR with in-distribution positive; "
            + "AUPR-in/out = average precision with ID/OOD positive"
        if bootstrapResamples > 0 {
            out += String(format: "; [low, high] = %g%% percentile bootstrap interval, %d resamples (seed %llu)",
                          confidence * 100, bootstrapResamples, seed)
        }
        return out + "\n"
    }

    /// Left-aligned text columns, right-aligned numbers, a rule under the header.
    private static func layout(_ lines: [[String]], textColumns: Int) -> String {
        var widths = [Int](repeating: 0, count: lines[0].count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        var out = ""
        for (k, line) in lines.enumerated() {
            let cells = line.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i < textColumns ? cell + pad : pad + cell
            }
            out += cells.joined(separator: "  ") + "\n"
            if k == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        return out
    }
}

extension ExampleSource {
    /// The score-file columns `source,source_index,crop_x,crop_y` of an example (CSV fields;
    /// empty for an unknown source or a non-crop's corner), shared by `flowood evaluate` and
    /// `flowood score`.
    public static func csvFields(_ source: ExampleSource?) -> String {
        guard let source else { return ",,," }
        return "\(csvField(source.source)),\(source.index),\(source.cropX.map(String.init) ?? ""),\(source.cropY.map(String.init) ?? "")"
    }
}

/// A CSV field: as is, or quoted with doubled quotes when it holds a comma, quote or newline
/// (RFC 4180).
public func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// A detector and the model run (seed) it belongs to.
public struct RunDetector {
    public var detector: any OODDetector
    /// The run's label in tables and files (its directory as given), "" for none.
    public var run: String

    public init(_ detector: any OODDetector, run: String = "") {
        self.detector = detector
        self.run = run
    }
}

/// Runs detectors against OOD sets: fit every detector on the in-distribution training set,
/// score the in-distribution test set and each OOD set, compute `OODMetrics`, their bootstrap
/// intervals, and aggregates over the runs of each detector.
///
/// Data: the training set is `inDistribution.trainCounterpart` (at most `trainCount`
/// examples); the test and OOD sets have at most `subset` examples each (generated sets exactly
/// `subset`, or `DataSpec.defaultGeneratedCount`). All loads use `seed`. Tabular OOD sets are
/// standardised with the in-distribution class's training statistics. Each detector is fitted
/// with its own generator, `SeededGenerator(seed: seed ^ FNV-1a(name))`, so adding a detector
/// does not change the others' results (runs of one detector share it).
///
/// Intervals: `bootstrapMetrics` with `bootstrapResamples` rounds (0 disables them) at
/// `confidence`, drawn from `SeededGenerator(seed: seed ^ FNV-1a("bootstrap/<detector>/<ood>"))`
/// — independent of the run's label and of the other rows.
public struct OODEvaluation {
    public var inDistribution: DataSpec
    public var ood: [DataSpec]
    public var subset: Int?
    public var trainCount: Int?
    public var seed: UInt64
    public var dataDir: String?
    public var showProgress = false
    /// Bootstrap rounds per (detector, run, OOD set); 0 for no intervals.
    public var bootstrapResamples = 1000
    /// Coverage of the intervals.
    public var confidence = 0.95

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

    /// Fits and scores every detector (one run each).
    /// - Throws: data errors, `DetectorError` (with the detector, the set and, for a non-finite
    ///   score, the example index), `MetricsError`.
    public func run(_ detectors: [any OODDetector]) throws -> EvaluationResult {
        try run(detectors.map { RunDetector($0) })
    }

    /// Fits and scores every detector of every run.
    public func run(_ detectors: [RunDetector]) throws -> EvaluationResult {
        let (train, test, oodSets) = try loadData()
        return try run(detectors, train: DetectorInput(train), test: DetectorInput(test), ood: oodSets.map(DetectorInput.init))
    }

    /// Fits and scores every detector on already loaded sets (shared between runs, so features
    /// are extracted once per classifier).
    public func run(_ detectors: [any OODDetector], train: DetectorInput, test: DetectorInput,
                    ood oodSets: [DetectorInput]) throws -> EvaluationResult {
        try run(detectors.map { RunDetector($0) }, train: train, test: test, ood: oodSets)
    }

    /// Fits and scores every detector of every run on already loaded sets.
    public func run(_ detectors: [RunDetector], train: DetectorInput, test: DetectorInput,
                    ood oodSets: [DetectorInput]) throws -> EvaluationResult {
        let pairs = detectors.map { "\($0.detector.name)\u{0}\($0.run)" }
        precondition(Set(pairs).count == pairs.count, "OODEvaluation: a detector appears twice in one run: \(detectors.map { "\($0.detector.name)@\($0.run)" })")
        var names: [String] = []
        for d in detectors where !names.contains(d.detector.name) { names.append(d.detector.name) }
        let bar = ProgressBar("evaluate", total: detectors.count * (2 + oodSets.count), unit: "step")
        bar.quiet = !showProgress
        var rows: [EvaluationRow] = []
        var scores: [ScoreList] = []
        for entry in detectors {
            let detector = entry.detector
            let label = entry.run.isEmpty ? detector.name : "\(detector.name) (\(entry.run))"
            var rng = SeededGenerator(seed: seed ^ DataSpec.fnv1a(detector.name))
            try detector.fit(train, using: &rng)
            bar.advance(by: 1, fields: ["detector": label, "step": "fit"])
            let inScores = try detector.scores(test)
            scores.append(ScoreList(detector: detector.name, run: entry.run, dataset: test.key, scores: inScores))
            bar.advance(by: 1, fields: ["detector": label, "step": test.key])
            for set in oodSets {
                let outScores = try detector.scores(set)
                scores.append(ScoreList(detector: detector.name, run: entry.run, dataset: set.key, scores: outScores))
                var intervals: MetricIntervals?
                if bootstrapResamples > 0 {
                    var boot = SeededGenerator(seed: seed ^ DataSpec.fnv1a("bootstrap/\(detector.name)/\(set.key)"))
                    intervals = try bootstrapMetrics(inScores: inScores, outScores: outScores, resamples: bootstrapResamples,
                                                     confidence: confidence, using: &boot)
                }
                rows.append(EvaluationRow(detector: detector.name, run: entry.run, inDistribution: test.key, ood: set.key,
                                          inCount: inScores.count, outCount: outScores.count,
                                          metrics: try OODMetrics(inScores: inScores, outScores: outScores), intervals: intervals))
                bar.advance(by: 1, fields: ["detector": label, "step": set.key])
            }
        }
        return EvaluationResult(train: train.key, trainCount: train.count, inDistribution: test.key, ood: oodSets.map(\.key),
                                detectors: names, seed: seed, subset: subset, bootstrapResamples: bootstrapResamples,
                                confidence: confidence, rows: rows, aggregates: Self.aggregate(rows, detectors: names, ood: oodSets.map(\.key)),
                                scores: scores, sets: ([test] + oodSets).map { EvaluatedSet($0.data) })
    }

    /// Mean and sample std over runs of every (detector, OOD set), in detector then OOD order.
    static func aggregate(_ rows: [EvaluationRow], detectors: [String], ood: [String]) -> [AggregateRow] {
        var out: [AggregateRow] = []
        for detector in detectors {
            for set in ood {
                let group = rows.filter { $0.detector == detector && $0.ood == set }
                guard !group.isEmpty else { continue }
                let columns = (0..<6).map { k in meanAndStd(group.map { $0.metrics.named[k].value }) }
                func metrics(_ pick: ((mean: Double, std: Double)) -> Double) -> OODMetrics {
                    let v = columns.map(pick)
                    return OODMetrics(auroc: v[0], fpr95InPositive: v[1], fpr95OutPositive: v[2], auprIn: v[3], auprOut: v[4],
                                      detectionError: v[5])
                }
                out.append(AggregateRow(detector: detector, ood: set, runs: group.map(\.run), mean: metrics(\.mean), std: metrics(\.std)))
            }
        }
        return out
    }
}
