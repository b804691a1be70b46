import ArgumentParser
import Foundation
import Testing
import TestSupport
import NN
import Flows
import OOD
@testable import FlowOODCLI

/// Runs a parsed train-flow or score command in-process, throwing its typed errors.
private func perform(_ command: any ParsableCommand) throws {
    switch command {
    case let c as TrainFlow: try c.execute()
    case let c as ScoreFlow: try c.execute()
    default: Issue.record("unexpected command \(command)")
    }
}

/// Parses and runs a `flowood train-flow` or `score` command line in-process.
private func execute(_ arguments: [String]) throws {
    try perform(try FlowOODCommand.parseAsRoot(arguments))
}

/// The message a failing command line prints (after "error: "), from parsing or from running.
private func failure(_ arguments: [String]) -> String? {
    let command: any ParsableCommand
    do { command = try FlowOODCommand.parseAsRoot(arguments) } catch { return FlowOODCommand.message(for: error) }
    do {
        try perform(command)
        return nil
    } catch {
        return "\(error)"
    }
}

/// Debug-friendly RealNVP settings: 28×28 images, 4 hidden channels, one residual block.
private let tinyRealNVP = ["--model", "realnvp", "--mid", "4", "--res-blocks", "1", "--batch-size", "8"]

private let fashionInstalled = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")

@Suite struct TrainFlowAndScore {
    @Test(.enabled(if: fashionInstalled, "dataset-fashion-mnist is not installed"))
    func flowDatasetsComeFromTheCatalog() throws {
        // A seeded random subset (not the first N), checksum-verified, with the examples' sources.
        let a = try loadFlowDataset(named: "fashion-mnist-train", subset: 10, dataDir: nil, seed: 1)
        let b = try loadFlowDataset(named: "fashion-mnist-train", subset: 10, dataDir: nil, seed: 1)
        let c = try loadFlowDataset(named: "fashion-mnist-train", subset: 10, dataDir: nil, seed: 2)
        #expect(a.count == 10 && a.height == 28 && a.width == 28)
        #expect(a.data.sourceIndices == b.data.sourceIndices && a.data.sourceIndices != c.data.sourceIndices)
        #expect(a.data.sourceIndices != Array(0..<10), "not the first N")
        #expect(a.data.images!.images == (try DataSpec.fashionMNIST(.train).load(count: 10, seed: 1)).images!.images)
        // Held-out-class sets are accepted too.
        let classes = try loadFlowDataset(named: "fashion-mnist-classes-3-4-test", subset: 8, dataDir: nil, seed: 0)
        #expect(classes.count == 8 && Set(classes.data.labels!).isSubset(of: [0, 1]))
        #expect(flowDatasetNames.contains("tabular-wine-0-train") && !flowDatasetNames.contains("mnist"))
        // Generated sets default to 2000 examples.
        #expect(try loadFlowDataset(named: "constant", subset: nil, dataDir: nil, seed: 0).count == generatedSetSize)
        // A corrupted copy of a file is refused (the loader verifies SHA-256).
        try withTemporaryDirectory { dir in
            let fm = dir.appendingPathComponent("fashion-mnist")
            try FileManager.default.createDirectory(at: fm, withIntermediateDirectories: true)
            for file in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
                try FileManager.default.copyItem(atPath: "/usr/share/datasets/fashion-mnist/" + file, toPath: fm.appendingPathComponent(file).path)
            }
            var bytes = [UInt8](try Data(contentsOf: fm.appendingPathComponent("t10k-labels-idx1-ubyte.gz")))
            bytes.append(0)
            try Data(bytes).write(to: fm.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
            let error = #expect(throws: ChecksumError.self) { try loadFlowDataset(named: "fashion-mnist-test", subset: 4, dataDir: dir.path, seed: 0) }
            #expect(error?.path == fm.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path)
        }
    }

    @Test func vectorSetsNeedAVectorFlow() throws {
        let set = FlowDataset(data: LoadedDataset(key: "v", vectors: [Double](repeating: 0, count: 26), dimension: 13, labels: nil))
        #expect(set.height == 1 && set.width == 13)
        let error = #expect(throws: UserError.self) { try flowData(set, for: .image(channels: 1, height: 1, width: 13), name: "v") }
        #expect(error?.description == "v holds 13-feature vectors, which an image flow cannot model; use a vector model (--model realnvp-vector or glow-latent)")
        #expect(try flowData(set, for: .vector(features: 13), name: "v").sampleShape == [13])
    }

    @Test func trainThenScoreEndToEnd() throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("run").path
            try execute(["train-flow"] + tinyRealNVP + ["--data", "gaussian-noise", "--subset", "24", "--epochs", "1",
                                                        "--validation-fraction", "0.25", "--run-dir", run])
            let state = try JSONFile.read(FlowTrainingState.self, from: URL(fileURLWithPath: run + "/state.json"))
            #expect(state.epochsDone == 1 && state.step == 3 && state.checkpoint == "epoch-0001")  // 18 training images, batches of 8
            let record = try #require(state.history.first)
            #expect(record.validationBitsPerDim != nil && record.trainBitsPerDim.isFinite)
            let config = try JSONFile.read(FlowRunConfig.self, from: URL(fileURLWithPath: run + "/config.json"))
            #expect(config.spec == .realNVP(RealNVPConfig(mid: 4, blocks: 1)))
            #expect(config.options.clipNorm == 100 && config.options.dataName == "gaussian-noise (first 24)")

            // Raising --epochs resumes the same run.
            try execute(["train-flow"] + tinyRealNVP + ["--data", "gaussian-noise", "--subset", "24", "--epochs", "2",
                                                        "--validation-fraction", "0.25", "--run-dir", run])
            let resumed = try JSONFile.read(FlowTrainingState.self, from: URL(fileURLWithPath: run + "/state.json"))
            #expect(resumed.epochsDone == 2 && resumed.step == 6 && resumed.history.first == record)
            // A different learning rate is refused, naming the field.
            let refused = failure(["train-flow"] + tinyRealNVP + ["--data", "gaussian-noise", "--subset", "24", "--epochs", "2",
                                                                  "--validation-fraction", "0.25", "--lr", "0.01", "--run-dir", run])
            #expect(refused?.contains("options.learningRate = 0.001, not 0.01") == true, "\(refused ?? "no error")")

            let csv = dir.appendingPathComponent("out/scores.csv")
            try execute(["score", "--run-dir", run, "--data", "constant,uniform-noise", "--subset", "5", "--out", csv.path])
            let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.count == 11 && lines[0] == "dataset,count,seed,index,source,source_index,crop_x,crop_y,log_likelihood_nats,bits_per_dim")
            #expect(lines[1].hasPrefix("constant,5,0,0,generated,0,,,") && lines[10].hasPrefix("uniform-noise,5,0,4,generated,4,,,"))
            for line in lines.dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                let ll = try #require(Double(fields[8])), bpd = try #require(Double(fields[9]))
                #expect(abs(bpd - (-ll / (784 * log(2.0)) + 8)) < 1e-9, "\(line)")
            }
            // The same seed gives the same file.
            let again = dir.appendingPathComponent("again.csv")
            try execute(["score", "--run-dir", run, "--data", "constant,uniform-noise", "--subset", "5", "--out", again.path])
            #expect(try Data(contentsOf: again) == Data(contentsOf: csv))
            #expect(failure(["score", "--run-dir", run, "--data", "constant", "--epoch", "1", "--out", again.path])?
                .contains("no checkpoint for epoch 1 (available: 2)") == true)
        }
    }

    @Test func configFileGivesTheSettingsAndTheCommandLineOverridesIt() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("flow.json")
            let run = dir.appendingPathComponent("vec").path
            try Data("""
            {"model": "realnvp-vector", "couplings": 2, "hidden": 8, "data": "uniform-noise", "subset": 16,
             "epochs": 3, "batchSize": 8, "lr": 0.002, "optimizer": "rmsprop", "clip": 0, "runDir": "\(run)",
             "validationFraction": 0}
            """.utf8).write(to: file)
            try execute(["train-flow", "--config", file.path, "--epochs", "1"])
            let config = try JSONFile.read(FlowRunConfig.self, from: URL(fileURLWithPath: run + "/config.json"))
            #expect(config.spec == .realNVPVector(features: 784, couplings: 2, hidden: 8, seed: 0))
            #expect(config.options.epochs == 1 && config.options.learningRate == 0.002 && config.options.optimizer == .rmsprop)
            #expect(config.options.clipNorm == 0 && config.options.batchSize == 8 && config.options.validationFraction == 0)
            let csv = dir.appendingPathComponent("s.csv")
            try execute(["score", "--run-dir", run, "--data", "gaussian-noise", "--subset", "3", "--out", csv.path])
            let row = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")[1].split(separator: ",", omittingEmptySubsequences: false)
            // Vector models use the latent bpd: −ll/(D ln 2) + 10.
            let ll = try #require(Double(row[8])), bpd = try #require(Double(row[9]))
            #expect(abs(bpd - (-ll / (784 * log(2.0)) + 10)) < 1e-9)
        }
    }

    @Test func configFileErrorsNameTheField() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("bad.json")
            try Data(#"{"epoch": 3}"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path]) == "\(file.path): unknown field 'epoch'; did you mean 'epochs'?")
            try Data(#"{"epochs": "three"}"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path]) == "\(file.path): epochs: expected an integer")
            try Data(#"{"model": "glow", "data": "constant", "subset": 4}"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path, "--run-dir", dir.path + "/r"])
                == "\(file.path): model: unknown model 'glow'; choose one of realnvp, glow-latent, realnvp-vector")
            try Data(#"{"epochs": 2"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path])?.hasPrefix("\(file.path): json: ") == true)
        }
    }

    @Test func commandLineValuesAreChecked() {
        #expect(failure(["train-flow", "--model", "glow"]) == "unknown --model 'glow'; choose one of realnvp, glow-latent, realnvp-vector")
        #expect(failure(["train-flow", "--optimizer", "sgd"]) == "unknown --optimizer 'sgd'; choose adam or rmsprop")
        #expect(failure(["train-flow", "--epochs", "0"]) == "--epochs must be at least 1")
        #expect(failure(["train-flow", "--data", "mnist"])?.hasPrefix("unknown data set 'mnist'; available: fashion-mnist-train,") == true)
        #expect(failure(["train-flow", "--data", "mnist"])?.hasSuffix("fashion-mnist-classes-<c>-…-<train|test>, tabular-<breast-cancer|wine>-<class>-<train|test>") == true)
        #expect(failure(["score", "--run-dir", "r", "--data", "digits", "--out", "x.csv", "--standardize-like", "digits"])
            == "--standardize-like must name a tabular set (tabular-<set>-<class>-<train|test>), got 'digits'")
        #expect(failure(["score", "--run-dir", "r", "--data", "digits,cifar", "--out", "x.csv"])?
            .hasPrefix("unknown data set 'cifar'") == true)
        #expect(failure(["score", "--run-dir", "/nonexistent/run", "--data", "constant", "--out", "/tmp/x.csv"])?
            .hasPrefix("/nonexistent/run: no state.json") == true)
    }
}
