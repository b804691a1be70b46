import ArgumentParser
import Foundation
import Testing
import TestSupport
@testable import FlowOODCLI
import NN
import OOD

/// Parses `arguments` as the `flowood` command line, expecting a user error whose message is
/// `message` and whose exit code is `exitCode` (like argument-parser's `AssertParseCommand`).
private func expectParseError(_ arguments: [String], message: String, exitCode: ExitCode = .validationFailure,
                              sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let command = try FlowOODCommand.parseAsRoot(arguments)
        Issue.record("parsed \(arguments) as \(command); expected an error", sourceLocation: sourceLocation)
    } catch {
        #expect(FlowOODCommand.message(for: error) == message, sourceLocation: sourceLocation)
        #expect(FlowOODCommand.exitCode(for: error) == exitCode, sourceLocation: sourceLocation)
    }
}

/// Compares a help text with its recorded snapshot line by line, so a failure shows the first difference.
private func expectSnapshot(_ actual: String, _ recorded: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let r = recorded.split(separator: "\n", omittingEmptySubsequences: false)
    if let i = zip(a, r).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("line \(i + 1) differs:\n  actual:   \(a[i])\n  recorded: \(r[i])\n--- actual ---\n\(actual)",
                     sourceLocation: sourceLocation)
    } else if a.count != r.count {
        Issue.record("\(a.count) lines, recorded \(r.count)\n--- actual ---\n\(actual)", sourceLocation: sourceLocation)
    }
}

@Suite struct Help {
    @Test func rootHelpListsTheSubcommands() {
        // Snapshot: re-record deliberately when the commands change.
        expectSnapshot(FlowOODCommand.helpMessage(columns: 80), """
        OVERVIEW: Reproduce normalizing-flow OOD-detection papers as a literate report.

        FlowOOD trains normalizing flows and classifiers on packaged data (FashionMNIST
        from Debian's dataset-fashion-mnist), evaluates out-of-distribution detectors,
        and renders the chapters in chapters/ into a report. Set FLOWOOD_THREADS to
        limit worker threads and FLOWOOD_DATA to point at a data directory.

        USAGE: flowood <subcommand>

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.

        SUBCOMMANDS:
          train-classifier        Train an image classifier on FashionMNIST and save a
                                  checkpoint.
          train-flow              Train a normalizing flow on a data set, with
                                  checkpoints and resumption.
          score                   Score data sets under a trained flow: per-sample
                                  log-likelihood and bits/dim.
          evaluate                Evaluate OOD detectors of a trained classifier
                                  against OOD data sets.
          bench                   Measure train and eval throughput of the reference
                                  models.
          info                    Show the engine's threads, BLAS,
                                  Cairo/Pango/cmark-gfm versions and data locations.
          report                  Build the report from the Markdown chapters in
                                  chapters/.
          gallery                 Render one figure of each chart kind (synthetic data)
                                  as PNG, SVG and PDF.

          See 'flowood help <subcommand>' for detailed help.
        """)
    }

    @Test func trainClassifierHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: TrainClassifier.self, columns: 80), """
        OVERVIEW: Train an image classifier on FashionMNIST and save a checkpoint.

        Trains the cnn-fmnist architecture (93,962 parameters; see
        shared/bench/reference) or a small ResNet with Adam and a cosine learning-rate
        schedule, prints a progress bar, evaluates test accuracy after each epoch, and
        writes model.safetensors, optimizer.safetensors, config.json and state.json
        into --out after every epoch. Rerunning the same command resumes after the last
        finished epoch; --epochs can be raised to train further.

        USAGE: flowood train-classifier <options>

        OPTIONS:
          --data-dir <data-dir>   Data directory with the FashionMNIST IDX .gz files
                                  (default: FLOWOOD_DATA, then
                                  /usr/share/datasets/fashion-mnist).
          --out <out>             Output directory for the checkpoint. (default:
                                  runs/cnn-fmnist)
          --architecture <architecture>
                                  Architecture: cnn-fmnist, or resnet-<width> (a small
                                  ResNet with 4·width features; resnet = resnet-32).
                                  (default: cnn-fmnist)
          --epochs <epochs>       Number of epochs. (default: 15)
          --batch-size <batch-size>
                                  Mini-batch size. (default: 128)
          --lr <lr>               Peak learning rate of Adam. (default: 0.003)
          --weight-decay <weight-decay>
                                  Decoupled weight decay (AdamW style); 0 disables it.
                                  (default: 0.0)
          --cosine/--no-cosine    Cosine learning-rate decay over the run. (default:
                                  --cosine)
          --seed <seed>           Random seed for initialisation and shuffling.
                                  (default: 0)
          --train-limit <train-limit>
                                  Use only the first N training images (0 = all
                                  60,000). (default: 0)
          --augment               Augment training images: random shifts of up to 2
                                  pixels and horizontal flips.
          --restart               Ignore an existing run in --out and start again.
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func evaluateHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: Evaluate.self, columns: 80), """
        OVERVIEW: Evaluate OOD detectors of a trained classifier against OOD data sets.

        Fits each detector on the in-distribution training set (the train part of
        --in), scores the --in test set and every --ood set, and prints AUROC, FPR95
        (false-positive rate at 95% true-positive rate, in-distribution positive),
        AUPR-in and AUPR-out. Scores are higher for more in-distribution inputs. Writes
        metrics.csv, metrics.json and scores.csv (detector,dataset,index,score) into
        --out. Classifier features are cached in --cache, keyed by the weights'
        SHA-256, the data set, count and seed.

        USAGE: flowood evaluate <options>

        OPTIONS:
          --classifier <classifier>
                                  Classifier checkpoint directory (from `flowood
                                  train-classifier`). (default: runs/cnn-fmnist)
          --detectors <detectors> Comma-separated detectors:
                                  msp,odin,energy,react,mahalanobis,knn,lde. (default:
                                  msp,odin,energy,react,mahalanobis,knn,lde)
          --in <in>               In-distribution test set: fashion-mnist-test,
                                  fashion-mnist-classes-<c>-…-test or
                                  tabular-<set>-<class>-test. (default:
                                  fashion-mnist-test)
          --ood <ood>             Comma-separated OOD sets: digits, textures, photos,
                                  gaussian-noise, uniform-noise, constant,
                                  fashion-mnist-inverted, fashion-mnist-flipped,
                                  fashion-mnist-classes-<c>-…-test,
                                  tabular-<wine|breast-cancer>-<class>-test. (default:
                                  digits,textures,photos)
          --subset <subset>       At most this many examples per evaluated set
                                  (generated sets: exactly this many; default 10,000).
          --train-count <train-count>
                                  At most this many in-distribution training examples
                                  to fit the detectors on (default: all).
          --seed <seed>           Seed of the subsets, generated sets and detector
                                  fitting. (default: 0)
          --out <out>             Output directory for metrics.csv, metrics.json and
                                  scores.csv. (default: runs/evaluate)
          --data-dir <data-dir>   Data directory or root (default: FLOWOOD_DATA, then
                                  the installed packages).
          --cache <cache>         Feature cache directory. (default:
                                  build/cache/features)
          --no-cache              Do not read or write the feature cache.
          --odin-temperature <odin-temperature>
                                  ODIN temperature T. (default: 1000.0)
          --odin-epsilon <odin-epsilon>
                                  ODIN input perturbation ε (in [0, 1] pixel units).
                                  (default: 0.0014)
          --react-percentile <react-percentile>
                                  ReAct clipping percentile of the training
                                  activations. (default: 90.0)
          --knn-k <knn-k>         KNN: distance to the k-th nearest training feature.
                                  (default: 50)
          --lde-epochs <lde-epochs>
                                  LDE flow training epochs. (default: 1)
          --lde-pca <lde-pca>     LDE: reduce features to this many principal
                                  components first.
          --lde-raw               LDE: raw features instead of L2-normalised ones.
          --lde-lr <lde-lr>       LDE Adam learning rate. (default: 0.0001)
          --lde-blocks <lde-blocks>
                                  LDE glow-latent blocks. (default: 10)
          --lde-hidden <lde-hidden>
                                  LDE glow-latent coupling hidden width. (default: 2048)
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func trainFlowHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: TrainFlow.self, columns: 80), """
        OVERVIEW: Train a normalizing flow on a data set, with checkpoints and
        resumption.

        Maximises the log-likelihood of the training images (pixel / 255, dequantised
        by the flow) or, for the vector models, of the flattened pixels (plus U(-ε/2,
        ε/2) noise, ε = 1/1024). Prints a progress bar and one line per epoch with the
        training and validation negative log-likelihood and bits per dimension. The run
        directory gets config.json, state.json and a checkpoint folder epoch-NNNN
        (model.safetensors, optimizer.safetensors, config.json), replaced atomically;
        rerunning the same command resumes after the last checkpoint (a different model
        or option is refused; --epochs may be raised). A non-finite loss or gradient
        rolls back to the last epoch and halves the learning rate. Settings can come
        from --config file.json with the same fields in camelCase (e.g. {"model":
        "realnvp", "epochs": 2, "batchSize": 32}); options on the command line override
        the file. Data sets: fashion-mnist-train, fashion-mnist-test, digits, textures,
        photos, gaussian-noise, uniform-noise, constant, fashion-mnist-inverted,
        fashion-mnist-flipped.

        Example: flowood train-flow --data fashion-mnist-train --subset 2000 --epochs 2
        --run-dir runs/realnvp, then flowood score --run-dir runs/realnvp --data
        fashion-mnist-test,digits --out runs/realnvp/scores.csv.

        USAGE: flowood train-flow <options>

        OPTIONS:
          --config <config>       JSON file with settings (fields: the option names in
                                  camelCase).
          --model <model>         Model: realnvp, glow-latent, realnvp-vector.
                                  (default: realnvp)
          --mid <mid>             realnvp: hidden channels of each s/t ResNet.
                                  (default: 64)
          --res-blocks <res-blocks>
                                  realnvp: residual blocks per s/t ResNet. (default: 2)
          --batch-norm/--no-batch-norm
                                  realnvp: batch normalisation in the s/t networks.
                                  (default: on)
          --flow-blocks <flow-blocks>
                                  glow-latent: [ActNorm, linear, coupling] blocks.
                                  (default: 10)
          --couplings <couplings> realnvp-vector: coupling layers. (default: 8)
          --hidden <hidden>       Vector models: hidden units of each coupling network.
                                  (default: 2048 glow-latent, 256 realnvp-vector)
          --data <data>           Training data set. (default: fashion-mnist-train)
          --subset <subset>       Use only the first N images (generated sets: N
                                  images).
          --data-dir <data-dir>   Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA,
                                  then the Debian package paths).
          --epochs <epochs>       Epochs. (default: 10)
          --batch-size <batch-size>
                                  Mini-batch size. (default: 64)
          --lr <lr>               Learning rate (constant; halved after a divergence).
                                  (default: 0.001)
          --optimizer <optimizer> Optimizer: adam or rmsprop. (default: adam)
          --weight-decay <weight-decay>
                                  L2 weight decay added to the gradient; 0 disables it.
                                  (default: 0)
          --clip <clip>           Clip the global gradient norm to this value; 0
                                  disables clipping. (default: 100)
          --seed <seed>           Seed of the initialisation, shuffling, noise and
                                  validation split. (default: 0)
          --checkpoint-every <checkpoint-every>
                                  Write a checkpoint every N epochs (and after the
                                  last). (default: 1)
          --run-dir <run-dir>     Run directory for checkpoints and state. (default:
                                  runs/flow)
          --validation-fraction <validation-fraction>
                                  Fraction of the training data held out for
                                  validation; 0 disables it. (default: 0.05)
          --keep-snapshots        Keep the checkpoint of every epoch (for metrics
                                  against the epoch).
          --negative-data <negative-data>
                                  Negative training (Kirichenko et al. 2020, App. B):
                                  push down the likelihood of this data set.
          --negative-weight <negative-weight>
                                  Negative training: weight of the OOD term. (default:
                                  1)
          --negative-threshold <negative-threshold>
                                  Negative training: only OOD samples with
                                  log-likelihood (nats) above this count. (default:
                                  -30000 + D·ln 256, the paper's FashionMNIST value)
          --max-divergence-retries <max-divergence-retries>
                                  Divergences survived (roll back, halve the learning
                                  rate) before giving up. (default: 3)
          --restart               Ignore an existing run in the run directory and start
                                  again.
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func scoreHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: ScoreFlow.self, columns: 80), """
        OVERVIEW: Score data sets under a trained flow: per-sample log-likelihood and
        bits/dim.

        Loads the latest checkpoint of a train-flow run directory (or the snapshot of
        --epoch), evaluates it in evaluation mode without gradients, and writes one CSV
        row per sample: dataset,index,log_likelihood_nats,bits_per_dim. Images use bpd
        = -log p(v)/(D ln 2) + 8 (256 levels); vector models use the latent definition
        -log2 p(z)/D - log2(1/1024). The dequantisation noise and the generated data
        sets are seeded by --seed. A non-finite score is an error naming the sample.
        The CSV is written atomically; a summary per data set goes to standard output.
        Data sets: fashion-mnist-train, fashion-mnist-test, digits, textures, photos,
        gaussian-noise, uniform-noise, constant, fashion-mnist-inverted,
        fashion-mnist-flipped.

        USAGE: flowood score --run-dir <run-dir> --data <data> --out <out> [--epoch <epoch>] [--subset <subset>] [--data-dir <data-dir>] [--batch-size <batch-size>] [--seed <seed>]

        OPTIONS:
          --run-dir <run-dir>     Run directory written by train-flow.
          --data <data>           Comma-separated data sets to score.
          --out <out>             Output CSV file.
          --epoch <epoch>         Score the snapshot of this epoch (needs
                                  --keep-snapshots in training) instead of the latest
                                  checkpoint.
          --subset <subset>       Use only the first N images of each data set
                                  (generated sets: N images; default 2000).
          --data-dir <data-dir>   Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA,
                                  then the Debian package paths).
          --batch-size <batch-size>
                                  Samples per forward pass. (default: 256)
          --seed <seed>           Seed of the dequantisation noise and of the generated
                                  data sets. (default: 0)
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func versionIsACleanExit() {
        expectParseError(["--version"], message: "0.1.0", exitCode: .success)
    }
}

@Suite struct TrainClassifierArguments {
    @Test func parsesEveryOption() throws {
        let parsed = try FlowOODCommand.parseAsRoot([
            "train-classifier", "--data-dir", "/data", "--out", "runs/x", "--epochs", "3", "--batch-size", "64",
            "--lr", "0.01", "--weight-decay", "0.05", "--no-cosine", "--seed", "9", "--train-limit", "100", "--restart",
        ])
        let command = try #require(parsed as? TrainClassifier)
        #expect(command.dataDir == "/data")
        #expect(command.out == "runs/x")
        #expect(command.architecture == "cnn-fmnist")
        #expect(command.epochs == 3 && command.batchSize == 64 && command.seed == 9 && command.trainLimit == 100)
        #expect(command.lr == 0.01 && command.weightDecay == 0.05)
        #expect(!command.cosine && command.restart)
    }

    @Test func defaultsMatchTheReferenceRun() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["train-classifier"]) as? TrainClassifier)
        #expect(command.dataDir == nil && command.out == "runs/cnn-fmnist")
        #expect(command.epochs == 15 && command.batchSize == 128 && command.lr == 3e-3)
        #expect(command.weightDecay == 0 && command.cosine && command.seed == 0 && command.trainLimit == 0 && !command.restart)
    }

    @Test func rejectsNonPositiveSettings() {
        expectParseError(["train-classifier", "--epochs", "0"], message: "--epochs must be at least 1")
        expectParseError(["train-classifier", "--batch-size", "0"], message: "--batch-size must be at least 1")
        expectParseError(["train-classifier", "--lr", "0"], message: "--lr must be positive")
    }

    @Test func resnetAndAugmentation() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["train-classifier", "--architecture", "resnet-16", "--augment"]) as? TrainClassifier)
        #expect(command.architecture == "resnet-16" && command.augment)
        #expect(try #require(try FlowOODCommand.parseAsRoot(["train-classifier"]) as? TrainClassifier).augment == false)
    }

    @Test func unknownArchitectureListsTheChoices() {
        expectParseError(["train-classifier", "--architecture", "resnet18"],
                         message: "unknown --architecture 'resnet18'; choose cnn-fmnist or resnet-<width> (e.g. cnn-fmnist, resnet-32)")
    }

    @Test func misspelledOptionIsReported() {
        do {
            _ = try FlowOODCommand.parseAsRoot(["train-classifier", "--epoch", "3"])
            Issue.record("--epoch was accepted")
        } catch {
            #expect(FlowOODCommand.message(for: error).contains("'--epoch'"), "\(FlowOODCommand.message(for: error))")
            #expect(FlowOODCommand.exitCode(for: error) == .validationFailure)
        }
    }
}

@Suite struct OtherCommands {
    @Test func benchRejectsAnUnknownBenchmark() throws {
        var command = try FlowOODCommand.parseAsRoot(["bench", "--bench", "resnet"])
        #expect(command is Bench)
        do {
            try command.run()
            Issue.record("unknown benchmark ran")
        } catch {
            #expect(FlowOODCommand.message(for: error) == "unknown benchmark 'resnet'; available: cnn-fmnist, realnvp-fmnist-small, glow-latent-512, gemm, conv, linalg")
        }
    }

    @Test func reportWithNoChaptersFails() throws {
        try withTemporaryDirectory { dir in
            var command = try FlowOODCommand.parseAsRoot(["report", "--chapters", dir.path, "--profile", "smoke"])
            let report = try #require(command as? Report)
            #expect(report.profile == .smoke && report.chapters == dir.path && !report.check)
            #expect(throws: ExitCode.self) { try command.run() }
        }
    }

    @Test func reportWithAMissingChaptersDirectoryFails() throws {
        try withTemporaryDirectory { dir in
            var command = try FlowOODCommand.parseAsRoot(["report", "--chapters", dir.path + "/absent"])
            #expect(throws: ExitCode.self) { try command.run() }
        }
    }

    @Test func reportCheckAcceptsTheProjectChapters() throws {
        // The chapters of this repository check clean (the same check CI's smoke report starts with).
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var command = try FlowOODCommand.parseAsRoot(["report", "--check", "--chapters", root.appendingPathComponent("chapters").path])
        try command.run()
    }

    @Test func reportRejectsAnUnknownProfile() {
        do {
            _ = try FlowOODCommand.parseAsRoot(["report", "--profile", "full"])
            Issue.record("--profile full was accepted")
        } catch {
            let message = FlowOODCommand.message(for: error)
            #expect(message.contains("'full'") && message.contains("paper") && message.contains("smoke"), "\(message)")
        }
    }

    @Test func unknownSubcommandIsAnError() {
        do {
            _ = try FlowOODCommand.parseAsRoot(["train"])
            Issue.record("'train' was accepted")
        } catch {
            #expect(FlowOODCommand.exitCode(for: error) != .success)
            #expect(FlowOODCommand.message(for: error).contains("train"))
        }
    }
}

@Suite struct EvaluateArguments {
    @Test func defaultsAreAllDetectorsAgainstDigitsTexturesPhotos() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["evaluate"]) as? Evaluate)
        #expect(command.detectorList == ["msp", "odin", "energy", "react", "mahalanobis", "knn", "lde"])
        #expect(command.inDistribution == "fashion-mnist-test" && command.oodList == ["digits", "textures", "photos"])
        #expect(command.classifier == "runs/cnn-fmnist" && command.out == "runs/evaluate" && command.seed == 0)
        #expect(command.subset == nil && command.trainCount == nil && !command.noCache)
        #expect(command.odinTemperature == 1000 && command.odinEpsilon == 0.0014 && command.reactPercentile == 90)
        #expect(command.knnK == 50 && command.ldeEpochs == 1 && command.ldePca == nil && !command.ldeRaw && command.ldeLr == 1e-4)
    }

    @Test func parsesEveryOption() throws {
        let parsed = try FlowOODCommand.parseAsRoot([
            "evaluate", "--classifier", "c", "--detectors", "msp, knn", "--in", "fashion-mnist-classes-0-1-test",
            "--ood", "fashion-mnist-classes-2-test,constant", "--subset", "100", "--train-count", "500", "--seed", "4",
            "--out", "o", "--data-dir", "d", "--cache", "k", "--no-cache", "--odin-temperature", "10", "--odin-epsilon", "0",
            "--react-percentile", "95", "--knn-k", "5", "--lde-epochs", "2", "--lde-pca", "64", "--lde-raw", "--lde-lr", "0.001",
            "--lde-blocks", "4", "--lde-hidden", "256",
        ])
        let command = try #require(parsed as? Evaluate)
        #expect(command.detectorList == ["msp", "knn"] && command.oodList == ["fashion-mnist-classes-2-test", "constant"])
        #expect(command.classifier == "c" && command.out == "o" && command.dataDir == "d" && command.cache == "k" && command.noCache)
        #expect(command.subset == 100 && command.trainCount == 500 && command.seed == 4)
        #expect(command.odinTemperature == 10 && command.odinEpsilon == 0 && command.reactPercentile == 95 && command.knnK == 5)
        #expect(command.ldeEpochs == 2 && command.ldePca == 64 && command.ldeRaw && command.ldeLr == 0.001)
        #expect(command.ldeBlocks == 4 && command.ldeHidden == 256)
        #expect(command.makeDetectors(FeatureExtractor(classifier: Classifier(ClassifierConfig()))).map(\.name) == ["msp", "knn"])
    }

    @Test func rejectsUnknownDetectorsAndDataSets() {
        expectParseError(["evaluate", "--detectors", "msp,mahalonobis"],
                         message: "unknown detector 'mahalonobis'; choose from msp,odin,energy,react,mahalanobis,knn,lde")
        expectParseError(["evaluate", "--detectors", "msp,msp"], message: "--detectors lists a detector twice")
        expectParseError(["evaluate", "--ood", "mnist"], message: DataSpecError(key: "mnist").description)
        expectParseError(["evaluate", "--in", "digits"], message: "--in digits has no training part to fit the detectors on")
        expectParseError(["evaluate", "--subset", "0"], message: "--subset must be at least 1")
        expectParseError(["evaluate", "--lde-pca", "3"], message: "--lde-pca must be even and at least 2")
        expectParseError(["evaluate", "--knn-k", "0"], message: "--knn-k must be at least 1")
    }

    @Test func aMissingCheckpointIsAUserError() throws {
        try withTemporaryDirectory { dir in
            var command = try FlowOODCommand.parseAsRoot(["evaluate", "--classifier", dir.path + "/none", "--out", dir.path + "/out"])
            do {
                try command.run()
                Issue.record("ran without a checkpoint")
            } catch {
                #expect(FlowOODCommand.exitCode(for: error) == .failure)
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/out"))
        }
    }

    @Test func evaluatesAnUntrainedCheckpointEndToEnd() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else { return }
        try withTemporaryDirectory { dir in
            let config = ClassifierConfig(seed: 3)
            let checkpoint = dir.appendingPathComponent("clf")
            try Checkpoint.save(Classifier(config), config: config, to: checkpoint)
            let out = dir.appendingPathComponent("eval")
            var command = try FlowOODCommand.parseAsRoot([
                "evaluate", "--classifier", checkpoint.path, "--detectors", "msp,energy,knn", "--ood", "constant,uniform-noise",
                "--subset", "20", "--train-count", "60", "--knn-k", "5", "--out", out.path, "--cache", dir.appendingPathComponent("cache").path,
            ])
            try command.run()
            let metrics = try String(contentsOf: out.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
            #expect(metrics.count == 1 + 3 * 2)
            #expect(metrics[1].hasPrefix("msp,fashion-mnist-test,constant,20,20,"))
            let scores = try String(contentsOf: out.appendingPathComponent("scores.csv"), encoding: .utf8).split(separator: "\n")
            #expect(scores.count == 1 + 3 * 60)
            // Features of the four sets were cached (train, test, two OOD sets).
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache").path).count == 4)
        }
    }
}
