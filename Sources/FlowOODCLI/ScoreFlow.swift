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
        dataset,index,log_likelihood_nats,bits_per_dim. Images use bpd = -log p(v)/(D ln 2) + 8 \
        (256 levels); vector models use the latent definition -log2 p(z)/D - log2(1/1024). The \
        dequantisation noise and the generated data sets are seeded by --seed. A non-finite \
        score is an error naming the sample. The CSV is written atomically; a summary per data \
        set goes to standard output. Data sets: \(flowDatasetNames.joined(separator: ", ")).
        """)

    @Option(help: "Run directory written by train-flow.")
    var runDir: String

    @Option(help: "Comma-separated data sets to score.")
    var data: String

    @Option(help: "Output CSV file.")
    var out: String

    @Option(help: "Score the snapshot of this epoch (needs --keep-snapshots in training) instead of the latest checkpoint.")
    var epoch: Int?

    @Option(help: "Use only the first N images of each data set (generated sets: N images; default 2000).")
    var subset: Int?

    @Option(help: "Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA, then the Debian package paths).")
    var dataDir: String?

    @Option(help: "Samples per forward pass.")
    var batchSize: Int = 256

    @Option(help: "Seed of the dequantisation noise and of the generated data sets.")
    var seed: UInt64 = 0

    /// The data set names of --data.
    var datasetNames: [String] { data.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let subset, subset < 1 { throw ValidationError("--subset must be at least 1") }
        guard !datasetNames.isEmpty else { throw ValidationError("--data names no data set") }
        for name in datasetNames where !flowDatasetNames.contains(name) {
            throw ValidationError("unknown data set '\(name)'; available: \(flowDatasetNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        try runReportingErrors { try execute() }
    }

    /// The command's work, throwing typed errors (run() prints them as "error: ...").
    func execute() throws {
        let run = try FlowRun(directory: URL(fileURLWithPath: runDir))
        let flow = try run.loadFlow(epoch: epoch)
        var csv = "dataset,index,log_likelihood_nats,bits_per_dim\n"
        for name in datasetNames {
            let images = try loadFlowDataset(named: name, subset: subset, dataDir: dataDir, seed: seed)
            var scorer = FlowScorer(flow: flow, spec: run.spec, batchSize: batchSize, seed: seed)
            scorer.showProgress = true
            scorer.progressLabel = name
            let scores = try scorer.score(try flowData(images, for: run.spec.dataKind, name: name), name: name)
            for (i, (ll, bpd)) in zip(scores.logLikelihood, scores.bitsPerDimension).enumerated() {
                csv += "\(name),\(i),\(ll),\(bpd)\n"
            }
            print(String(format: "%@: %d samples, mean %.4f bits/dim, mean log-likelihood %.2f nats",
                         name, scores.logLikelihood.count, scores.meanBitsPerDimension, scores.meanLogLikelihood))
        }
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try writeAtomically(Data(csv.utf8), to: url)
    }
}
