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
            #expect(config.options.clipNorm == 100 && config.options.dataName == "gaussian-noise (24 drawn with the seed)")

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
            try Data(#"{"epochs": 2"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path])?.hasPrefix("\(file.path): json: ") == true)
            // Model fields: unknown values, values for another model, sizes the images cannot take.
            let run = ["--run-dir", dir.path + "/r"]
            for (json, message) in [
                (#"{"model": "nice", "data": "constant", "subset": 2}"#,
                 "model: unknown model 'nice'; choose one of realnvp, glow, glow-latent, realnvp-vector, residual-flow"),
                (#"{"mask": "diagonal", "data": "constant", "subset": 2}"#,
                 "mask: unknown mask 'diagonal'; choose one of checkerboard, cycle, horizontal, vertical"),
                (#"{"model": "glow", "stNet": "resnet", "data": "constant", "subset": 2}"#,
                 "stNet: unknown s/t network 'resnet' for glow; choose one of convnet, highway"),
                (#"{"stNet": "bottleneck:0", "data": "constant", "subset": 2}"#,
                 "stNet: unknown s/t network 'bottleneck:0' for realnvp; choose one of resnet, resnet-no-bn, highway, bottleneck:N (N ≥ 1)"),
                (#"{"levels": 2, "data": "constant", "subset": 2}"#, "levels: applies to glow only, not realnvp"),
                (#"{"model": "residual-flow", "couplings": 2, "data": "constant", "subset": 2}"#,
                 "couplings: applies to realnvp-vector only, not residual-flow"),
                (#"{"model": "glow", "levels": 3, "data": "constant", "subset": 2}"#,
                 "levels: 28 must be a positive multiple of 2^levels = 8 for 3 level(s) (28×28 images)"),
                (#"{"scales": 4, "data": "constant", "subset": 2}"#,
                 "scales: 28 must be a positive multiple of 8 and at least 8 for 4 scale(s) with checkerboard masks (28×28 images)"),
                (#"{"model": "glow", "resBlocks": 3, "data": "constant", "subset": 2}"#,
                 "resBlocks: applies to glow only with the highway s/t network"),
                (#"{"lastScaleCouplings": 0, "data": "constant", "subset": 2}"#, "lastScaleCouplings: must be at least 1, got 0"),
            ] {
                try Data(json.utf8).write(to: file)
                #expect(failure(["train-flow", "--config", file.path] + run) == "\(file.path): \(message)", "\(json)")
            }
            // A model-specific option on the command line is named as an option, even when the
            // model comes from the file.
            try Data(#"{"model": "glow", "data": "constant", "subset": 2}"#.utf8).write(to: file)
            #expect(failure(["train-flow", "--config", file.path, "--mid", "8"] + run) == "--mid: applies to realnvp only, not glow")
            #expect(failure(["train-flow", "--config", file.path, "--levels", "4"] + run)
                == "--levels: 28 must be a positive multiple of 2^levels = 16 for 4 level(s) (28×28 images)")
        }
    }

    @Test func commandLineValuesAreChecked() {
        #expect(failure(["train-flow", "--model", "nice"])
            == "unknown --model 'nice'; choose one of realnvp, glow, glow-latent, realnvp-vector, residual-flow")
        #expect(failure(["train-flow", "--mask", "diagonal"]) == "unknown --mask 'diagonal'; choose one of checkerboard, cycle, horizontal, vertical")
        #expect(failure(["train-flow", "--model", "realnvp", "--st-net", "convnet"])
            == "unknown --st-net 'convnet'; choose one of resnet, resnet-no-bn, highway, bottleneck:N")
        #expect(failure(["train-flow", "--model", "glow", "--st-net", "bottleneck:4"]) == "unknown --st-net 'bottleneck:4'; choose one of convnet, highway")
        #expect(failure(["train-flow", "--st-net", "mlp"])?.hasPrefix("unknown --st-net 'mlp'; choose one of resnet, ") == true)
        #expect(failure(["train-flow", "--levels", "0"]) == "--levels must be at least 1")
        #expect(failure(["train-flow", "--model", "glow", "--scales", "1", "--data", "constant", "--subset", "2"])
            == "--scales: applies to realnvp only, not glow")
        #expect(failure(["train-flow", "--model", "glow-latent", "--depth", "2", "--data", "constant", "--subset", "2"])
            == "--depth: applies to glow only, not glow-latent")
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

/// The spec a train-flow run wrote to its directory.
private func trainedSpec(_ run: String) throws -> FlowSpec {
    try JSONFile.read(FlowRunConfig.self, from: URL(fileURLWithPath: run + "/config.json")).spec
}

@Suite struct TrainFlowModels {
    /// One epoch of two steps on 8 tiny generated images, no validation.
    static let quick = ["--data", "uniform-noise", "--subset", "8", "--batch-size", "4", "--epochs", "1",
                        "--validation-fraction", "0"]

    @Test(arguments: [
        (["--model", "realnvp", "--mid", "4", "--res-blocks", "1", "--scales", "1", "--mask", "horizontal",
          "--last-scale-couplings", "8", "--st-net", "highway"],
         FlowSpec.realNVP(RealNVPConfig(mid: 4, blocks: 1, stNet: .highway, maskScheme: .horizontal, scales: 1,
                                        lastScaleCouplings: 8))),
        (["--model", "realnvp", "--mid", "2", "--res-blocks", "1", "--mask", "cycle", "--st-net", "bottleneck:3",
          "--no-batch-norm"],
         FlowSpec.realNVP(RealNVPConfig(mid: 2, blocks: 1, batchNorm: false, stNet: .bottleneck(3), maskScheme: .cycle))),
        (["--model", "realnvp", "--mid", "2", "--res-blocks", "1", "--mask", "vertical", "--scales", "3",
          "--st-net", "resnet-no-bn", "--seed", "4"],
         FlowSpec.realNVP(RealNVPConfig(mid: 2, blocks: 1, stNet: .resnetNoBatchNorm, maskScheme: .vertical, scales: 3,
                                        seed: 4))),
        (["--model", "glow", "--levels", "2", "--depth", "1", "--hidden", "4", "--st-net", "highway", "--res-blocks", "1",
          "--no-lu"],
         FlowSpec.glow(GlowConfig(levels: 2, depth: 1, hidden: 4, lu: false, stNet: .highway(blocks: 1)))),
        (["--model", "glow", "--levels", "1", "--depth", "2", "--hidden", "3"],
         FlowSpec.glow(GlowConfig(levels: 1, depth: 2, hidden: 3))),
        (["--model", "residual-flow", "--flow-blocks", "1", "--hidden", "4"],
         FlowSpec.residualFlow(ResidualFlowConfig(features: 784, blocks: 1, hidden: 4))),
    ])
    func everyModelTrainsFromTheCommandLine(arguments: [String], expected: FlowSpec) throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("run").path
            try execute(["train-flow"] + arguments + Self.quick + ["--run-dir", run])
            #expect(try trainedSpec(run) == expected)
            let state = try JSONFile.read(FlowTrainingState.self, from: URL(fileURLWithPath: run + "/state.json"))
            #expect(state.epochsDone == 1 && state.step == 2 && state.history[0].trainNLL.isFinite)
            // The checkpoint loads back into the model it names.
            _ = try FlowRun(directory: URL(fileURLWithPath: run)).loadFlow()
        }
    }

    @Test func vectorModelsTakeTheFlattenedImages() throws {
        // glow-latent on 784 pixels has a 784×784 LU per step (too slow for a debug test run), so
        // only its settings are checked; realnvp-vector trains in the config-file test above.
        let command = try #require(try FlowOODCommand.parseAsRoot(["train-flow", "--model", "glow-latent", "--flow-blocks", "2",
                                                                   "--hidden", "16", "--seed", "3"]) as? TrainFlow)
        #expect(try command.commandLineSettings.spec(imageShape: [1, 28, 28])
            == .glowLatent(features: 784, blocks: 2, hidden: 16, seed: 3))
        let defaults = try TrainFlowSettings(model: "glow-latent").spec(imageShape: [1, 28, 28])
        #expect(defaults == .glowLatent(features: 784, blocks: 10, hidden: 2048, seed: 0))
        #expect(try TrainFlowSettings(model: "residual-flow").spec(imageShape: [1, 28, 28])
            == .residualFlow(ResidualFlowConfig(features: 784)))
        #expect(try TrainFlowSettings(model: "realnvp-vector").spec(imageShape: [1, 28, 28])
            == .realNVPVector(features: 784, couplings: 8, hidden: 256, seed: 0))
        #expect(try TrainFlowSettings().spec(imageShape: [1, 28, 28]) == .realNVP(RealNVPConfig()))
        #expect(try TrainFlowSettings(model: "glow").spec(imageShape: [1, 28, 28]) == .glow(GlowConfig()))
    }

    @Test func configFileTakesTheModelFields() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("glow.json")
            let run = dir.appendingPathComponent("glow").path
            try Data("""
            {"model": "glow", "levels": 1, "depth": 2, "hidden": 4, "stNet": "highway", "resBlocks": 2, "lu": false,
             "data": "uniform-noise", "subset": 8, "batchSize": 4, "epochs": 1, "validationFraction": 0, "runDir": "\(run)"}
            """.utf8).write(to: file)
            try execute(["train-flow", "--config", file.path])
            #expect(try trainedSpec(run) == .glow(GlowConfig(levels: 1, depth: 2, hidden: 4, lu: false, stNet: .highway(blocks: 2))))

            // realnvp's fields, with the command line overriding the file's mask.
            try Data("""
            {"model": "realnvp", "mid": 2, "resBlocks": 1, "batchNorm": false, "scales": 1, "mask": "vertical",
             "lastScaleCouplings": 2, "stNet": "bottleneck:2"}
            """.utf8).write(to: file)
            let settings = try TrainFlowSettings.read(path: file.path).overridden(by: TrainFlowSettings(mask: "horizontal"))
            #expect(try settings.spec(imageShape: [1, 28, 28])
                == .realNVP(RealNVPConfig(mid: 2, blocks: 1, batchNorm: false, stNet: .bottleneck(2), maskScheme: .horizontal,
                                          scales: 1, lastScaleCouplings: 2)))
        }
    }
}

/// Where the installed FashionMNIST is (FLOWOOD_DATA, else the Debian package's directory).
private let fashionMNISTDirectory = FashionMNIST.directory(override: nil, environment: ProcessInfo.processInfo.environment)
private let fashionMNISTInstalled = ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"].allSatisfy {
    FileManager.default.fileExists(atPath: (fashionMNISTDirectory as NSString).appendingPathComponent($0))
}

@Suite struct FashionMNISTTraining {
    @Test(.enabled(if: fashionMNISTInstalled, "needs FashionMNIST: apt-get install dataset-fashion-mnist, or set FLOWOOD_DATA"))
    func trainingLowersTestBitsPerDimension() throws {
        try withTemporaryDirectory { dir in
            let run = dir.appendingPathComponent("run").path
            // A tiny RealNVP (4 hidden channels, one residual block) on the first 64 training
            // images: one epoch of 4 steps of 16 (about 2 s of CPU in a debug build).
            try execute(["train-flow"] + tinyRealNVP + ["--data", "fashion-mnist-train", "--subset", "64", "--batch-size", "16",
                                                        "--epochs", "1", "--lr", "0.003", "--validation-fraction", "0",
                                                        "--run-dir", run])
            let flowRun = try FlowRun(directory: URL(fileURLWithPath: run))
            let spec = flowRun.spec
            // The first 64 test images, scored with the same dequantisation noise before and after.
            let test = try flowData(try loadFlowDataset(named: "fashion-mnist-test", subset: 64, dataDir: nil, seed: 0),
                                    for: spec.dataKind, name: "fashion-mnist-test")
            let before = try FlowScorer(flow: spec.makeFlow(), spec: spec, seed: 1).score(test).meanBitsPerDimension
            let after = try FlowScorer(flow: try flowRun.loadFlow(), spec: spec, seed: 1).score(test).meanBitsPerDimension
            // Observed (seed 0): 9.79 untrained, 7.62 after the 4 steps.
            print("FashionMNIST test bpd: untrained \(before), after 4 steps \(after)")
            #expect(before.isFinite && after.isFinite)
            #expect(after < before - 0.5, "test bpd \(before) → \(after)")
        }
    }
}
