import Foundation
import NN

/// A run directory written by `FlowTrainer`, opened for scoring: its configuration, its state
/// (history), and the checkpoints it holds.
public struct FlowRun {
    public let directory: URL
    /// The model and options (`config.json`).
    public let config: FlowRunConfig
    /// Where training stands (`state.json`): epochs done, history, latest checkpoint.
    public let state: FlowTrainingState

    /// Reads `config.json` and `state.json` from `directory`.
    /// - Throws: `FlowTrainingError.noCheckpoint` if the directory holds no finished run state,
    ///   `JSONFileError` naming the file and field if a file is malformed.
    public init(directory: URL) throws {
        self.directory = directory
        let stateURL = directory.appendingPathComponent(FlowTrainer.stateFile)
        guard FileManager.default.fileExists(atPath: stateURL.path) else {
            throw FlowTrainingError.noCheckpoint(path: directory.path,
                                                 problem: "no \(FlowTrainer.stateFile): not a flow run directory, or no epoch has finished yet")
        }
        state = try JSONFile.read(FlowTrainingState.self, from: stateURL)
        config = try JSONFile.read(FlowRunConfig.self, from: directory.appendingPathComponent(Checkpoint.configFile))
    }

    public var spec: FlowSpec { config.spec }

    /// Epochs with a checkpoint folder in the directory, ascending (all epochs when the run kept
    /// snapshots, else only the latest).
    public var checkpointEpochs: [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).compactMap(Self.epoch(ofFolder:)).sorted()
    }

    /// Builds the flow and loads a checkpoint into it, in evaluation mode.
    /// - Parameter epoch: which snapshot; nil for the latest checkpoint (`state.checkpoint`).
    /// - Throws: `FlowTrainingError.noCheckpoint` if there is none for `epoch`, `CheckpointError`
    ///   if the files do not match the model.
    public func loadFlow(epoch: Int? = nil) throws -> any FlowLayer {
        let name: String
        if let epoch {
            name = Self.folderName(epoch: epoch)
            guard checkpointEpochs.contains(epoch) else {
                let have = checkpointEpochs.map(String.init).joined(separator: ", ")
                throw FlowTrainingError.noCheckpoint(path: directory.appendingPathComponent(name).path,
                                                     problem: "no checkpoint for epoch \(epoch) (available: \(have.isEmpty ? "none" : have))")
            }
        } else {
            guard let latest = state.checkpoint else {
                throw FlowTrainingError.noCheckpoint(path: directory.path, problem: "no checkpoint written yet")
            }
            name = latest
        }
        let flow = spec.makeFlow()
        try Checkpoint.load(into: flow, from: directory.appendingPathComponent(name))
        flow.setTraining(false)
        return flow
    }

    /// "epoch-0003" for epoch 3.
    public static func folderName(epoch: Int) -> String { String(format: "epoch-%04d", epoch) }

    /// 3 for "epoch-0003"; nil for other names.
    public static func epoch(ofFolder name: String) -> Int? {
        guard name.hasPrefix("epoch-"), let e = Int(name.dropFirst(6)), e >= 0 else { return nil }
        return e
    }
}
