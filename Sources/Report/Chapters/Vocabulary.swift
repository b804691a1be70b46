/// The directive vocabulary of docs/report-design.md as data: every directive's parameters, the
/// enums they use, the keys of data sets and detectors, and the citation keys. This is the one
/// place to grow the vocabulary; keep it and the design doc in step.
public struct Vocabulary: Sendable {
    /// Directive schemas in the order of the design doc.
    public var directives: [DirectiveSchema]
    public var enums: [String: EnumType]
    /// What each `Model` case trains (`ref<Train flow>` and friends check it).
    public var modelRoles: [String: Set<ModelRole>]
    /// Keys accepted in `[@key]` citations.
    public var citationKeys: [String]

    public func schema(named name: String) -> DirectiveSchema? {
        directives.first { $0.name == name }
    }

    /// The vocabulary the chapters are written in.
    public static let standard = Vocabulary(
        directives: standardDirectives, enums: Dictionary(uniqueKeysWithValues: standardEnums.map { ($0.name, $0) }),
        modelRoles: [
            "realNVP": [.flow, .imageFlow, .realNVP], "glow": [.flow, .imageFlow],
            "glowLatent": [.flow], "realNVPVector": [.flow], "residualFlow": [.flow],
            "classifier": [.classifier],
        ],
        citationKeys: ["kirichenko2020", "lde2023"])
}

// MARK: - Directives

private let figureIdentity: [Parameter] = [.labelled("id", .string), .labelled("title", .optional(.string))]
private let flow = RefTarget(["Train"], role: .flow)
private let imageFlow = RefTarget(["Train"], role: .imageFlow)
private let realNVP = RefTarget(["Train"], role: .realNVP)
private let classifier = RefTarget(["Train"], role: .classifier)
private let evaluation = RefTarget(["Evaluate"])
private let figureKinds = ["Histogram", "ROC", "Curve", "CouplingGrid", "LatentGrid", "Samples", "Scatter"]
private let tableKinds = ["AUROCTable", "Scores", "Features", "ClaimsLedger"]

private let standardDirectives: [DirectiveSchema] = [
    DirectiveSchema("Title", [
        .labelled("title", .string),
        .labelled("subtitle", .optional(.string)),
        .labelled("authors", .optional(.string)),
    ], body: true, exactlyOnce: true),

    DirectiveSchema("Train", [
        .labelled("id", .string),
        .labelled("model", .enumeration("Model")),
        .labelled("data", .enumeration("Data")),
        .labelled("epochs", .int),
        .labelled("batchSize", .int, "64"),
        .labelled("lr", .double, "1e-3"),
        .labelled("optimizer", .enumeration("Optimizer"), ".adam"),
        .labelled("weightDecay", .double, "0"),
        .labelled("clip", .optional(.double)),
        .labelled("seeds", .array(.int), "[0]"),
        .labelled("subset", .optional(.int)),
        .labelled("negative", .optional(.enumeration("Data"))),
        .labelled("negativeWeight", .double, "1"),
    ]),

    DirectiveSchema("Evaluate", [
        .labelled("id", .string),
        .labelled("inDistribution", .enumeration("Data")),
        .labelled("ood", .array(.enumeration("Data"))),
        .labelled("detectors", .array(.enumeration("Detector"))),
        .labelled("seeds", .array(.int), "[0]"),
        .labelled("subset", .optional(.int)),
    ]),

    // Figures: id "fig:...", optional title, body = caption.
    DirectiveSchema("Histogram", figureIdentity + [
        .labelled("model", .optional(.ref(flow))),
        .labelled("evaluation", .optional(.ref(evaluation))),
        .labelled("detector", .optional(.string), membership: .detector(of: "evaluation")),
        .labelled("datasets", .array(.enumeration("Data")), membership: .evaluatedSet(of: "evaluation")),
        .labelled("score", .enumeration("Score"), ".bitsPerDim"),
        .labelled("bins", .int, "40"),
    ], id: .prefixed("fig:"), body: true, exactlyOneOf: [["model"], ["evaluation", "detector"]]),

    DirectiveSchema("ROC", figureIdentity + [
        .labelled("evaluation", .ref(evaluation)),
        .labelled("detector", .string, membership: .detector(of: "evaluation")),
        .labelled("ood", .optional(.array(.enumeration("Data"))), membership: .oodSet(of: "evaluation")),
    ], id: .prefixed("fig:"), body: true),

    DirectiveSchema("Curve", figureIdentity + [
        .labelled("evaluation", .ref(evaluation)),
        .labelled("detector", .string, membership: .detector(of: "evaluation")),
        .labelled("vary", .enumeration("Vary")),
        .labelled("metric", .enumeration("Metric"), ".auroc"),
        .labelled("ood", .optional(.array(.enumeration("Data"))), membership: .oodSet(of: "evaluation")),
    ], id: .prefixed("fig:"), body: true),

    DirectiveSchema("CouplingGrid", figureIdentity + [
        .labelled("model", .ref(realNVP)),
        .labelled("images", .array(.enumeration("Data"))),
        .labelled("index", .int, "0"),
    ], id: .prefixed("fig:"), body: true),

    DirectiveSchema("LatentGrid", figureIdentity + [
        .labelled("model", .ref(realNVP)),
        .labelled("images", .array(.enumeration("Data"))),
        .labelled("count", .int, "4"),
    ], id: .prefixed("fig:"), body: true),

    DirectiveSchema("Samples", figureIdentity + [
        .labelled("model", .ref(imageFlow)),
        .labelled("count", .int, "16"),
        .labelled("temperature", .double, "1"),
    ], id: .prefixed("fig:"), body: true),

    DirectiveSchema("Scatter", figureIdentity + [
        .labelled("classifier", .ref(classifier)),
        .labelled("datasets", .array(.enumeration("Data"))),
        .labelled("flow", .optional(.ref(flow))),
        .labelled("perSet", .int, "200"),
        .labelled("normalize", .bool, "true"),
        .labelled("perplexity", .double, "30"),
    ], id: .prefixed("fig:"), body: true),

    // Tables: id "tab:...", body = caption.
    DirectiveSchema("AUROCTable", [
        .labelled("id", .string),
        .labelled("evaluation", .ref(evaluation)),
        .labelled("metrics", .array(.enumeration("Metric")), "[.auroc]"),
        .labelled("detectors", .optional(.array(.string)), membership: .detector(of: "evaluation")),
        .labelled("ood", .optional(.array(.enumeration("Data"))), membership: .oodSet(of: "evaluation")),
        .labelled("published", .optional(.dictionary(.double)), membership: .publishedEntry(of: "evaluation")),
    ], id: .prefixed("tab:"), body: true),

    DirectiveSchema("Scores", [
        .labelled("id", .string),
        .labelled("model", .ref(flow)),
        .labelled("datasets", .array(.enumeration("Data"))),
        .labelled("subset", .optional(.int)),
    ], id: .prefixed("tab:"), body: true),

    DirectiveSchema("Features", [
        .labelled("id", .string),
        .labelled("classifier", .ref(classifier)),
        .labelled("datasets", .array(.enumeration("Data"))),
        .labelled("normalize", .bool, "true"),
        .labelled("subset", .optional(.int)),
    ], id: .prefixed("tab:"), body: true),

    DirectiveSchema("ClaimsLedger", [.labelled("id", .string)], id: .prefixed("tab:"), body: true),

    DirectiveSchema("Claim", [
        .labelled("id", .string),
        .labelled("paper", .enumeration("Paper")),
        .labelled("text", .string),
        .labelled("paperEvidence", .optional(.string)),
        .labelled("evidence", .ref(RefTarget(figureKinds + tableKinds))),
        .labelled("value", .optional(.valueKey)),
        .labelled("expect", .enumeration("Expectation")),
    ], id: .prefixed("claim:"), body: true),
]

// MARK: - Enums

/// The split of a data set; omitted, it is the training split in `@Train` and the test split
/// elsewhere.
private let split = Parameter.positional("split", .enumeration("Split"),
                                         .byDirective(["Train": ".train"], otherwise: ".test"))
private let detectorName = Parameter.labelled("name", .optional(.string))

private let standardEnums: [EnumType] = [
    EnumType("Split", [EnumCase("train"), EnumCase("test")]),

    EnumType("Model", [
        EnumCase("realNVP", [
            .labelled("scales", .int, "2"), .labelled("channels", .int, "64"), .labelled("blocks", .int, "2"),
            .labelled("mask", .enumeration("MaskScheme"), ".checkerboard"),
            .labelled("stNet", .enumeration("STNet"), ".resnet"),
        ]),
        EnumCase("glow", [.labelled("levels", .int, "2"), .labelled("depth", .int, "8"), .labelled("channels", .int, "64")]),
        EnumCase("glowLatent", [.labelled("blocks", .int, "10"), .labelled("hidden", .int, "2048")]),
        EnumCase("realNVPVector", [.labelled("couplings", .int, "6"), .labelled("hidden", .int, "512")]),
        EnumCase("residualFlow", [.labelled("blocks", .int, "6"), .labelled("hidden", .int, "512")]),
        EnumCase("classifier", [.positional("backbone", .enumeration("Backbone"), .value(".cnn"))]),
    ]),
    EnumType("MaskScheme", [EnumCase("checkerboard"), EnumCase("cycle"), EnumCase("horizontal"), EnumCase("vertical")]),
    EnumType("STNet", [
        EnumCase("resnet"), EnumCase("resnetNoBatchNorm"), EnumCase("highway"),
        EnumCase("bottleneck", [.positional("units", .int)]),
    ]),
    EnumType("Backbone", [EnumCase("cnn"), EnumCase("resnet", [.labelled("width", .int, "32")])]),
    EnumType("Optimizer", [EnumCase("adam"), EnumCase("rmsprop")]),

    EnumType("Data", [
        EnumCase("fashionMNIST", [split]),
        EnumCase("digits"), EnumCase("textures"), EnumCase("photos"),
        EnumCase("gaussianNoise"), EnumCase("uniformNoise"), EnumCase("constant"),
        EnumCase("invertedFashionMNIST"), EnumCase("flippedFashionMNIST"),
        EnumCase("fashionMNISTClasses", [.positional("classes", .array(.int)), split]),
        EnumCase("tabular", [.positional("name", .choice(["breast-cancer", "wine"])), .labelled("class", .int), split]),
        EnumCase("features", [
            .positional("classifier", .ref(classifier)), .labelled("of", .enumeration("Data")),
            .labelled("normalize", .bool, "true"), .labelled("pca", .optional(.int)),
        ]),
    ]),

    EnumType("Detector", [
        EnumCase("likelihood", [.positional("flow", .ref(flow)), detectorName]),
        EnumCase("typicality", [.positional("flow", .ref(flow)), detectorName]),
        EnumCase("msp", [.positional("classifier", .ref(classifier)), detectorName]),
        EnumCase("odin", [
            .positional("classifier", .ref(classifier)),
            .labelled("temperature", .double, "1000"), .labelled("epsilon", .double, "0.0014"), detectorName,
        ]),
        EnumCase("energy", [.positional("classifier", .ref(classifier)), detectorName]),
        EnumCase("react", [.positional("classifier", .ref(classifier)), .labelled("percentile", .double, "90"), detectorName]),
        EnumCase("mahalanobis", [.positional("classifier", .ref(classifier)), detectorName]),
        EnumCase("knn", [.positional("classifier", .ref(classifier)), .labelled("k", .int, "50"), detectorName]),
        EnumCase("lde", [
            .positional("classifier", .ref(classifier)),
            .labelled("flow", .enumeration("Model"), ".glowLatent()"), .labelled("epochs", .int, "1"),
            .labelled("normalize", .bool, "true"), .labelled("pca", .optional(.int)), detectorName,
        ]),
    ]),

    EnumType("Score", [EnumCase("bitsPerDim"), EnumCase("logLikelihood"), EnumCase("score")]),
    EnumType("Vary", [EnumCase("epochs", [.positional("values", .array(.int))]),
                      EnumCase("pca", [.positional("values", .array(.int))])]),
    EnumType("Metric", [
        EnumCase("auroc"), EnumCase("fpr95"), EnumCase("fpr95OODPositive"),
        EnumCase("auprIn"), EnumCase("auprOut"), EnumCase("detectionError"),
    ]),
    EnumType("Paper", [EnumCase("kirichenko2020"), EnumCase("lde2023")]),
    EnumType("Expectation", [
        EnumCase("below", [.positional("bound", .double)]),
        EnumCase("above", [.positional("bound", .double)]),
        EnumCase("lessThan", [.positional("other", .valueKey)]),
        EnumCase("greaterThan", [.positional("other", .valueKey)]),
        EnumCase("qualitative"),
    ]),
]

// MARK: - Keys

extension Vocabulary {
    /// The stable key of a validated `Data` value, used in tables, files and inline values:
    /// `fashion-mnist-test`, `digits`, `fashion-mnist-classes-0-1-2-test`, `tabular-wine-1-test`,
    /// and `features-<classifier id>-<key of the data>` (+ `-pca<N>`, + `-raw` when not normalized).
    public func dataKey(_ value: Value) -> String {
        guard case .enumCase(let name, _) = value.kind else {
            preconditionFailure("dataKey: not a Data value: \(value)")
        }
        let split = value["split"]?.caseName ?? ""
        switch name {
        case "fashionMNIST": return "fashion-mnist-\(split)"
        case "gaussianNoise": return "gaussian-noise"
        case "uniformNoise": return "uniform-noise"
        case "invertedFashionMNIST": return "fashion-mnist-inverted"
        case "flippedFashionMNIST": return "fashion-mnist-flipped"
        case "fashionMNISTClasses":
            let classes = (value["classes"]?.array ?? []).compactMap(\.int).map(String.init)
            return (["fashion-mnist-classes"] + classes + [split]).joined(separator: "-")
        case "tabular":
            return "tabular-\(value["name"]?.string ?? "")-\(value["class"]?.int ?? 0)-\(split)"
        case "features":
            var key = "features-\(value["classifier"]?.string ?? "")-\(value["of"].map(dataKey) ?? "")"
            if let pca = value["pca"]?.int { key += "-pca\(pca)" }
            if value["normalize"]?.bool == false { key += "-raw" }
            return key
        default: return name
        }
    }

    /// Whether `key` has the shape of a data key on its own (without a `features-` prefix, whose
    /// ids cannot be told apart from the data key after them).
    public func isWellFormedDataKey(_ key: String) -> Bool {
        let fixed: Set = ["digits", "textures", "photos", "gaussian-noise", "uniform-noise", "constant",
                          "fashion-mnist-inverted", "fashion-mnist-flipped", "fashion-mnist-train", "fashion-mnist-test"]
        if fixed.contains(key) { return true }
        var parts = key.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard let split = parts.popLast(), split == "train" || split == "test" else { return false }
        if parts.starts(with: ["fashion", "mnist", "classes"]) {
            let classes = parts.dropFirst(3)
            return !classes.isEmpty && classes.allSatisfy { Int($0) != nil }
        }
        if parts.first == "tabular", parts.count >= 3, Int(parts.last!) != nil {
            let name = parts[1..<(parts.count - 1)].joined(separator: "-")
            if case .choice(let names)? = enums["Data"]?.enumCase(named: "tabular")?.parameters.first?.type {
                return names.contains(name)
            }
        }
        return false
    }

    /// The key of a validated `Detector` value: its `name:` if given, else the flow id for
    /// `.likelihood`, else the case name (`msp`, `odin`, ...).
    public func detectorKey(_ value: Value) -> String {
        guard case .enumCase(let name, _) = value.kind else {
            preconditionFailure("detectorKey: not a Detector value: \(value)")
        }
        if let given = value["name"]?.string { return given }
        if name == "likelihood", let flow = value["flow"]?.string { return flow }
        return name
    }

    /// Metric names of inline values and claims: the `Metric` cases, then `bpd`, `accuracy`,
    /// `params` and `seconds`.
    public var inlineMetrics: [String] {
        (enums["Metric"]?.cases.map(\.name) ?? []) + ["bpd", "accuracy", "params", "seconds"]
    }
}
