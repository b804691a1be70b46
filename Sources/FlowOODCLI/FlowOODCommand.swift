import ArgumentParser
import Foundation

/// The `flowood` command line.
public struct FlowOODCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flowood",
        abstract: "Reproduce normalizing-flow OOD-detection papers as a literate report.",
        discussion: """
        FlowOOD trains normalizing flows and classifiers on packaged data (FashionMNIST from \
        Debian's dataset-fashion-mnist), evaluates out-of-distribution detectors, and renders \
        the chapters in chapters/ into a report. Set FLOWOOD_THREADS to limit worker threads \
        and FLOWOOD_DATA to point at a data directory.
        """,
        version: "0.1.0",
        subcommands: [TrainClassifier.self, TrainFlow.self, ScoreFlow.self, Evaluate.self, Bench.self, Info.self, Report.self, Gallery.self]
    )

    public init() {}
}

/// Prints "error: ..." and exits non-zero for user errors, instead of a Swift trace.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
