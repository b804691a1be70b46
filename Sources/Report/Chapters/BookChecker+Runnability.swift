/// Checks that need the meaning of the vocabulary, not only its types: combinations the runner
/// would reject, possibly after hours of training (an image flow on vectors, a likelihood
/// detector on a flow of classifier features, a curve over a detector with nothing to vary...).
/// They run after the reference checks and only look at references that resolved, so a broken
/// reference is reported once.
extension BookChecker {
    /// What a `Data` value gives a model: images (all 28×28 grey sets), rows of a tabular set, or
    /// features of a classifier (optionally PCA-projected).
    enum DataShape: Equatable {
        case images
        case rows(String)
        case features(classifier: String, pca: Int?)

        /// "images", "wine rows", "features of 'cnn'", "features of 'cnn' (PCA 16)".
        var phrase: String {
            switch self {
            case .images: "images"
            case .rows(let name): "\(name) rows"
            case .features(let classifier, let pca): "features of '\(classifier)'" + (pca.map { " (PCA \($0))" } ?? "")
            }
        }
    }

    func shape(of data: Value) -> DataShape {
        switch data.caseName {
        case "tabular": .rows(data["name"]?.string ?? "")
        case "features": .features(classifier: data["classifier"]?.string ?? "", pca: data["pca"]?.int)
        default: .images
        }
    }

    /// The `@Train` directive `id` names (nil if it is something else or missing).
    func train(_ id: String?) -> Directive? {
        guard let id, case .directive(let d)? = ids[id], d.name == "Train" else { return nil }
        return d
    }

    /// The detector of evaluation `evaluation` with key `key`.
    func detector(_ key: String, of evaluation: Directive) -> Value? {
        evaluation.values("detectors").first { vocabulary.detectorKey($0) == key }
    }

    static let vectorFlows = ["glowLatent", "realNVPVector", "residualFlow"]
    static let imageFlows = ["realNVP", "glow"]

    mutating func checkRunnability(of directive: Directive) {
        checkFeatureSources(in: directive.arguments.map(\.value))
        switch directive.name {
        case "Train": checkTraining(directive)
        case "Evaluate": checkEvaluation(directive)
        case "Histogram": checkHistogram(directive)
        case "Curve": checkCurve(directive)
        case "CouplingGrid", "LatentGrid": requireImages(directive.values("images"), for: "'images' of @\(directive.name)")
        case "Scatter": checkScatter(directive)
        case "Scores": checkScores(directive)
        case "Features": requireImages(directive.values("datasets"), for: "'datasets' of @Features")
        case "Claim": checkClaim(directive)
        default: break
        }
    }

    // MARK: - Data

    /// `.features(classifier, of: data)`: the classifier sees images, so `data` must be images.
    private mutating func checkFeatureSources(in values: [Value]) {
        for value in values {
            if value.caseName == "features", let of = value["of"], shape(of: of) != .images {
                diagnostics.append(Diagnostic(
                    "'of' of '.features' must be images (the classifier sees 28×28 images), found \(shape(of: of).phrase)",
                    at: of.location))
            }
            checkFeatureSources(in: value.arguments.map(\.value) + (value.array ?? []))
        }
    }

    private mutating func requireImages(_ sets: [Value], for what: String) {
        for set in sets where shape(of: set) != .images {
            diagnostics.append(Diagnostic("\(what) must be images, found \(shape(of: set).phrase) ('\(vocabulary.dataKey(set))')",
                                          at: set.location))
        }
    }

    // MARK: - @Train

    private mutating func checkTraining(_ train: Directive) {
        let model = train.value("model")
        let data = train.value("data")
        let name = model.caseName ?? ""
        let given = shape(of: data)
        if name == "classifier" {
            if data.caseName != "fashionMNIST" && data.caseName != "fashionMNISTClasses" {
                diagnostics.append(Diagnostic(
                    "a classifier trains on .fashionMNIST or .fashionMNISTClasses([...]), found '.\(data.caseName ?? "")'",
                    at: data.location))
            }
            let negative = train.value("negative")
            if !negative.isNull {
                diagnostics.append(Diagnostic("negative training is for flows; a classifier takes no 'negative'",
                                              at: negative.location))
            }
            return
        }
        if Self.imageFlows.contains(name), given != .images {
            diagnostics.append(Diagnostic(
                "'.\(name)' is an image flow, but 'data' gives \(given.phrase); use .realNVPVector, .glowLatent or .residualFlow",
                at: data.location))
        } else if Self.vectorFlows.contains(name), given == .images {
            diagnostics.append(Diagnostic(
                "'.\(name)' is a vector flow, but 'data' gives images; use .realNVP or .glow, or train on .features(...)",
                at: data.location))
        }
        let negative = train.value("negative")
        if !negative.isNull, shape(of: negative) != given {
            diagnostics.append(Diagnostic("'negative' gives \(shape(of: negative).phrase), but 'data' gives \(given.phrase)",
                                          at: negative.location))
        }
    }

    // MARK: - Scoring data with a model

    /// Reports each of `sets` that the model trained by `trainID` cannot take, as
    /// "`who` models X; it cannot score Y ('key')".
    private mutating func requireSets(_ sets: [Value], scorableBy trainID: String?, who: String) {
        guard let train = train(trainID) else { return }
        let expected: DataShape
        if train["model"]?.caseName == "classifier" {
            expected = .images
        } else {
            expected = shape(of: train.value("data"))
        }
        for set in sets where shape(of: set) != expected {
            diagnostics.append(Diagnostic(
                "\(who) models \(expected.phrase); it cannot score \(shape(of: set).phrase) ('\(vocabulary.dataKey(set))')",
                at: set.location))
        }
    }

    /// A flow that scores data directly (likelihood, typicality, histograms and score tables of a
    /// flow) must not be a flow on classifier features: those are scored through `.lde`.
    private mutating func requireDirectFlow(_ flowID: String?, at location: SourceLocation, what: String) -> Bool {
        guard let train = train(flowID), let flowID else { return false }
        if case .features = shape(of: train.value("data")) {
            diagnostics.append(Diagnostic(
                "\(what) scores data with '\(flowID)' directly, but '\(flowID)' is trained on classifier features; use .lde(...) to score features",
                at: location))
            return false
        }
        return true
    }

    private mutating func checkEvaluation(_ evaluation: Directive) {
        let sets = [evaluation.value("inDistribution")] + evaluation.values("ood")
        for detector in evaluation.values("detectors") {
            let key = vocabulary.detectorKey(detector)
            switch detector.caseName {
            case "likelihood", "typicality":
                let flow = detector["flow"]?.string
                if requireDirectFlow(flow, at: detector.location, what: "'.\(detector.caseName!)'") {
                    requireSets(sets, scorableBy: flow, who: "detector '\(key)'")
                }
            default:
                requireSets(sets, scorableBy: detector["classifier"]?.string, who: "detector '\(key)'")
                if detector.caseName == "lde", let flow = detector["flow"], !Self.vectorFlows.contains(flow.caseName ?? "") {
                    diagnostics.append(Diagnostic(
                        "'flow' of '.lde' must be a vector flow (.glowLatent, .realNVPVector or .residualFlow), found '.\(flow.caseName ?? "")'",
                        at: flow.location))
                }
            }
        }
    }

    // MARK: - Figures and tables

    private mutating func checkHistogram(_ histogram: Directive) {
        if let flow = histogram.optionalString("model") {
            if requireDirectFlow(flow, at: histogram.value("model").location, what: "@Histogram") {
                requireSets(histogram.values("datasets"), scorableBy: flow, who: "'\(flow)'")
            }
            return
        }
        guard let id = histogram.optionalString("evaluation"), case .directive(let evaluation)? = ids[id],
              evaluation.name == "Evaluate", let key = histogram.optionalString("detector"),
              let detector = detector(key, of: evaluation) else { return }
        let score = histogram.value("score")
        let at = score.isDefault ? histogram.value("detector").location : score.location
        let kind = detector.caseName ?? ""
        switch score.caseName {
        case "bitsPerDim" where kind != "likelihood" && kind != "lde":
            diagnostics.append(Diagnostic(
                "detector '\(key)' ('.\(kind)') has no bits per dimension (only .likelihood and .lde have); use score: .score",
                at: at))
        case "logLikelihood" where kind != "likelihood":
            diagnostics.append(Diagnostic(
                "detector '\(key)' ('.\(kind)') has no log-likelihood (only .likelihood has); use score: .bitsPerDim or .score",
                at: at))
        default: break
        }
    }

    private mutating func checkCurve(_ curve: Directive) {
        guard let id = curve.optionalString("evaluation"), case .directive(let evaluation)? = ids[id],
              evaluation.name == "Evaluate", let key = curve.optionalString("detector"),
              let detector = detector(key, of: evaluation) else { return }
        let vary = curve.value("vary")
        switch detector.caseName {
        case "lde":
            break
        case "likelihood", "typicality":
            if vary.caseName == "pca" {
                diagnostics.append(Diagnostic(
                    "'.pca' varies the PCA dimension of an .lde detector; detector '\(key)' is '.\(detector.caseName!)' (vary its flow's .epochs([...]))",
                    at: vary.location))
            }
        default:
            diagnostics.append(Diagnostic(
                "@Curve retrains a detector's trained part: .lde (epochs or PCA) or .likelihood/.typicality (epochs); detector '\(key)' is '.\(detector.caseName ?? "")'",
                at: curve.value("detector").location))
        }
    }

    private mutating func checkScatter(_ scatter: Directive) {
        requireImages(scatter.values("datasets"), for: "'datasets' of @Scatter")
        let classifier = scatter.string("classifier")
        guard let flowID = scatter.optionalString("flow"), let flow = train(flowID) else { return }
        let data = flow.value("data")
        if shape(of: data) != .features(classifier: classifier, pca: nil) {
            diagnostics.append(Diagnostic(
                "'flow' of @Scatter draws samples beside the features of '\(classifier)', so it must be trained on .features(\"\(classifier)\", ...) without pca; '\(flowID)' models \(shape(of: data).phrase)",
                at: scatter.value("flow").location))
        }
    }

    private mutating func checkScores(_ scores: Directive) {
        let flow = scores.string("model")
        if requireDirectFlow(flow, at: scores.value("model").location, what: "@Scores") {
            requireSets(scores.values("datasets"), scorableBy: flow, who: "'\(flow)'")
        }
    }

    /// A claim tests a `value:` against its expectation, or is `.qualitative` and has none.
    private mutating func checkClaim(_ claim: Directive) {
        let expect = claim.value("expect")
        let value = claim.value("value")
        if expect.caseName == "qualitative" {
            if !value.isNull {
                diagnostics.append(Diagnostic("a '.qualitative' claim has no 'value' to test; remove it or state an expectation",
                                              at: value.location))
            }
        } else if value.isNull {
            diagnostics.append(Diagnostic("@Claim with 'expect: .\(expect.caseName ?? "")' needs a 'value:' key to test",
                                          at: expect.location))
        }
    }
}
