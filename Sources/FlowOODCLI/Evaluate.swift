import ArgumentParser
import Foundation
import Tensor
import NN
import Flows
import OOD

/// `flowood evaluate`: OOD detectors of trained classifiers and flows against OOD sets.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate OOD detectors of trained classifiers and flows against OOD data sets.",
        discussion: """
        Fits each detector on the in-distribution training set (the train part of --in), \
        scores the --in test set and every --ood set, and prints AUROC, FPR95 (false-positive \
        rate at 95% true-positive rate, in-distribution positive), AUPR-in and AUPR-out, each \
        with a percentile-bootstrap interval (--bootstrap resamples of the ID and OOD scores, \
        stratified, seeded by --seed). Scores are higher for more in-distribution inputs. \
        Classifier detectors (msp, odin, energy, react, mahalanobis, knn, lde) use \
        --classifier runs; flow detectors use --flow runs (train-flow --run-dir): likelihood \
        scores -bpd, typicality -|bpd - mean training bpd|, through the same scorer as flowood \
        score. Several comma-separated runs (one per seed) are evaluated alike and aggregated \
        as mean ± sample standard deviation per detector and OOD set. Tabular sets \
        (tabular-<set>-<class>-test) work with flow detectors only. A classifier trained with \
        --classes sets the in-distribution classes; --ood held-out names the other classes. \
        Writes metrics.csv (one row per detector, run and OOD set, with interval columns), \
        aggregate.csv (mean and std over runs), metrics.json and scores.csv \
        (\(EvaluationResult.scoresHeader); see README, "Score files") into --out. Classifier \
        features are cached in --cache, keyed by the weights' SHA-256, the data set, count, \
        seed and the SHA-256 of the examples' pixels. Digits is our MNIST stand-in \
        (scikit-learn's 8x8 digits rendered MNIST-style).
        """)

    /// The classifier detectors, in table order.
    static let classifierDetectorNames = ["msp", "odin", "energy", "react", "mahalanobis", "knn", "lde"]
    /// The flow detectors, in table order.
    static let flowDetectorNames = ["likelihood", "typicality"]
    /// Every detector this command builds.
    static let detectorNames = classifierDetectorNames + flowDetectorNames
    /// The classifier directory used when classifier detectors run without --classifier.
    static let defaultClassifier = "runs/cnn-fmnist"
    /// The --ood word for the FashionMNIST classes outside the in-distribution classes.
    static let heldOutKeyword = "held-out"

    @Option(help: "Comma-separated classifier run directories from `flowood train-classifier`, one per seed (results are aggregated over them). (default: runs/cnn-fmnist when a classifier detector is chosen)")
    var classifier: String?

    @Option(help: "Comma-separated flow run directories from `flowood train-flow --run-dir`, one per seed, for the likelihood and typicality detectors (latest checkpoint).")
    var flow: String?

    @Option(help: "Comma-separated detectors: classifier detectors \(classifierDetectorNames.joined(separator: ",")); flow detectors \(flowDetectorNames.joined(separator: ",")). (default: the classifier detectors, unless only --flow is given or --in is tabular; plus the flow detectors with --flow)")
    var detectors: String?

    @Option(name: .customLong("in"), help: "In-distribution test set: fashion-mnist-test, fashion-mnist-classes-<c>-…-test or tabular-<set>-<class>-test (flow detectors only). (default: the classifier's classes, else fashion-mnist-test)")
    var inDistribution: String?

    @Option(help: "Comma-separated OOD sets: digits (our MNIST stand-in: scikit-learn's 8x8 digits rendered MNIST-style), textures, photos, gaussian-noise, uniform-noise, constant, fashion-mnist-inverted, fashion-mnist-flipped, fashion-mnist-classes-<c>-…-test, held-out (the FashionMNIST classes outside --in), tabular-<wine|breast-cancer>-<class>-test.")
    var ood: String = "digits,textures,photos"

    @Option(help: "At most this many examples per evaluated set, a seeded random subset (generated sets: exactly this many; default 10,000).")
    var subset: Int?

    @Option(help: "At most this many in-distribution training examples (seeded random subset) to fit the detectors on (default: all).")
    var trainCount: Int?

    @Option(help: "Seed of the subsets, generated sets, detector fitting, flow dequantisation noise and bootstrap.")
    var seed: UInt64 = 0

    @Option(help: "Bootstrap resamples per detector, run and OOD set for the confidence intervals; 0 disables them.")
    var bootstrap: Int = 1000

    @Option(help: "Coverage of the bootstrap intervals.")
    var confidence: Double = 0.95

    @Option(help: "Output directory for metrics.csv, aggregate.csv, metrics.json and scores.csv.")
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

    @Option(help: "LDE: reduce features to this many principal components first (at least 2; odd numbers work).")
    var ldePca: Int?

    @Flag(help: "LDE: raw features instead of L2-normalised ones.")
    var ldeRaw = false

    @Option(help: "LDE Adam learning rate.")
    var ldeLr: Double = 1e-4

    @Option(help: "LDE glow-latent blocks.")
    var ldeBlocks: Int = 10

    @Option(help: "LDE glow-latent coupling hidden width.")
    var ldeHidden: Int = 2048

    @Option(help: "Typicality: estimate the mean training bpd on a seeded random subset of at most N training examples.")
    var typicalityCount: Int = 2000

    @Option(help: "Flow detectors: samples per forward pass.")
    var flowBatchSize: Int = 100

    /// Splits a comma-separated option.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    var classifierList: [String]? { classifier.map(Self.list) }
    var flowList: [String]? { flow.map(Self.list) }
    var oodList: [String] { Self.list(ood) }

    /// Whether --in names a tabular set.
    var tabularIn: Bool { inDistribution.flatMap { try? DataSpec(key: $0) }?.isTabular ?? false }

    /// The detectors to run: --detectors, or the default described in its help.
    var detectorList: [String] {
        if let detectors { return Self.list(detectors) }
        var out: [String] = []
        if classifier != nil || (flow == nil && !tabularIn) { out += Self.classifierDetectorNames }
        if flow != nil { out += Self.flowDetectorNames }
        return out
    }

    var classifierDetectors: [String] { detectorList.filter { Self.classifierDetectorNames.contains($0) } }
    var flowDetectors: [String] { detectorList.filter { Self.flowDetectorNames.contains($0) } }

    /// The classifier directories the classifier detectors use.
    var classifierDirectories: [String] {
        classifierDetectors.isEmpty ? [] : (classifierList ?? [Self.defaultClassifier])
    }

    func validate() throws {
        for name in detectorList where !Self.detectorNames.contains(name) {
            throw ValidationError("unknown detector '\(name)'; choose from \(Self.detectorNames.joined(separator: ","))")
        }
        if detectors == nil, detectorList.isEmpty, let inDistribution {
            throw ValidationError("the tabular set \(inDistribution) can only be evaluated with the flow detectors: pass --flow "
                + "<run directory of a vector flow trained on the in-distribution class>")
        }
        guard !detectorList.isEmpty else { throw ValidationError("--detectors is empty") }
        guard Set(detectorList).count == detectorList.count else { throw ValidationError("--detectors lists a detector twice") }
        if let classifierList {
            guard !classifierList.isEmpty else { throw ValidationError("--classifier names no directory") }
            guard Set(classifierList).count == classifierList.count else { throw ValidationError("--classifier lists a directory twice") }
            guard !classifierDetectors.isEmpty else {
                throw ValidationError("--classifier is given but no classifier detector (\(Self.classifierDetectorNames.joined(separator: ","))) is chosen")
            }
        }
        if let flowList {
            guard !flowList.isEmpty else { throw ValidationError("--flow names no directory") }
            guard Set(flowList).count == flowList.count else { throw ValidationError("--flow lists a directory twice") }
            guard !flowDetectors.isEmpty else {
                throw ValidationError("--flow is given but no flow detector (\(Self.flowDetectorNames.joined(separator: ","))) is chosen")
            }
        } else if !flowDetectors.isEmpty {
            throw ValidationError("detectors \(flowDetectors.joined(separator: ",")) need a flow: pass --flow <run directory> (from flowood train-flow --run-dir)")
        }
        guard !oodList.isEmpty else { throw ValidationError("--ood is empty") }
        for key in [inDistribution].compactMap({ $0 }) + oodList where key != Self.heldOutKeyword {
            do { _ = try DataSpec(key: key) } catch { throw ValidationError(error.description) }
        }
        if let inDistribution, let spec = try? DataSpec(key: inDistribution), spec.trainCounterpart == nil {
            throw ValidationError("--in \(inDistribution) has no training part to fit the detectors on")
        }
        let tabular = ([inDistribution].compactMap { $0 } + oodList).filter { (try? DataSpec(key: $0))?.isTabular ?? false }
        if let first = tabular.first, !classifierDetectors.isEmpty {
            throw ValidationError("classifier detectors (\(classifierDetectors.joined(separator: ","))) score images through a classifier and "
                + "cannot evaluate the tabular set \(first); use the flow detectors: --flow <run directory of a vector flow trained on "
                + "the in-distribution class> --detectors \(Self.flowDetectorNames.joined(separator: ","))")
        }
        if !tabular.isEmpty, !tabularIn {
            throw ValidationError("tabular OOD sets need a tabular --in (tabular-<set>-<class>-test), got --in \(inDistribution ?? "fashion-mnist-test")")
        }
        if let subset, subset < 1 { throw ValidationError("--subset must be at least 1") }
        if let trainCount, trainCount < 1 { throw ValidationError("--train-count must be at least 1") }
        guard bootstrap >= 0 else { throw ValidationError("--bootstrap must be non-negative (0 disables the intervals)") }
        guard confidence > 0, confidence < 1 else { throw ValidationError("--confidence must be in (0, 1)") }
        guard odinTemperature > 0, odinEpsilon >= 0 else { throw ValidationError("--odin-temperature must be positive and --odin-epsilon non-negative") }
        guard reactPercentile > 0, reactPercentile <= 100 else { throw ValidationError("--react-percentile must be in (0, 100]") }
        guard knnK >= 1 else { throw ValidationError("--knn-k must be at least 1") }
        guard ldeEpochs >= 0, ldeLr > 0, ldeBlocks >= 1, ldeHidden >= 1 else {
            throw ValidationError("--lde-epochs must be non-negative; --lde-lr, --lde-blocks and --lde-hidden positive")
        }
        if let ldePca, ldePca < 2 { throw ValidationError("--lde-pca must be at least 2") }
        guard typicalityCount >= 1, flowBatchSize >= 1 else { throw ValidationError("--typicality-count and --flow-batch-size must be at least 1") }
    }

    /// The classifier detectors named by --detectors, in that order, on one classifier.
    func makeClassifierDetectors(_ extractor: FeatureExtractor) -> [any OODDetector] {
        var lde = LDEOptions()
        lde.epochs = ldeEpochs
        lde.pca = ldePca
        lde.normalize = !ldeRaw
        lde.learningRate = ldeLr
        lde.blocks = ldeBlocks
        lde.hidden = ldeHidden
        return classifierDetectors.map { name -> any OODDetector in
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

    /// The flow detectors named by --detectors, in that order, on one trained flow.
    func makeFlowDetectors(_ flow: any FlowLayer, spec: FlowSpec) -> [any OODDetector] {
        flowDetectors.map { name -> any OODDetector in
            if name == "likelihood" {
                let detector = FlowLikelihoodDetector(flow: flow, spec: spec, seed: seed)
                detector.batchSize = flowBatchSize
                detector.showProgress = true
                return detector
            }
            let detector = TypicalityDetector(flow: flow, spec: spec, seed: seed)
            detector.likelihood.batchSize = flowBatchSize
            detector.likelihood.showProgress = true
            detector.fitLimit = typicalityCount
            return detector
        }
    }

    /// The in-distribution set: --in, else the classes of the classifiers, else fashion-mnist-test.
    /// - Throws: `UserError` when --in contradicts the classes the classifiers were trained on.
    func inDistributionSpec(classifiers: [(directory: String, config: ClassifierConfig)]) throws -> DataSpec {
        var trained: (directory: String, classes: [Int]?)?
        for (directory, config) in classifiers {
            if let first = trained, first.classes != config.fashionMNISTClasses {
                throw UserError("classifiers \(first.directory) and \(directory) were trained on different classes "
                    + "(\(Self.describe(first.classes)) and \(Self.describe(config.fashionMNISTClasses))); evaluate them separately")
            }
            trained = (directory, config.fashionMNISTClasses)
        }
        let expected: DataSpec? = trained.map { $0.classes.map { .fashionMNISTClasses($0, .test) } ?? .fashionMNIST(.test) }
        guard let inDistribution else { return expected ?? .fashionMNIST(.test) }
        let spec = try DataSpec(key: inDistribution)
        if let expected, let trained, spec != expected {
            throw UserError("--in \(spec.key) does not match classifier \(trained.directory), trained on \(Self.describe(trained.classes)): "
                + "use --in \(expected.key) (or omit --in)")
        }
        return spec
    }

    static func describe(_ classes: [Int]?) -> String {
        classes.map { "FashionMNIST classes " + $0.map(String.init).joined(separator: ",") } ?? "all ten FashionMNIST classes"
    }

    /// The OOD sets of --ood, with `held-out` expanded to the FashionMNIST classes outside the
    /// in-distribution classes.
    /// - Throws: `UserError` for `held-out` without a class subset in distribution, and for an
    ///   OOD class set that shares classes with the in-distribution set.
    func oodSpecs(inDistribution: DataSpec) throws -> [DataSpec] {
        let inClasses: [Int]? = switch inDistribution {
        case .fashionMNIST: Array(0..<10)
        case .fashionMNISTClasses(let c, _): c
        default: nil
        }
        return try oodList.map { key in
            if key == Self.heldOutKeyword {
                guard case .fashionMNISTClasses(let c, _) = inDistribution else {
                    throw UserError("--ood held-out needs an in-distribution class subset (a classifier trained with --classes, "
                        + "or --in fashion-mnist-classes-<c>-…-test); the in-distribution set is \(inDistribution.key)")
                }
                return .fashionMNISTClasses((0..<10).filter { !c.contains($0) }, .test)
            }
            let spec = try DataSpec(key: key)
            if case .fashionMNISTClasses(let c, _) = spec, let inClasses, let shared = c.first(where: inClasses.contains) {
                throw UserError("--ood \(key) contains class \(shared), which is in distribution (\(inDistribution.key))")
            }
            return spec
        }
    }

    func run() throws {
        try runReportingErrors { try execute() }
    }

    /// The command's work, throwing typed errors (run() prints them as "error: ...").
    func execute() throws {
        let log = { (line: String) in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let featureCache = noCache ? nil : FeatureCache(directory: URL(fileURLWithPath: cache))
        var extractors: [(directory: String, extractor: FeatureExtractor)] = []
        for directory in classifierDirectories {
            let extractor = try FeatureExtractor.load(checkpoint: URL(fileURLWithPath: directory), cache: featureCache)
            extractor.showProgress = true
            extractor.log = log
            extractors.append((directory, extractor))
        }
        let inSpec = try inDistributionSpec(classifiers: extractors.map { ($0.directory, $0.extractor.classifier.config) })
        let oodSpecs = try oodSpecs(inDistribution: inSpec)
        var flows: [(directory: String, flow: any FlowLayer, spec: FlowSpec)] = []
        for directory in flowList ?? [] where !flowDetectors.isEmpty {
            let run = try FlowRun(directory: URL(fileURLWithPath: directory))
            let trainedOn = trainingDataSpec(of: run)
            if let trainedOn, trainedOn != inSpec.trainCounterpart {
                if trainedOn.isTabular || inSpec.isTabular {
                    throw UserError("flow \(directory) was trained on \(trainedOn.key), but the in-distribution training set is "
                        + "\(inSpec.trainCounterpart?.key ?? "none"): tabular sets are standardised with the in-distribution class's "
                        + "statistics, so --in must be the test part of the flow's class")
                }
                log("note: flow \(directory) was trained on \(trainedOn.key); the in-distribution set is \(inSpec.key)")
            }
            flows.append((directory, try run.loadFlow(), run.spec))
        }

        var entries: [RunDetector] = []
        let classifierSets = extractors.map { ($0.directory, makeClassifierDetectors($0.extractor)) }
        let flowSets = flows.map { ($0.directory, makeFlowDetectors($0.flow, spec: $0.spec)) }
        for name in detectorList {
            for (directory, detectors) in classifierSets + flowSets {
                for d in detectors where d.name == name { entries.append(RunDetector(d, run: directory)) }
            }
        }

        var evaluation = OODEvaluation(inDistribution: inSpec, ood: oodSpecs, subset: subset, trainCount: trainCount,
                                       seed: seed, dataDir: dataDir)
        evaluation.showProgress = true
        evaluation.bootstrapResamples = bootstrap
        evaluation.confidence = confidence
        let models = extractors.map { "\($0.extractor.classifier.config.architecture.rawValue) \($0.directory)" }
            + flows.map { "\($0.spec.summary) \($0.directory)" }
        log("evaluating \(detectorList.joined(separator: ",")) on \(inSpec.key) against \(oodSpecs.map(\.key).joined(separator: ",")) "
            + "with \(models.joined(separator: "; ")), \(Engine.threads) threads")
        let result = try evaluation.run(entries)
        try result.write(to: URL(fileURLWithPath: out))
        print(result.table(), terminator: "")
        print("wrote metrics.csv, aggregate.csv, metrics.json and scores.csv to \(out)")
    }
}
