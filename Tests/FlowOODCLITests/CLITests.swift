import ArgumentParser
import Foundation
import Testing
import TestSupport
@testable import FlowOODCLI

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
        shared/bench/reference) with Adam and a cosine learning-rate schedule, prints a
        progress bar, evaluates test accuracy after each epoch, and writes
        model.safetensors, optimizer.safetensors, config.json and state.json into --out
        after every epoch. Rerunning the same command resumes after the last finished
        epoch; --epochs can be raised to train further.

        USAGE: flowood train-classifier [--data-dir <data-dir>] [--out <out>] [--architecture <architecture>] [--epochs <epochs>] [--batch-size <batch-size>] [--lr <lr>] [--weight-decay <weight-decay>] [--cosine] [--no-cosine] [--seed <seed>] [--train-limit <train-limit>] [--restart]

        OPTIONS:
          --data-dir <data-dir>   Data directory with the FashionMNIST IDX .gz files
                                  (default: FLOWOOD_DATA, then
                                  /usr/share/datasets/fashion-mnist).
          --out <out>             Output directory for the checkpoint. (default:
                                  runs/cnn-fmnist)
          --architecture <architecture>
                                  Architecture: cnn-fmnist. (default: cnn-fmnist)
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
          --restart               Ignore an existing run in --out and start again.
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

    @Test func unknownArchitectureListsTheChoices() {
        expectParseError(["train-classifier", "--architecture", "resnet18"],
                         message: "unknown --architecture 'resnet18'; choose one of cnn-fmnist")
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
            #expect(FlowOODCommand.message(for: error) == "unknown benchmark 'resnet'; available: cnn-fmnist, realnvp-fmnist-small, glow-latent-512, gemm, conv")
        }
    }

    @Test func reportWithNoChaptersSucceeds() throws {
        try withTemporaryDirectory { dir in
            var command = try FlowOODCommand.parseAsRoot(["report", "--chapters", dir.path, "--profile", "smoke"])
            let report = try #require(command as? Report)
            #expect(report.profile == .smoke && report.chapters == dir.path && !report.check)
            try command.run()
        }
    }

    @Test func reportWithAMissingChaptersDirectorySucceeds() throws {
        try withTemporaryDirectory { dir in
            var command = try FlowOODCommand.parseAsRoot(["report", "--chapters", dir.path + "/absent"])
            try command.run()
        }
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
