/// Decodes the checked `Book` (schema-validated directives) into the runner's typed specs.
/// Validation already guaranteed every shape here, so a mismatch is a programmer error.
extension Book {
    /// The chapters as the runner sees them.
    public func chapterSpecs() -> [ChapterSpec] {
        chapters.map { chapter in
            ChapterSpec(file: chapter.file, pieces: chapter.segments.map { segment in
                switch segment {
                case .markdown(let text, let line): .markdown(text, line: line)
                case .directive(let d):
                    .directive(LocatedDirective(spec: SpecDecoder.spec(of: d), location: d.location, source: d.source, body: d.body))
                }
            })
        }
    }
}

enum SpecDecoder {
    static func spec(of d: Directive) -> DirectiveSpec {
        switch d.name {
        case "Title":
            return .title(title: d.string("title"), subtitle: d.optionalString("subtitle"), authors: d.optionalString("authors"))
        case "Train":
            return .train(TrainSpec(id: d.string("id"), model: model(d.value("model")), data: data(d.value("data")),
                                    epochs: d.int("epochs"), batchSize: d.int("batchSize"), lr: d.double("lr"),
                                    optimizer: OptimizerSpec(rawValue: d.value("optimizer").caseName!)!,
                                    weightDecay: d.double("weightDecay"), clip: d.optionalDouble("clip"),
                                    seeds: d.ints("seeds"), subset: d.optionalInt("subset"),
                                    negative: d.value("negative").isNull ? nil : data(d.value("negative")),
                                    negativeWeight: d.double("negativeWeight")))
        case "Evaluate":
            return .evaluate(EvaluateSpec(id: d.string("id"), inDistribution: data(d.value("inDistribution")),
                                          ood: d.values("ood").map(data), detectors: d.values("detectors").map(detector),
                                          seeds: d.ints("seeds"), subset: d.optionalInt("subset")))
        case "Histogram":
            let source: HistogramSpec.Source = if let m = d.optionalString("model") { .model(m) } else {
                .evaluation(d.string("evaluation"), detector: d.string("detector"))
            }
            return .histogram(HistogramSpec(id: d.string("id"), title: d.optionalString("title"), source: source,
                                            datasets: d.values("datasets").map(data),
                                            score: ScoreKind(rawValue: d.value("score").caseName!)!, bins: d.int("bins")))
        case "ROC":
            return .roc(ROCSpec(id: d.string("id"), title: d.optionalString("title"), evaluation: d.string("evaluation"),
                                detector: d.string("detector"), ood: optionalData(d.value("ood"))))
        case "Curve":
            let v = d.value("vary")
            let values = (v["values"]?.array ?? []).compactMap(\.int)
            return .curve(CurveSpec(id: d.string("id"), title: d.optionalString("title"), evaluation: d.string("evaluation"),
                                    detector: d.string("detector"), vary: v.caseName == "pca" ? .pca(values) : .epochs(values),
                                    metric: MetricKind(rawValue: d.value("metric").caseName!)!, ood: optionalData(d.value("ood"))))
        case "CouplingGrid":
            return .couplingGrid(ImageFlowFigureSpec(id: d.string("id"), title: d.optionalString("title"), model: d.string("model"),
                                                     images: d.values("images").map(data), indexOrCount: d.int("index")))
        case "LatentGrid":
            return .latentGrid(ImageFlowFigureSpec(id: d.string("id"), title: d.optionalString("title"), model: d.string("model"),
                                                   images: d.values("images").map(data), indexOrCount: d.int("count")))
        case "Samples":
            return .samples(SamplesSpec(id: d.string("id"), title: d.optionalString("title"), model: d.string("model"),
                                        count: d.int("count"), temperature: d.double("temperature")))
        case "Scatter":
            return .scatter(ScatterSpec(id: d.string("id"), title: d.optionalString("title"), classifier: d.string("classifier"),
                                        datasets: d.values("datasets").map(data), flow: d.optionalString("flow"),
                                        perSet: d.int("perSet"), normalize: d.bool("normalize"), perplexity: d.double("perplexity")))
        case "AUROCTable":
            let metrics = d.values("metrics").map { MetricKind(rawValue: $0.caseName!)! }
            // "detector/ood" means the first metric of the table; "metric:detector/ood" names it.
            let published = d.value("published").entries.map { entries in
                Dictionary(entries.map { ($0.key.contains(":") ? $0.key : "\(metrics[0].rawValue):\($0.key)", $0.value.double!) },
                           uniquingKeysWith: { a, _ in a })
            }
            return .table(TableSpec(id: d.string("id"), evaluation: d.string("evaluation"),
                                    metrics: metrics,
                                    detectors: d.value("detectors").isNull ? nil : d.strings("detectors"),
                                    ood: optionalData(d.value("ood")), published: published))
        case "Scores":
            return .scores(ScoresSpec(id: d.string("id"), model: d.string("model"), datasets: d.values("datasets").map(data),
                                      subset: d.optionalInt("subset")))
        case "Features":
            return .features(FeaturesSpec(id: d.string("id"), classifier: d.string("classifier"),
                                          datasets: d.values("datasets").map(data), normalize: d.bool("normalize"),
                                          subset: d.optionalInt("subset")))
        case "ClaimsLedger":
            return .claimsLedger(id: d.string("id"))
        case "Claim":
            let e = d.value("expect")
            let arg = e.arguments.first?.value
            let expect: ExpectationSpec = switch e.caseName! {
            case "below": .below(arg!.double!)
            case "above": .above(arg!.double!)
            case "lessThan": .lessThan(arg!.string!)
            case "greaterThan": .greaterThan(arg!.string!)
            default: .qualitative
            }
            return .claim(ClaimSpec(id: d.string("id"), paper: PaperSpec(rawValue: d.value("paper").caseName!)!,
                                    text: d.string("text"), paperEvidence: d.optionalString("paperEvidence"),
                                    evidence: d.string("evidence"), value: d.optionalString("value"), expect: expect))
        default:
            preconditionFailure("SpecDecoder: no spec for @\(d.name)")
        }
    }

    static func optionalData(_ v: Value) -> [DataRef]? {
        v.isNull ? nil : (v.array ?? []).map(data)
    }

    static func split(_ v: Value) -> Split {
        v["split"]?.caseName == "train" ? .train : .test
    }

    static func data(_ v: Value) -> DataRef {
        switch v.caseName! {
        case "fashionMNIST": return .fashionMNIST(split(v))
        case "digits": return .digits
        case "textures": return .textures
        case "photos": return .photos
        case "gaussianNoise": return .gaussianNoise
        case "uniformNoise": return .uniformNoise
        case "constant": return .constant
        case "invertedFashionMNIST": return .invertedFashionMNIST
        case "flippedFashionMNIST": return .flippedFashionMNIST
        case "fashionMNISTClasses": return .fashionMNISTClasses((v["classes"]?.array ?? []).compactMap(\.int), split(v))
        case "tabular": return .tabular(name: v["name"]!.string!, classLabel: v["class"]!.int!, split: split(v))
        case "features":
            return .features(classifier: v["classifier"]!.string!, of: data(v["of"]!), normalize: v["normalize"]!.bool!,
                             pca: v["pca"]!.int)
        default: preconditionFailure("SpecDecoder: unknown Data case \(v)")
        }
    }

    static func model(_ v: Value) -> ModelSpec {
        switch v.caseName! {
        case "realNVP":
            let st = v["stNet"]!
            let stNet: STNetSpec = switch st.caseName! {
            case "resnetNoBatchNorm": .resnetNoBatchNorm
            case "highway": .highway
            case "bottleneck": .bottleneck(st["units"]!.int!)
            default: .resnet
            }
            return .realNVP(scales: v["scales"]!.int!, channels: v["channels"]!.int!, blocks: v["blocks"]!.int!,
                            mask: MaskSchemeSpec(rawValue: v["mask"]!.caseName!)!, stNet: stNet)
        case "glow": return .glow(levels: v["levels"]!.int!, depth: v["depth"]!.int!, channels: v["channels"]!.int!)
        case "glowLatent": return .glowLatent(blocks: v["blocks"]!.int!, hidden: v["hidden"]!.int!)
        case "realNVPVector": return .realNVPVector(couplings: v["couplings"]!.int!, hidden: v["hidden"]!.int!)
        case "residualFlow": return .residualFlow(blocks: v["blocks"]!.int!, hidden: v["hidden"]!.int!)
        case "classifier":
            let b = v["backbone"]!
            return .classifier(b.caseName == "resnet" ? .resnet(width: b["width"]!.int!) : .cnn)
        default: preconditionFailure("SpecDecoder: unknown Model case \(v)")
        }
    }

    static func detector(_ v: Value) -> DetectorSpec {
        let kind: DetectorKind
        switch v.caseName! {
        case "likelihood": kind = .likelihood(flow: v["flow"]!.string!)
        case "typicality": kind = .typicality(flow: v["flow"]!.string!)
        case "msp": kind = .msp(classifier: v["classifier"]!.string!)
        case "odin": kind = .odin(classifier: v["classifier"]!.string!, temperature: v["temperature"]!.double!,
                                  epsilon: v["epsilon"]!.double!)
        case "energy": kind = .energy(classifier: v["classifier"]!.string!)
        case "react": kind = .react(classifier: v["classifier"]!.string!, percentile: v["percentile"]!.double!)
        case "mahalanobis": kind = .mahalanobis(classifier: v["classifier"]!.string!)
        case "knn": kind = .knn(classifier: v["classifier"]!.string!, k: v["k"]!.int!)
        case "lde": kind = .lde(classifier: v["classifier"]!.string!, flow: model(v["flow"]!), epochs: v["epochs"]!.int!,
                                normalize: v["normalize"]!.bool!, pca: v["pca"]!.int)
        default: preconditionFailure("SpecDecoder: unknown Detector case \(v)")
        }
        let name = v["name"]?.string
        return DetectorSpec(kind: kind, key: name ?? kind.defaultKey, displayName: kind.displayName)
    }
}
