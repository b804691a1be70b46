/// The runner's typed view of the directives (docs/report-design.md "The vocabulary").
///
/// Every spec is Codable with a canonical JSON form (sorted keys, defaults filled in), which is
/// what cache keys hash: two directives that mean the same experiment share one cache entry.

/// A training or evaluation split.
public enum Split: String, Codable, Sendable, Hashable {
    case train, test
}

/// A dataset reference (`Data` in the vocabulary).
public indirect enum DataRef: Codable, Sendable, Hashable {
    case fashionMNIST(Split)
    case digits
    case textures
    case photos
    case gaussianNoise
    case uniformNoise
    case constant
    case invertedFashionMNIST
    case flippedFashionMNIST
    case fashionMNISTClasses([Int], Split)
    case tabular(name: String, classLabel: Int, split: Split)
    /// Penultimate features of the classifier trained by `@Train(id: classifier)` on `of`.
    case features(classifier: String, of: DataRef, normalize: Bool, pca: Int?)

    /// The stable key used in tables, value keys and score files.
    public var key: String {
        switch self {
        case .fashionMNIST(let s): "fashion-mnist-\(s.rawValue)"
        case .digits: "digits"
        case .textures: "textures"
        case .photos: "photos"
        case .gaussianNoise: "gaussian-noise"
        case .uniformNoise: "uniform-noise"
        case .constant: "constant"
        case .invertedFashionMNIST: "fashion-mnist-inverted"
        case .flippedFashionMNIST: "fashion-mnist-flipped"
        case .fashionMNISTClasses(let c, let s): "fashion-mnist-classes-\(c.map(String.init).joined(separator: "-"))-\(s.rawValue)"
        case .tabular(let name, let c, let s): "tabular-\(name)-\(c)-\(s.rawValue)"
        case .features(let cls, let of, let normalize, let pca):
            "features-\(cls)-\(of.key)\(pca.map { "-pca\($0)" } ?? "")\(normalize ? "" : "-raw")"
        }
    }

    /// A label for figure legends and table headers.
    public var displayName: String {
        switch self {
        case .fashionMNIST(let s): "FashionMNIST (\(s.rawValue))"
        case .digits: "Digits (sklearn)"
        case .textures: "Textures"
        case .photos: "Photos"
        case .gaussianNoise: "Gaussian noise"
        case .uniformNoise: "Uniform noise"
        case .constant: "Constant"
        case .invertedFashionMNIST: "FashionMNIST inverted"
        case .flippedFashionMNIST: "FashionMNIST flipped"
        case .fashionMNISTClasses(let c, let s): "FashionMNIST classes \(classRuns(c)) (\(s.rawValue))"
        case .tabular(let name, let c, let s): "\(name) class \(c) (\(s.rawValue))"
        case .features(_, let of, _, _): "features of \(of.displayName)"
        }
    }

    /// The `@Train` ids this reference needs (feature extractors).
    public var dependencies: [String] {
        if case .features(let cls, let of, _, _) = self { return [cls] + of.dependencies }
        return []
    }
}

/// The s/t network of a RealNVP coupling.
public enum STNetSpec: Codable, Sendable, Hashable {
    case resnet, resnetNoBatchNorm, highway
    case bottleneck(Int)
}

/// RealNVP's mask layout.
public enum MaskSchemeSpec: String, Codable, Sendable, Hashable {
    case checkerboard, cycle, horizontal, vertical
}

/// A classifier backbone.
public enum BackboneSpec: Codable, Sendable, Hashable {
    case cnn
    case resnet(width: Int)
}

/// `Model` in the vocabulary.
public enum ModelSpec: Codable, Sendable, Hashable {
    case realNVP(scales: Int, channels: Int, blocks: Int, mask: MaskSchemeSpec, stNet: STNetSpec)
    case glow(levels: Int, depth: Int, channels: Int)
    case glowLatent(blocks: Int, hidden: Int)
    case realNVPVector(couplings: Int, hidden: Int)
    case residualFlow(blocks: Int, hidden: Int)
    case classifier(BackboneSpec)

    public var isClassifier: Bool {
        if case .classifier = self { return true }
        return false
    }

    /// Flows on images (as opposed to vectors).
    public var isImageFlow: Bool {
        switch self {
        case .realNVP, .glow: true
        default: false
        }
    }

    /// A short human name: "RealNVP", "Glow", ...
    public var displayName: String {
        switch self {
        case .realNVP: "RealNVP"
        case .glow: "Glow"
        case .glowLatent: "Glow (latent)"
        case .realNVPVector: "RealNVP (vector)"
        case .residualFlow: "Residual flow"
        case .classifier: "Classifier"
        }
    }
}

public enum OptimizerSpec: String, Codable, Sendable, Hashable {
    case adam, rmsprop
}

/// `@Train`.
public struct TrainSpec: Codable, Sendable, Hashable {
    public var id: String
    public var model: ModelSpec
    public var data: DataRef
    public var epochs: Int
    public var batchSize: Int
    public var lr: Double
    public var optimizer: OptimizerSpec
    public var weightDecay: Double
    public var clip: Double?
    public var seeds: [Int]
    public var subset: Int?
    public var negative: DataRef?
    public var negativeWeight: Double

    /// The seed a consumer with evaluation seed `s` uses: `s` if trained, else the first.
    public func seed(for s: Int) -> Int { seeds.contains(s) ? s : seeds[0] }
}

/// `Detector` in the vocabulary.
public enum DetectorKind: Codable, Sendable, Hashable {
    case likelihood(flow: String)
    case typicality(flow: String)
    case msp(classifier: String)
    case odin(classifier: String, temperature: Double, epsilon: Double)
    case energy(classifier: String)
    case react(classifier: String, percentile: Double)
    case mahalanobis(classifier: String)
    case knn(classifier: String, k: Int)
    case lde(classifier: String, flow: ModelSpec, epochs: Int, normalize: Bool, pca: Int?)

    /// The `@Train` id this detector depends on.
    public var model: String {
        switch self {
        case .likelihood(let f), .typicality(let f): f
        case .msp(let c), .odin(let c, _, _), .energy(let c), .react(let c, _), .mahalanobis(let c),
             .knn(let c, _), .lde(let c, _, _, _, _): c
        }
    }

    /// The default key: the case name, or the flow id for `.likelihood`.
    public var defaultKey: String {
        switch self {
        case .likelihood(let f): f
        case .typicality: "typicality"
        case .msp: "msp"
        case .odin: "odin"
        case .energy: "energy"
        case .react: "react"
        case .mahalanobis: "mahalanobis"
        case .knn: "knn"
        case .lde: "lde"
        }
    }

    /// Name in tables.
    public var displayName: String {
        switch self {
        case .likelihood(let f): "Likelihood (\(f))"
        case .typicality(let f): "Typicality (\(f))"
        case .msp: "MSP"
        case .odin: "ODIN"
        case .energy: "Energy"
        case .react: "ReAct"
        case .mahalanobis: "Mahalanobis"
        case .knn: "KNN"
        case let .lde(_, flow, epochs, normalize, pca):
            "LDE" + {
                var details: [String] = []
                if case .glowLatent = flow {} else { details.append(flow.displayName) }
                if !normalize { details.append("raw") }
                if let pca { details.append("PCA \(pca)") }
                if epochs != 1 { details.append("\(epochs) epochs") }
                return details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")"
            }()
        }
    }
}

public struct DetectorSpec: Codable, Sendable, Hashable {
    public var kind: DetectorKind
    public var key: String
    public var displayName: String
}

/// `@Evaluate`.
public struct EvaluateSpec: Codable, Sendable, Hashable {
    public var id: String
    public var inDistribution: DataRef
    public var ood: [DataRef]
    public var detectors: [DetectorSpec]
    public var seeds: [Int]
    public var subset: Int?
}

/// Which score a histogram shows.
public enum ScoreKind: String, Codable, Sendable, Hashable {
    case bitsPerDim, logLikelihood, score
}

/// A metric of `OODMetrics`.
public enum MetricKind: String, Codable, Sendable, Hashable, CaseIterable {
    case auroc, fpr95, fpr95OODPositive, auprIn, auprOut, detectionError

    public var displayName: String {
        switch self {
        case .auroc: "AUROC"
        case .fpr95: "FPR95"
        case .fpr95OODPositive: "FPR95 (OOD +)"
        case .auprIn: "AUPR-in"
        case .auprOut: "AUPR-out"
        case .detectionError: "Det. error"
        }
    }

    /// Whether larger is better (for bolding the best row).
    public var higherIsBetter: Bool {
        switch self {
        case .auroc, .auprIn, .auprOut: true
        case .fpr95, .fpr95OODPositive, .detectionError: false
        }
    }
}

/// `@Curve`'s varied parameter.
public enum VarySpec: Codable, Sendable, Hashable {
    case epochs([Int])
    case pca([Int])
}

/// `Paper` of `@Claim`.
public enum PaperSpec: String, Codable, Sendable, Hashable {
    case kirichenko2020, lde2023

    public var displayName: String {
        switch self {
        case .kirichenko2020: "Kirichenko et al. (2020)"
        case .lde2023: "LDE"
        }
    }

    /// For narrow table columns: "Kirichenko", "LDE".
    public var shortName: String {
        switch self {
        case .kirichenko2020: "Kirichenko"
        case .lde2023: "LDE"
        }
    }
}

/// `Expectation` of `@Claim`.
public enum ExpectationSpec: Codable, Sendable, Hashable {
    case below(Double)
    case above(Double)
    case lessThan(String)
    case greaterThan(String)
    /// Shown by a figure, not reduced to a number (the claim has no `value`).
    case qualitative
}

/// `@Histogram`: scores of a flow (`model:`) or of an evaluation's detector.
public struct HistogramSpec: Codable, Sendable, Hashable {
    public enum Source: Codable, Sendable, Hashable {
        case model(String)
        case evaluation(String, detector: String)
    }
    public var id: String
    public var title: String?
    public var source: Source
    public var datasets: [DataRef]
    public var score: ScoreKind
    public var bins: Int
}

/// `@ROC`.
public struct ROCSpec: Codable, Sendable, Hashable {
    public var id: String
    public var title: String?
    public var evaluation: String
    public var detector: String
    public var ood: [DataRef]?
}

/// `@Curve`.
public struct CurveSpec: Codable, Sendable, Hashable {
    public var id: String
    public var title: String?
    public var evaluation: String
    public var detector: String
    public var vary: VarySpec
    public var metric: MetricKind
    public var ood: [DataRef]?
}

/// `@CouplingGrid` and `@LatentGrid`.
public struct ImageFlowFigureSpec: Codable, Sendable, Hashable {
    public var id: String
    public var title: String?
    public var model: String
    public var images: [DataRef]
    /// `@CouplingGrid`: which image of each set; `@LatentGrid`: how many images per set.
    public var indexOrCount: Int
}

/// `@Samples`.
public struct SamplesSpec: Codable, Sendable, Hashable {
    public var id: String
    public var title: String?
    public var model: String
    public var count: Int
    public var temperature: Double
}

/// `@Scatter` (t-SNE of classifier features).
public struct ScatterSpec: Codable, Sendable, Hashable {
    public var id: String
    public var title: String?
    public var classifier: String
    public var datasets: [DataRef]
    public var flow: String?
    public var perSet: Int
    public var normalize: Bool
    public var perplexity: Double
}

/// `@AUROCTable`.
public struct TableSpec: Codable, Sendable, Hashable {
    public var id: String
    public var evaluation: String
    public var metrics: [MetricKind]
    public var detectors: [String]?
    public var ood: [DataRef]?
    /// The paper's numbers as printed there (percent), by `"metric:detector/ood-key"` (the
    /// decoder fills in the table's first metric for keys written without one).
    public var published: [String: Double]?

    /// The published number of `detector` on `ood` for `metric`, if the chapter gives one.
    public func published(_ metric: MetricKind, _ detector: String, _ ood: String) -> Double? {
        published?["\(metric.rawValue):\(detector)/\(ood)"]
    }

    /// Whether any detector has a published number for `metric` on `ood` (then the table has a
    /// "paper" column right after ours).
    public func hasPublished(_ metric: MetricKind, _ ood: String) -> Bool {
        published?.keys.contains { $0.hasPrefix("\(metric.rawValue):") && $0.hasSuffix("/\(ood)") } ?? false
    }
}

/// `@Scores`: per-sample log-likelihood and bits/dim of data sets under a trained flow.
public struct ScoresSpec: Codable, Sendable, Hashable {
    public var id: String
    public var model: String
    public var datasets: [DataRef]
    public var subset: Int?
}

/// `@Features`: penultimate features of a trained classifier on data sets.
public struct FeaturesSpec: Codable, Sendable, Hashable {
    public var id: String
    public var classifier: String
    public var datasets: [DataRef]
    public var normalize: Bool
    public var subset: Int?
}

/// `@Claim`.
public struct ClaimSpec: Codable, Sendable, Hashable {
    public var id: String
    public var paper: PaperSpec
    public var text: String
    /// Where the paper shows it ("Figure 1a"), as written in the chapter.
    public var paperEvidence: String?
    public var evidence: String
    /// The inline-value key tested; nil for a qualitative claim.
    public var value: String?
    public var expect: ExpectationSpec
}

/// One directive, typed, with where it came from.
public enum DirectiveSpec: Sendable {
    case title(title: String, subtitle: String?, authors: String?)
    case train(TrainSpec)
    case evaluate(EvaluateSpec)
    case histogram(HistogramSpec)
    case roc(ROCSpec)
    case curve(CurveSpec)
    case couplingGrid(ImageFlowFigureSpec)
    case latentGrid(ImageFlowFigureSpec)
    case samples(SamplesSpec)
    case scatter(ScatterSpec)
    case table(TableSpec)
    case scores(ScoresSpec)
    case features(FeaturesSpec)
    case claimsLedger(id: String)
    case claim(ClaimSpec)
}

/// A typed directive in its chapter.
public struct LocatedDirective: Sendable {
    public var spec: DirectiveSpec
    public var location: SourceLocation
    /// The directive's source text, verbatim (for provenance).
    public var source: String
    /// The `{ ... }` body (caption, abstract or comment), Markdown.
    public var body: String?

    public init(spec: DirectiveSpec, location: SourceLocation, source: String, body: String?) {
        self.spec = spec
        self.location = location
        self.source = source
        self.body = body
    }
}

/// A chapter as the runner sees it: Markdown runs and typed directives in order.
public enum ChapterPiece: Sendable {
    case markdown(String, line: Int)
    case directive(LocatedDirective)
}

public struct ChapterSpec: Sendable {
    public var file: String
    public var pieces: [ChapterPiece]

    public init(file: String, pieces: [ChapterPiece]) {
        self.file = file
        self.pieces = pieces
    }
}

/// Class lists as written for readers: runs of three or more consecutive classes as a range
/// ([5, 6, 7, 8, 9] → "5–9", [0, 2, 3] → "0, 2, 3").
func classRuns(_ classes: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < classes.count {
        var j = i
        while j + 1 < classes.count && classes[j + 1] == classes[j] + 1 { j += 1 }
        if j - i >= 2 {
            parts.append("\(classes[i])–\(classes[j])")
        } else {
            parts += classes[i...j].map(String.init)
        }
        i = j + 1
    }
    return parts.joined(separator: ", ")
}
