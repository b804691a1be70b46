import ArgumentParser
import Foundation
import Tensor
import NN
import OOD

/// `flowood evaluate`: OOD detectors on a trained classifier against OOD sets.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate OOD detectors of a trained classifier against OOD data sets.",
        discussion: """
        Fits each detector on the in-distribution training set (the train part of --in), \
        scores the --in test set and every --ood set, and prints AUROC, FPR95 (false-positive \
        rate at 95% true-positive rate, in-distribution positive), AUPR-in and AUPR-out. \
        Scores are higher for more in-distribution inputs. Writes metrics.csv, metrics.json \
        and scores.csv (detector,dataset,index,score) into --out. Classifier features are \
        cached in --cache, keyed by the weights' SHA-256, the data set, count and seed.
        """)

    /// The detectors this command builds, in table order.
    static let detectorNames = ["msp", "odin", "energy", "react", "mahalanobis", "knn", "lde"]

    @Option(help: "Classifier checkpoint directory (from `flowood train-classifier`).")
    var classifier: String = "runs/cnn-fmnist"

    @Option(help: "Comma-separated detectors: \(detectorNames.joined(separator: ",")).")
    var detectors: String = detectorNames.joined(separator: ",")

    @Option(name: .customLong("in"), help: "In-distribution test set: fashion-mnist-test, fashion-mnist-classes-<c>-…-test or tabular-<set>-<class>-test.")
    var inDistribution: String = "fashion-mnist-test"

    @Option(help: "Comma-separated OOD sets: digits, textures, photos, gaussian-noise, uniform-noise, constant, fashion-mnist-inverted, fashion-mnist-flipped, fashion-mnist-classes-<c>-…-test, tabular-<wine|breast-cancer>-<class>-test.")
    var ood: String = "digits,textures,photos"

    @Option(help: "At most this many examples per evaluated set (generated sets: exactly this many; default 10,000).")
    var subset: Int?

    @Option(help: "At most this many in-distribution training examples to fit the detectors on (default: all).")
    var trainCount: Int?

    @Option(help: "Seed of the subsets, generated sets and detector fitting.")
    var seed: UInt64 = 0

    @Option(help: "Output directory for metrics.csv, metrics.json and scores.csv.")
    var out: String = "runs/evaluate"

    @Option(help: "Data directory or root (default: FLOWOOD_DATA, then the installed packages).")
    var dataDir: String?

    @Option(help: "Feature cache directory.")
    var cache: String = "build/cache/features"

    @Flag(help: "Do not read or write the feature cache.")
    var noCache = false

    @Option(help: "ODIN temperature T.")
    var odinTemperature: Double = 1000

    @Option(help: "ODIN input perturbation ε (in [0, 1] pixel units).")
    var odinEpsilon: Double = 0.0014

    @Option(help: "ReAct clipping percentile of the training activations.")
    var reactPercentile: Double = 90

    @Option(help: "KNN: distance to the k-th nearest training feature.")
    var knnK: Int = 50

    @Option(help: "LDE flow training epochs.")
    var ldeEpochs: Int = 1

    @Option(help: "LDE: reduce features to this many principal components first.")
    var ldePca: Int?

    @Flag(help: "LDE: raw features instead of L2-normalised ones.")
    var ldeRaw = false

    @Option(help: "LDE Adam learning rate.")
    var ldeLr: Double = 1e-4

    @Option(help: "LDE glow-latent blocks.")
    var ldeBlocks: Int = 10

    @Option(help: "LDE glow-latent coupling hidden width.")
    var ldeHidden: Int = 2048

    var detectorList: [String] { detectors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    var oodList: [String] { ood.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        for name in detectorList where !Self.detectorNames.contains(name) {
            throw ValidationError("unknown detector '\(name)'; choose from \(Self.detectorNames.joined(separator: ","))")
        }
        guard !detectorList.isEmpty else { throw ValidationError("--detectors is empty") }
        guard Set(detectorList).count == detectorList.count else { throw ValidationError("--detectors lists a detector twice") }
        guard !oodList.isEmpty else { throw ValidationError("--ood is empty") }
        for key in [inDistribution] + oodList {
            do { _ = try DataSpec(key: key) } catch { throw ValidationError(error.description) }
        }
        if let spec = try? DataSpec(key: inDistribution), spec.trainCounterpart == nil {
            throw ValidationError("--in \(inDistribution) has no training part to fit the detectors on")
        }
        if let subset, subset < 1 { throw ValidationError("--subset must be at least 1") }
        if let trainCount, trainCount < 1 { throw ValidationError("--train-count must be at least 1") }
        guard odinTemperature > 0, odinEpsilon >= 0 else { throw ValidationError("--odin-temperature must be positive and --odin-epsilon non-negative") }
        guard reactPercentile > 0, reactPercentile <= 100 else { throw ValidationError("--react-percentile must be in (0, 100]") }
        guard knnK >= 1 else { throw ValidationError("--knn-k must be at least 1") }
        guard ldeEpochs >= 0, ldeLr > 0, ldeBlocks >= 1, ldeHidden >= 1 else {
            throw ValidationError("--lde-epochs must be non-negative; --lde-lr, --lde-blocks and --lde-hidden positive")
        }
        if let ldePca, ldePca < 2 || ldePca % 2 != 0 { throw ValidationError("--lde-pca must be even and at least 2") }
    }

    /// The detectors named by --detectors, in that order.
    func makeDetectors(_ extractor: FeatureExtractor) -> [any OODDetector] {
        var lde = LDEOptions()
        lde.epochs = ldeEpochs
        lde.pca = ldePca
        lde.normalize = !ldeRaw
        lde.learningRate = ldeLr
        lde.blocks = ldeBlocks
        lde.hidden = ldeHidden
        return detectorList.map { name -> any OODDetector in
            switch name {
            case "msp": return MSPDetector(extractor: extractor)
            case "odin": return ODINDetector(extractor: extractor, temperature: odinTemperature, epsilon: odinEpsilon)
            case "energy": return EnergyDetector(extractor: extractor)
            case "react": return ReActDetector(extractor: extractor, percentile: reactPercentile)
            case "mahalanobis": return MahalanobisDetector(extractor: extractor)
            case "knn": return KNNDetector(extractor: extractor, k: knnK)
            default:
                let detector = LDEDetector(extractor: extractor, options: lde)
                detector.showProgress = true
                return detector
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            let inSpec = try DataSpec(key: inDistribution)
            let oodSpecs = try oodList.map { try DataSpec(key: $0) }
            let featureCache = noCache ? nil : FeatureCache(directory: URL(fileURLWithPath: cache))
            let extractor = try FeatureExtractor.load(checkpoint: URL(fileURLWithPath: classifier), cache: featureCache)
            extractor.showProgress = true
            extractor.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            var evaluation = OODEvaluation(inDistribution: inSpec, ood: oodSpecs, subset: subset, trainCount: trainCount,
                                           seed: seed, dataDir: dataDir)
            evaluation.showProgress = true
            FileHandle.standardError.write(Data("evaluating \(detectorList.joined(separator: ",")) with \(extractor.classifier.config.architecture.rawValue) from \(classifier), \(Engine.threads) threads\n".utf8))
            let result = try evaluation.run(makeDetectors(extractor))
            let directory = URL(fileURLWithPath: out)
            try result.write(to: directory)
            print(result.table(), terminator: "")
            print("wrote metrics.csv, metrics.json and scores.csv to \(out)")
        }
    }
}
