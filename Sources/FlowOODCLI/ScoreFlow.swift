import ArgumentParser
import Foundation
import NN
import Flows
import OOD

/// `flowood score`: per-sample log-likelihoods and bits per dimension under a trained flow.
struct ScoreFlow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score data sets under a trained flow: per-sample log-likelihood and bits/dim.",
        discussion: """
        Loads the latest checkpoint of a train-flow run directory (or the snapshot of --epoch), \
        evaluates it in evaluation mode without gradients, and writes one CSV row per sample: \
        \(scoreFlowHeader). dataset, count and seed reproduce the load (the catalog's seeded \
        subset); index is the position in it; source and source_index name the file and the \
        0-based record in it (IDX image, CSV row without header) and crop_x, crop_y the \
        top-left corner of a 28x28 crop (texture and photo sets); generated noise has source \
        "generated". Images use bpd = -log p(v)/(D ln 2) + 8 (256 levels); vector models use \
        the latent definition -log2 p(z)/D - log2(1/1024). The dequantisation noise and the \
        data subsets are seeded by --seed. Tabular sets are standardised with the training \
        statistics of the class the run was trained on (or of --standardize-like). A \
        non-finite score is an error naming the sample. The CSV is written atomically; a \
        summary per data set goes to standard output. Data sets (SHA-256 verified): \
        \(flowDatasetNames.joined(separator: ", ")).
        """)

    @Option(help: "Run directory written by train-flow.")
    var runDir: String

    @Option(help: "Comma-separated data sets to score.")
    var data: String

    @Option(help: "Output CSV file.")
    var out: String

    @Option(help: "Score the snapshot of this epoch (needs --keep-snapshots in training) instead of the latest checkpoint.")
    var epoch: Int?

    @Option(help: "Score a seeded random subset of N examples of each data set (generated sets: N examples; default: all, generated 2000).")
    var subset: Int?

    @Option(help: "Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA, then the Debian package paths).")
    var dataDir: String?

    @Option(help: "Samples per forward pass.")
    var batchSize: Int = 256

    @Option(help: "Seed of the dequantisation noise, the subsets and the generated data sets.")
    var seed: UInt64 = 0

    @Option(help: "Standardise tabular sets with the training statistics of this tabular set's class (default: the run's training set).")
    var standardizeLike: String?

    /// The data set names of --data.
    var datasetNames: [String] { data.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let subset, subset < 1 { throw ValidationError("--subset must be at least 1") }
        guard !datasetNames.isEmpty else { throw ValidationError("--data names no data set") }
        for name in datasetNames where !flowDatasetNames.contains(name) {
            throw ValidationError("unknown data set '\(name)'; available: \(flowDatasetNames.joined(separator: ", "))")
        }
        if let standardizeLike {
            guard let spec = try? DataSpec(key: standardizeLike), spec.isTabular else {
                throw ValidationError("--standardize-like must name a tabular set (tabular-<set>-<class>-<train|test>), got '\(standardizeLike)'")
            }
        }
    }

    func run() throws {
        try runReportingErrors { try execute() }
    }

    /// The command's work, throwing typed errors (run() prints them as "error: ...").
    func execute() throws {
        let run = try FlowRun(directory: URL(fileURLWithPath: runDir))
        let flow = try run.loadFlow(epoch: epoch)
        let like = try standardizeLike.map { try DataSpec(key: $0) } ?? trainingDataSpec(of: run).flatMap { $0.isTabular ? $0 : nil }
        var csv = scoreFlowHeader + "\n"
        for name in datasetNames {
            let set = try loadFlowDataset(named: name, subset: subset, dataDir: dataDir, seed: seed, standardizeLike: like)
            var scorer = FlowScorer(flow: flow, spec: run.spec, batchSize: batchSize, seed: seed)
            scorer.showProgress = true
            scorer.progressLabel = name
            let scores = try scorer.score(try flowData(set, for: run.spec.dataKind, name: name), name: name)
            let prefix = "\(name),\(set.count),\(seed),"
            for (i, (ll, bpd)) in zip(scores.logLikelihood, scores.bitsPerDimension).enumerated() {
                csv += prefix + "\(i)," + ExampleSource.csvFields(set.data.sources?[i]) + ",\(ll),\(bpd)\n"
            }
            print(String(format: "%@: %d samples, mean %.4f bits/dim, mean log-likelihood %.2f nats",
                         name, scores.logLikelihood.count, scores.meanBitsPerDimension, scores.meanLogLikelihood))
        }
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try writeAtomically(Data(csv.utf8), to: url)
    }
}

/// The columns of `flowood score`'s CSV (README, "Score files").
let scoreFlowHeader = "dataset,count,seed,index,source,source_index,crop_x,crop_y,log_likelihood_nats,bits_per_dim"
