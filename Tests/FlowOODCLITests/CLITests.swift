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
          evaluate                Evaluate OOD detectors of trained classifiers and
                                  flows against OOD data sets.
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
        finished epoch; --epochs can be raised to train further. Data come from the
        catalog (SHA-256 verified): fashion-mnist-train and fashion-mnist-test, or with
        --classes only the images of those classes
        (fashion-mnist-classes-<c>-…-train/test), labels remapped to their positions in
        the list (--classes 2,5 trains a 2-way classifier: class 2 is label 0, class 5
        label 1). config.json records the classes ("fashionMNISTClasses"); flowood
        evaluate then uses them as the in-distribution set and the other classes as
        `--ood held-out`.

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
          --subset <subset>       Train on a seeded random subset of N training images
                                  (drawn with --seed; default: all).
          --train-limit <train-limit>
                                  Use only the first N training images, after --subset
                                  (0 = all). (default: 0)
          --classes <classes>     Comma-separated FashionMNIST classes (0-9, at least
                                  two) to train on; the others are held out. Labels
                                  become positions in this list. (default: all ten)
          --augment               Augment training images: random shifts of up to 2
                                  pixels and horizontal flips.
          --restart               Ignore an existing run in --out and start again.
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func evaluateHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: Evaluate.self, columns: 80), """
        OVERVIEW: Evaluate OOD detectors of trained classifiers and flows against OOD
        data sets.

        Fits each detector on the in-distribution training set (the train part of
        --in), scores the --in test set and every --ood set, and prints AUROC, FPR95
        (false-positive rate at 95% true-positive rate, in-distribution positive),
        AUPR-in and AUPR-out, each with a percentile-bootstrap interval (--bootstrap
        resamples of the ID and OOD scores, stratified, seeded by --seed). Scores are
        higher for more in-distribution inputs. Classifier detectors (msp, odin,
        energy, react, mahalanobis, knn, lde) use --classifier runs; flow detectors use
        --flow runs (train-flow --run-dir): likelihood scores -bpd, typicality -|bpd -
        mean training bpd|, through the same scorer as flowood score. Several
        comma-separated runs (one per seed) are evaluated alike and aggregated as mean
        ± sample standard deviation per detector and OOD set. Tabular sets
        (tabular-<set>-<class>-test) work with flow detectors only. A classifier
        trained with --classes sets the in-distribution classes; --ood held-out names
        the other classes. Writes metrics.csv (one row per detector, run and OOD set,
        with interval columns), aggregate.csv (mean and std over runs), metrics.json
        and scores.csv
        (detector,run,dataset,count,seed,index,source,source_index,crop_x,crop_y,score;
        see README, "Score files") into --out. Classifier features are cached in
        --cache, keyed by the weights' SHA-256, the data set, count, seed and the
        SHA-256 of the examples' pixels. Digits is our MNIST stand-in (scikit-learn's
        8x8 digits rendered MNIST-style).

        USAGE: flowood evaluate <options>

        OPTIONS:
          --classifier <classifier>
                                  Comma-separated classifier run directories from
                                  `flowood train-classifier`, one per seed (results are
                                  aggregated over them). (default: runs/cnn-fmnist when
                                  a classifier detector is chosen)
          --flow <flow>           Comma-separated flow run directories from `flowood
                                  train-flow --run-dir`, one per seed, for the
                                  likelihood and typicality detectors (latest
                                  checkpoint).
          --detectors <detectors> Comma-separated detectors: classifier detectors
                                  msp,odin,energy,react,mahalanobis,knn,lde; flow
                                  detectors likelihood,typicality. (default: the
                                  classifier detectors, unless only --flow is given or
                                  --in is tabular; plus the flow detectors with --flow)
          --in <in>               In-distribution test set: fashion-mnist-test,
                                  fashion-mnist-classes-<c>-…-test or
                                  tabular-<set>-<class>-test (flow detectors only).
                                  (default: the classifier's classes, else
                                  fashion-mnist-test)
          --ood <ood>             Comma-separated OOD sets: digits (our MNIST stand-in:
                                  scikit-learn's 8x8 digits rendered MNIST-style),
                                  textures, photos, gaussian-noise, uniform-noise,
                                  constant, fashion-mnist-inverted,
                                  fashion-mnist-flipped,
                                  fashion-mnist-classes-<c>-…-test, held-out (the
                                  FashionMNIST classes outside --in),
                                  tabular-<wine|breast-cancer>-<class>-test. (default:
                                  digits,textures,photos)
          --subset <subset>       At most this many examples per evaluated set, a
                                  seeded random subset (generated sets: exactly this
                                  many; default 10,000).
          --train-count <train-count>
                                  At most this many in-distribution training examples
                                  (seeded random subset) to fit the detectors on
                                  (default: all).
          --seed <seed>           Seed of the subsets, generated sets, detector
                                  fitting, flow dequantisation noise and bootstrap.
                                  (default: 0)
          --bootstrap <bootstrap> Bootstrap resamples per detector, run and OOD set for
                                  the confidence intervals; 0 disables them. (default:
                                  1000)
          --confidence <confidence>
                                  Coverage of the bootstrap intervals. (default: 0.95)
          --out <out>             Output directory for metrics.csv, aggregate.csv,
                                  metrics.json and scores.csv. (default: runs/evaluate)
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
                                  components first (at least 2; odd numbers work).
          --lde-raw               LDE: raw features instead of L2-normalised ones.
          --lde-lr <lde-lr>       LDE Adam learning rate. (default: 0.0001)
          --lde-blocks <lde-blocks>
                                  LDE glow-latent blocks. (default: 10)
          --lde-hidden <lde-hidden>
                                  LDE glow-latent coupling hidden width. (default: 2048)
          --typicality-count <typicality-count>
                                  Typicality: estimate the mean training bpd on a
                                  seeded random subset of at most N training examples.
                                  (default: 2000)
          --flow-batch-size <flow-batch-size>
                                  Flow detectors: samples per forward pass. (default:
                                  100)
          --version               Show the version.
          -h, --help              Show help information.

        """)
    }

    @Test func trainFlowHelpDocumentsEveryOption() {
        expectSnapshot(FlowOODCommand.helpMessage(for: TrainFlow.self, columns: 80), """
        OVERVIEW: Train a normalizing flow on a data set, with checkpoints and
        resumption.

        Models: realnvp (multi-scale RealNVP; the defaults are the reference layout,
        1,513,587 parameters), glow (multi-scale Glow), and the vector models
        glow-latent, realnvp-vector and residual-flow, which see each image as a vector
        of its H·W pixels. Options marked with model names apply to those models only;
        giving one to another model is an error.

        Maximises the log-likelihood of the training images (pixel / 255, dequantised
        by the flow) or, for the vector models, of the flattened pixels (plus U(-ε/2,
        ε/2) noise, ε = 1/1024). Prints a progress bar and one line per epoch with the
        training and validation negative log-likelihood and bits per dimension. The run
        directory gets config.json, state.json and a checkpoint folder epoch-NNNN
        (model.safetensors, optimizer.safetensors, config.json), replaced atomically;
        rerunning the same command resumes after the last checkpoint (a different model
        or option is refused; --epochs may be raised). A non-finite loss, gradient or
        validation score rolls back to the last epoch and halves the learning rate.
        Settings can come from --config file.json with the same fields in camelCase
        (e.g. {"model": "glow", "levels": 2, "stNet": "highway", "epochs": 2}); options
        on the command line override the file. Data sets: fashion-mnist-train,
        fashion-mnist-test, digits, textures, photos, gaussian-noise, uniform-noise,
        constant, fashion-mnist-inverted, fashion-mnist-flipped,
        fashion-mnist-classes-<c>-…-<train|test>,
        tabular-<breast-cancer|wine>-<class>-<train|test>.

        Example: flowood train-flow --data fashion-mnist-train --subset 2000 --epochs 2
        --run-dir runs/realnvp, then flowood score --run-dir runs/realnvp --data
        fashion-mnist-test,digits --out runs/realnvp/scores.csv.

        USAGE: flowood train-flow <options>

        OPTIONS:
          --config <config>       JSON file with settings (fields: the option names in
                                  camelCase).
          --model <model>         Model: realnvp, glow, glow-latent, realnvp-vector,
                                  residual-flow. (default: realnvp)
          --mid <mid>             realnvp: hidden channels of each s/t network.
                                  (default: 64)
          --res-blocks <res-blocks>
                                  realnvp; glow with --st-net highway: residual or
                                  highway blocks per s/t network. (default: 2)
          --batch-norm/--no-batch-norm
                                  realnvp: batch normalisation in the resnet and
                                  bottleneck s/t networks. (default: on)
          --scales <scales>       realnvp: scales; each but the last has 3 spatial
                                  couplings, a squeeze, 3 channel couplings and a
                                  factor-out. (default: 2)
          --mask <mask>           realnvp: spatial masks: checkerboard, horizontal or
                                  vertical (half images), or cycle (one scale of 8
                                  quadrant couplings). (default: checkerboard)
          --last-scale-couplings <last-scale-couplings>
                                  realnvp: spatial couplings on the last scale
                                  (--scales 1 --mask horizontal --last-scale-couplings
                                  8 is flows_ood's RealNVPMaskHorizontal). (default: 4)
          --st-net <st-net>       realnvp: s/t network resnet, resnet-no-bn, highway or
                                  bottleneck:N (N linear units in the middle); glow:
                                  convnet (Glow's) or highway. (default: resnet; glow:
                                  convnet)
          --levels <levels>       glow: levels (squeeze, steps, split). (default: 2)
          --depth <depth>         glow: steps [ActNorm, 1×1 convolution, coupling] per
                                  level. (default: 8)
          --lu/--no-lu            glow: LU-parameterised 1×1 convolutions; --no-lu
                                  learns the full matrix. (default: on)
          --flow-blocks <flow-blocks>
                                  glow-latent: [ActNorm, linear, coupling] blocks;
                                  residual-flow: residual blocks. (default: 10
                                  glow-latent, 4 residual-flow)
          --couplings <couplings> realnvp-vector: coupling layers. (default: 8)
          --hidden <hidden>       glow: hidden channels of each s/t network; vector
                                  models: hidden units of each coupling or residual
                                  network. (default: 64 glow, 2048 glow-latent, 256
                                  realnvp-vector, 64 residual-flow)
          --data <data>           Training data set. (default: fashion-mnist-train)
          --subset <subset>       Use N examples, a seeded random draw without
                                  replacement kept in file order (generated sets: N
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
        row per sample:
        dataset,count,seed,index,source,source_index,crop_x,crop_y,log_likelihood_nats,bits_per_dim.
        dataset, count and seed reproduce the load (the catalog's seeded subset); index
        is the position in it; source and source_index name the file and the 0-based
        record in it (IDX image, CSV row without header) and crop_x, crop_y the
        top-left corner of a 28x28 crop (texture and photo sets); generated noise has
        source "generated". Images use bpd = -log p(v)/(D ln 2) + 8 (256 levels);
        vector models use the latent definition -log2 p(z)/D - log2(1/1024). The
        dequantisation noise and the data subsets are seeded by --seed. Tabular sets
        are standardised with the training statistics of the class the run was trained
        on (or of --standardize-like). A non-finite score is an error naming the
        sample. The CSV is written atomically; a summary per data set goes to standard
        output. Data sets (SHA-256 verified): fashion-mnist-train, fashion-mnist-test,
        digits, textures, photos, gaussian-noise, uniform-noise, constant,
        fashion-mnist-inverted, fashion-mnist-flipped,
        fashion-mnist-classes-<c>-…-<train|test>,
        tabular-<breast-cancer|wine>-<class>-<train|test>.

        USAGE: flowood score --run-dir <run-dir> --data <data> --out <out> [--epoch <epoch>] [--subset <subset>] [--data-dir <data-dir>] [--batch-size <batch-size>] [--seed <seed>] [--standardize-like <standardize-like>]

        OPTIONS:
          --run-dir <run-dir>     Run directory written by train-flow.
          --data <data>           Comma-separated data sets to score.
          --out <out>             Output CSV file.
          --epoch <epoch>         Score the snapshot of this epoch (needs
                                  --keep-snapshots in training) instead of the latest
                                  checkpoint.
          --subset <subset>       Score a seeded random subset of N examples of each
                                  data set (generated sets: N examples; default: all,
                                  generated 2000).
          --data-dir <data-dir>   Data root, like FLOWOOD_DATA (default: FLOWOOD_DATA,
                                  then the Debian package paths).
          --batch-size <batch-size>
                                  Samples per forward pass. (default: 256)
          --seed <seed>           Seed of the dequantisation noise, the subsets and the
                                  generated data sets. (default: 0)
          --standardize-like <standardize-like>
                                  Standardise tabular sets with the training statistics
                                  of this tabular set's class (default: the run's
                                  training set).
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
            "--subset", "2000", "--classes", "0, 2,4",
        ])
        let command = try #require(parsed as? TrainClassifier)
        #expect(command.dataDir == "/data")
        #expect(command.out == "runs/x")
        #expect(command.architecture == "cnn-fmnist")
        #expect(command.epochs == 3 && command.batchSize == 64 && command.seed == 9 && command.trainLimit == 100)
        #expect(command.lr == 0.01 && command.weightDecay == 0.05)
        #expect(!command.cosine && command.restart)
        let classes = try command.classList
        #expect(command.subset == 2000 && classes == [0, 2, 4])
    }

    @Test func classesAreChecked() {
        expectParseError(["train-classifier", "--classes", "0,10"], message: "--classes must list FashionMNIST classes 0-9 separated by commas, got '0,10'")
        expectParseError(["train-classifier", "--classes", "1,1,2"], message: "--classes lists a class twice: '1,1,2'")
        expectParseError(["train-classifier", "--classes", "4"], message: "--classes needs at least two classes to train a classifier")
        expectParseError(["train-classifier", "--subset", "0"], message: "--subset must be at least 1")
    }

    @Test func defaultsMatchTheReferenceRun() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["train-classifier"]) as? TrainClassifier)
        #expect(command.dataDir == nil && command.out == "runs/cnn-fmnist")
        #expect(command.epochs == 15 && command.batchSize == 128 && command.lr == 3e-3)
        #expect(command.weightDecay == 0 && command.cosine && command.seed == 0 && command.trainLimit == 0 && !command.restart)
        let classes = try command.classList
        #expect(command.subset == nil && command.classes == nil && classes == nil)
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

private let fashionInstalled = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
private let wineInstalled = FileManager.default.fileExists(atPath: ScikitLearnData.path(of: "wine_data.csv", dataRoot: nil))
private let skimageInstalled = FileManager.default.fileExists(atPath: SkimageCrops.defaultDirectory + "/brick.png")

/// Parses and runs a command line in-process, throwing the command's typed error.
private func execute(_ arguments: [String]) throws {
    switch try FlowOODCommand.parseAsRoot(arguments) {
    case let c as Evaluate: try c.execute()
    case let c as TrainClassifier: try c.execute()
    case let c as TrainFlow: try c.execute()
    case let c as ScoreFlow: try c.execute()
    case let other: Issue.record("unexpected command \(other)")
    }
}

/// The error message of a command line that parses but fails when run.
private func runFailure(_ arguments: [String]) -> String? {
    do {
        try execute(arguments)
        return nil
    } catch {
        return "\(error)"
    }
}

/// The lines of a CSV file, split into fields (no quoted fields expected).
private func csv(_ url: URL) throws -> [[String]] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
}

@Suite struct EvaluateArguments {
    @Test func defaultsAreTheClassifierDetectorsAgainstDigitsTexturesPhotos() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["evaluate"]) as? Evaluate)
        #expect(command.detectorList == ["msp", "odin", "energy", "react", "mahalanobis", "knn", "lde"])
        #expect(command.inDistribution == nil && command.oodList == ["digits", "textures", "photos"])
        #expect(command.classifierDirectories == ["runs/cnn-fmnist"] && command.flowList == nil)
        #expect(command.out == "runs/evaluate" && command.seed == 0 && command.bootstrap == 1000 && command.confidence == 0.95)
        #expect(command.subset == nil && command.trainCount == nil && !command.noCache)
        #expect(command.odinTemperature == 1000 && command.odinEpsilon == 0.0014 && command.reactPercentile == 90)
        #expect(command.knnK == 50 && command.ldeEpochs == 1 && command.ldePca == nil && !command.ldeRaw && command.ldeLr == 1e-4)
        #expect(command.typicalityCount == 2000 && command.flowBatchSize == 100)
    }

    @Test func detectorDefaultsFollowTheModelsGiven() throws {
        func detectors(_ arguments: [String]) throws -> [String] {
            try #require(try FlowOODCommand.parseAsRoot(["evaluate"] + arguments) as? Evaluate).detectorList
        }
        #expect(try detectors(["--flow", "f"]) == ["likelihood", "typicality"])
        #expect(try detectors(["--flow", "f", "--classifier", "c"]) == Evaluate.classifierDetectorNames + ["likelihood", "typicality"])
        #expect(try detectors(["--flow", "f", "--in", "tabular-wine-0-test", "--ood", "tabular-wine-1-test"]) == ["likelihood", "typicality"])
        let flowOnly = try #require(try FlowOODCommand.parseAsRoot(["evaluate", "--flow", "f"]) as? Evaluate)
        #expect(flowOnly.classifierDirectories.isEmpty, "no classifier is loaded for flow detectors")
    }

    @Test func parsesEveryOption() throws {
        let parsed = try FlowOODCommand.parseAsRoot([
            "evaluate", "--classifier", "c1, c2", "--flow", "f1,f2", "--detectors", "msp, knn,likelihood",
            "--in", "fashion-mnist-classes-0-1-test", "--ood", "fashion-mnist-classes-2-test,constant,held-out", "--subset", "100",
            "--train-count", "500", "--seed", "4", "--bootstrap", "50", "--confidence", "0.9",
            "--out", "o", "--data-dir", "d", "--cache", "k", "--no-cache", "--odin-temperature", "10", "--odin-epsilon", "0",
            "--react-percentile", "95", "--knn-k", "5", "--lde-epochs", "2", "--lde-pca", "63", "--lde-raw", "--lde-lr", "0.001",
            "--lde-blocks", "4", "--lde-hidden", "256", "--typicality-count", "300", "--flow-batch-size", "32",
        ])
        let command = try #require(parsed as? Evaluate)
        #expect(command.detectorList == ["msp", "knn", "likelihood"])
        #expect(command.oodList == ["fashion-mnist-classes-2-test", "constant", "held-out"])
        #expect(command.classifierDirectories == ["c1", "c2"] && command.flowList == ["f1", "f2"])
        #expect(command.out == "o" && command.dataDir == "d" && command.cache == "k" && command.noCache)
        #expect(command.subset == 100 && command.trainCount == 500 && command.seed == 4 && command.bootstrap == 50 && command.confidence == 0.9)
        #expect(command.odinTemperature == 10 && command.odinEpsilon == 0 && command.reactPercentile == 95 && command.knnK == 5)
        #expect(command.ldeEpochs == 2 && command.ldePca == 63 && command.ldeRaw && command.ldeLr == 0.001)
        #expect(command.ldeBlocks == 4 && command.ldeHidden == 256 && command.typicalityCount == 300 && command.flowBatchSize == 32)
        #expect(command.makeClassifierDetectors(FeatureExtractor(classifier: Classifier(ClassifierConfig()))).map(\.name) == ["msp", "knn"])
    }

    @Test func rejectsInconsistentChoices() {
        expectParseError(["evaluate", "--detectors", "msp,mahalonobis"],
                         message: "unknown detector 'mahalonobis'; choose from msp,odin,energy,react,mahalanobis,knn,lde,likelihood,typicality")
        expectParseError(["evaluate", "--detectors", "msp,msp"], message: "--detectors lists a detector twice")
        expectParseError(["evaluate", "--ood", "mnist"], message: DataSpecError(key: "mnist").description)
        expectParseError(["evaluate", "--in", "digits"], message: "--in digits has no training part to fit the detectors on")
        expectParseError(["evaluate", "--subset", "0"], message: "--subset must be at least 1")
        expectParseError(["evaluate", "--lde-pca", "1"], message: "--lde-pca must be at least 2")
        expectParseError(["evaluate", "--knn-k", "0"], message: "--knn-k must be at least 1")
        expectParseError(["evaluate", "--bootstrap=-1"], message: "--bootstrap must be non-negative (0 disables the intervals)")
        expectParseError(["evaluate", "--confidence", "1"], message: "--confidence must be in (0, 1)")
        expectParseError(["evaluate", "--detectors", "likelihood"],
                         message: "detectors likelihood need a flow: pass --flow <run directory> (from flowood train-flow --run-dir)")
        expectParseError(["evaluate", "--flow", "f", "--detectors", "msp"],
                         message: "--flow is given but no flow detector (likelihood,typicality) is chosen")
        expectParseError(["evaluate", "--classifier", "c", "--detectors", "likelihood", "--flow", "f"],
                         message: "--classifier is given but no classifier detector (msp,odin,energy,react,mahalanobis,knn,lde) is chosen")
        expectParseError(["evaluate", "--classifier", "a,a"], message: "--classifier lists a directory twice")
        // Classifier detectors on tabular data: say what works instead.
        expectParseError(["evaluate", "--in", "tabular-wine-0-test", "--ood", "tabular-wine-1-test"],
                         message: "the tabular set tabular-wine-0-test can only be evaluated with the flow detectors: pass --flow "
                            + "<run directory of a vector flow trained on the in-distribution class>")
        expectParseError(["evaluate", "--in", "tabular-wine-0-test", "--ood", "tabular-wine-1-test", "--detectors", "msp,odin,energy,react,mahalanobis,knn,lde"],
                         message: "classifier detectors (msp,odin,energy,react,mahalanobis,knn,lde) score images through a classifier and "
                            + "cannot evaluate the tabular set tabular-wine-0-test; use the flow detectors: --flow <run directory of a vector flow trained on "
                            + "the in-distribution class> --detectors likelihood,typicality")
        expectParseError(["evaluate", "--flow", "f", "--ood", "tabular-wine-1-test"],
                         message: "tabular OOD sets need a tabular --in (tabular-<set>-<class>-test), got --in fashion-mnist-test")
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

    @Test(.enabled(if: fashionInstalled && skimageInstalled, "dataset-fashion-mnist or python3-skimage is not installed"))
    func evaluatesTwoUntrainedCheckpointsWithIntervalsAndAggregates() throws {
        try withTemporaryDirectory { dir in
            var checkpoints: [String] = []
            for seed in [3, 4] as [UInt64] {
                let config = ClassifierConfig(seed: seed)
                let checkpoint = dir.appendingPathComponent("clf\(seed)")
                try Checkpoint.save(Classifier(config), config: config, to: checkpoint)
                checkpoints.append(checkpoint.path)
            }
            let out = dir.appendingPathComponent("eval")
            try execute([
                "evaluate", "--classifier", checkpoints.joined(separator: ","), "--detectors", "msp,energy,knn", "--ood", "constant,textures",
                "--subset", "20", "--train-count", "60", "--knn-k", "5", "--bootstrap", "40", "--out", out.path,
                "--cache", dir.appendingPathComponent("cache").path,
            ])
            let metrics = try csv(out.appendingPathComponent("metrics.csv"))
            #expect(metrics.count == 1 + 3 * 2 * 2)
            #expect(metrics[1][0...5] == ["msp", checkpoints[0], "fashion-mnist-test", "constant", "20", "20"])
            #expect(metrics[3][0...1] == ["msp", checkpoints[1]])
            for row in metrics.dropFirst() {
                let value = try #require(Double(row[6])), low = try #require(Double(row[7])), high = try #require(Double(row[8]))
                #expect(low <= high && low >= 0 && high <= 1 && value >= 0, "\(row)")
            }
            let aggregate = try csv(out.appendingPathComponent("aggregate.csv"))
            #expect(aggregate.count == 1 + 3 * 2 && aggregate[1][0...3] == ["msp", "fashion-mnist-test", "constant", "2"])
            let a = try #require(Double(metrics[1][6])), b = try #require(Double(metrics[3][6]))
            #expect(abs(try #require(Double(aggregate[1][4])) - (a + b) / 2) < 1e-12)
            #expect(abs(try #require(Double(aggregate[1][5])) - abs(a - b) / 2.0.squareRoot()) < 1e-12)

            let scores = try csv(out.appendingPathComponent("scores.csv"))
            #expect(scores[0] == EvaluationResult.scoresHeader.split(separator: ",").map(String.init))
            #expect(scores.count == 1 + 3 * 2 * 60)
            // Find each example again: the test images by their index in the IDX file, the
            // texture crops by file and corner.
            let test = try DataSpec.fashionMNIST(.test).load()
            let subset = try DataSpec.fashionMNIST(.test).load(count: 20, seed: 0)
            for row in scores.dropFirst() where row[2] == "fashion-mnist-test" {
                #expect(row[3] == "20" && row[4] == "0" && row[6] == "t10k-images-idx3-ubyte.gz")
                let i = try #require(Int(row[5])), j = try #require(Int(row[7]))
                #expect(subset.images!.images[(i * 784)..<((i + 1) * 784)] == test.images!.images[(j * 784)..<((j + 1) * 784)])
            }
            let textures = scores.filter { $0[2] == "textures" }
            #expect(textures.count == 3 * 2 * 20 && textures.allSatisfy { ["brick.png", "grass.png", "gravel.png"].contains($0[6]) && Int($0[8]) != nil })
            #expect(scores.filter { $0[2] == "constant" }.allSatisfy { $0[6] == "generated" && $0[8].isEmpty })
            // Features of the four sets were cached for each classifier (train, test, two OOD sets).
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache").path).count == 8)
        }
    }

    @Test(.enabled(if: fashionInstalled, "dataset-fashion-mnist is not installed"))
    func heldOutClassesFollowTheClassifier() throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("clf").path
            try execute(["train-classifier", "--classes", "7,1,3", "--epochs", "1", "--subset", "48", "--batch-size", "16", "--out", run])
            let config = try Checkpoint.readConfig(ClassifierConfig.self, from: URL(fileURLWithPath: run))
            #expect(config.fashionMNISTClasses == [7, 1, 3] && config.classes == 3)
            let configText = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
            #expect(configText.contains("fashionMNISTClasses"), "\(configText)")
            let state = try JSONDecoder().decode(ClassifierRunState.self, from: Data(contentsOf: URL(fileURLWithPath: run + "/state.json")))
            #expect(state.options.subset == 48 && state.epochsDone == 1)

            let out = dir.appendingPathComponent("eval")
            try execute(["evaluate", "--classifier", run, "--detectors", "msp,mahalanobis", "--ood", "held-out,constant", "--subset", "12",
                         "--train-count", "30", "--bootstrap", "0", "--no-cache", "--out", out.path])
            let metrics = try csv(out.appendingPathComponent("metrics.csv"))
            #expect(metrics[1][2...3] == ["fashion-mnist-classes-7-1-3-test", "fashion-mnist-classes-0-2-4-5-6-8-9-test"])
            #expect(metrics[1][7].isEmpty, "no intervals with --bootstrap 0")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("metrics.json"))) as? [String: Any]
            #expect(json?["train"] as? String == "fashion-mnist-classes-7-1-3-train")

            #expect(runFailure(["evaluate", "--classifier", run, "--detectors", "msp", "--in", "fashion-mnist-test", "--no-cache",
                                "--out", out.path])
                == "--in fashion-mnist-test does not match classifier \(run), trained on FashionMNIST classes 7,1,3: "
                + "use --in fashion-mnist-classes-7-1-3-test (or omit --in)")
            #expect(runFailure(["evaluate", "--classifier", run, "--detectors", "msp", "--ood", "fashion-mnist-classes-3-4-test",
                                "--no-cache", "--out", out.path])
                == "--ood fashion-mnist-classes-3-4-test contains class 3, which is in distribution (fashion-mnist-classes-7-1-3-test)")
        }
    }

    @Test func heldOutNeedsAClassSubset() throws {
        let command = try #require(try FlowOODCommand.parseAsRoot(["evaluate", "--ood", "held-out"]) as? Evaluate)
        #expect(throws: UserError.self) { try command.oodSpecs(inDistribution: .fashionMNIST(.test)) }
        #expect(try command.oodSpecs(inDistribution: .fashionMNISTClasses([0, 1, 2, 3, 4], .test)) == [.fashionMNISTClasses([5, 6, 7, 8, 9], .test)])
    }

    @Test(.enabled(if: fashionInstalled, "dataset-fashion-mnist is not installed"))
    func flowRunDirectoryGivesLikelihoodAndTypicality() throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("flow").path
            try execute(["train-flow", "--model", "realnvp", "--mid", "4", "--res-blocks", "1", "--batch-size", "8", "--data", "fashion-mnist-train",
                         "--subset", "16", "--epochs", "1", "--validation-fraction", "0", "--run-dir", run])
            let out = dir.appendingPathComponent("eval")
            try execute(["evaluate", "--flow", run, "--ood", "constant", "--subset", "6", "--train-count", "8", "--bootstrap", "30",
                         "--seed", "2", "--out", out.path])
            let metrics = try csv(out.appendingPathComponent("metrics.csv"))
            #expect(metrics.dropFirst().map { $0[0] } == ["likelihood", "typicality"] && metrics[1][1] == run)
            // The likelihood scores are −bpd of `flowood score` with the same seed and subset.
            let scored = dir.appendingPathComponent("scores-flow.csv")
            try execute(["score", "--run-dir", run, "--data", "fashion-mnist-test,constant", "--subset", "6", "--seed", "2", "--out", scored.path])
            let byScore = try csv(scored).dropFirst()
            let byEvaluate = try csv(out.appendingPathComponent("scores.csv")).dropFirst().filter { $0[0] == "likelihood" }
            #expect(byScore.count == 12 && byEvaluate.count == 12)
            for (s, e) in zip(byScore, byEvaluate) {
                #expect(s[0] == e[2] && s[1...7] == e[3...9], "same set, count, seed, index and source: \(s) vs \(e)")
                #expect(try #require(Double(e[10])) == -(try #require(Double(s[9]))))
            }
        }
    }

    @Test(.enabled(if: wineInstalled, "python3-sklearn is not installed"))
    func tabularEvaluationWithAVectorFlow() throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("wine-flow").path
            try execute(["train-flow", "--model", "realnvp-vector", "--couplings", "2", "--hidden", "8", "--batch-size", "8",
                         "--data", "tabular-wine-0-train", "--epochs", "2", "--validation-fraction", "0", "--run-dir", run])
            let out = dir.appendingPathComponent("eval")
            try execute(["evaluate", "--flow", run, "--in", "tabular-wine-0-test", "--ood", "tabular-wine-1-test,tabular-wine-2-test",
                         "--bootstrap", "30", "--out", out.path])
            let metrics = try csv(out.appendingPathComponent("metrics.csv"))
            #expect(metrics.count == 1 + 2 * 2)
            #expect(metrics[1][2...5] == ["tabular-wine-0-test", "tabular-wine-1-test", "18", "21"])
            let scores = try csv(out.appendingPathComponent("scores.csv"))
            #expect(scores.dropFirst().allSatisfy { $0[6] == "wine_data.csv" && Int($0[7]) != nil })
            // `score` standardises the OOD class like the run's training class by default, so it
            // agrees with evaluate.
            let scored = dir.appendingPathComponent("s.csv")
            try execute(["score", "--run-dir", run, "--data", "tabular-wine-1-test", "--out", scored.path])
            let fromScore = try csv(scored).dropFirst().map { -(Double($0[9]) ?? .nan) }
            let fromEvaluate = scores.filter { $0[0] == "likelihood" && $0[2] == "tabular-wine-1-test" }.map { Double($0[10]) ?? .nan }
            #expect(fromScore.count == 21 && fromScore == fromEvaluate)
            // A flow trained on another class is refused (the standardisation would differ).
            #expect(runFailure(["evaluate", "--flow", run, "--in", "tabular-wine-1-test", "--ood", "tabular-wine-0-test", "--out", out.path])?
                .hasPrefix("flow \(run) was trained on tabular-wine-0-train, but the in-distribution training set is tabular-wine-1-train") == true)
        }
    }
}
