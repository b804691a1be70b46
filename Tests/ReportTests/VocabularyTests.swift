import Testing
@testable import Report

@Suite struct VocabularyTests {
    @Test func defaultsAreFilledAndTyped() throws {
        let checked = try #require(book("""
        @Train(id: "neg", model: .realNVP(stNet: .bottleneck(32)), data: .fashionMNIST, epochs: 3,
               lr: 1, negative: .digits, seeds: [0, 1, 2])
        """))
        let train = try #require(checked.directive(withID: "neg"))
        #expect(train.name == "Train" && train.id == "neg")
        #expect(train.int("epochs") == 3 && train.int("batchSize") == 64)
        #expect(train.double("lr") == 1)   // an integer literal given for a Double
        #expect(train.value("lr").kind == .double(1))
        #expect(train.value("batchSize").isDefault && !train.value("epochs").isDefault)
        #expect(train.optionalDouble("clip") == nil && train.optionalInt("subset") == nil)
        #expect(train.ints("seeds") == [0, 1, 2])
        #expect(train.value("optimizer").caseName == "adam")
        let model = train.value("model")
        #expect(model.description == ".realNVP(blocks: 2, channels: 64, mask: .checkerboard, scales: 2, stNet: .bottleneck(units: 32))")
        #expect(model["stNet"]?["units"]?.int == 32)
        // The bare .fashionMNIST means the training split inside @Train, the test split elsewhere.
        #expect(train.value("data").description == ".fashionMNIST(split: .train)")
        #expect(checked.vocabulary.dataKey(train.value("data")) == "fashion-mnist-train")
        let evaluation = try #require(checked.directive(withID: "eval"))
        #expect(checked.vocabulary.dataKey(evaluation.value("inDistribution")) == "fashion-mnist-test")
        #expect(train.references.map(\.id) == [])
        #expect(checked.directive(withID: "latent")?.references.map(\.id) == ["clf"])
    }

    @Test func dataKeys() throws {
        let checked = try #require(book("""
        @Evaluate(id: "keys", inDistribution: .fashionMNISTClasses([0, 1, 2]),
                  ood: [.digits, .textures, .photos, .gaussianNoise, .uniformNoise, .constant, .invertedFashionMNIST,
                        .flippedFashionMNIST, .fashionMNIST(.train)],
                  detectors: [.msp("clf")])

        @Train(id: "wine", model: .realNVPVector(), data: .tabular("wine", class: 0), epochs: 1)

        @Evaluate(id: "rows", inDistribution: .tabular("wine", class: 0), ood: [.tabular("wine", class: 1)],
                  detectors: [.likelihood("wine")])

        @Train(id: "pca", model: .glowLatent(), data: .features("clf", of: .fashionMNIST(.test), normalize: false, pca: 16),
               epochs: 1)
        """))
        let evaluation = try #require(checked.directive(withID: "keys"))
        let vocabulary = checked.vocabulary
        #expect(vocabulary.dataKey(evaluation.value("inDistribution")) == "fashion-mnist-classes-0-1-2-test")
        #expect(evaluation.values("ood").map(vocabulary.dataKey) == [
            "digits", "textures", "photos", "gaussian-noise", "uniform-noise", "constant", "fashion-mnist-inverted",
            "fashion-mnist-flipped", "fashion-mnist-train",
        ])
        #expect(checked.directive(withID: "rows").map { vocabulary.dataKey($0.value("inDistribution")) } == "tabular-wine-0-test")
        #expect(checked.directive(withID: "rows").map { $0.values("ood").map(vocabulary.dataKey) } == ["tabular-wine-1-test"])
        #expect(checked.directive(withID: "pca").map { vocabulary.dataKey($0.value("data")) }
                == "features-clf-fashion-mnist-test-pca16-raw")
        for key in ["digits", "fashion-mnist-classes-0-1-2-test", "tabular-wine-1-test", "fashion-mnist-train"] {
            #expect(vocabulary.isWellFormedDataKey(key), "\(key)")
        }
        for key in ["digit", "fashion-mnist-classes-test", "tabular-beer-1-test", "tabular-wine-x-test", "fashion-mnist"] {
            #expect(!vocabulary.isWellFormedDataKey(key), "\(key)")
        }
    }

    @Test func detectorKeys() throws {
        let checked = try #require(book("""
        @Evaluate(id: "det", inDistribution: .fashionMNIST, ood: [.digits],
                  detectors: [.likelihood("flow"), .typicality("flow"), .msp("clf"), .odin("clf", epsilon: 0),
                              .lde("clf", flow: .realNVPVector(), name: "lde-rnvp"), .lde("clf")])
        """))
        let evaluation = try #require(checked.directive(withID: "det"))
        #expect(evaluation.values("detectors").map(checked.vocabulary.detectorKey)
                == ["flow", "typicality", "msp", "odin", "lde-rnvp", "lde"])
        let lde = evaluation.values("detectors")[5]
        #expect(lde.description == ".lde(classifier: \"clf\", epochs: 1, flow: .glowLatent(blocks: 10, hidden: 2048), name: nil, normalize: true, pca: nil)")
    }

    @Test func everyDefaultValidatesAndEveryEnumIsDeclared() {
        // Validating a directive with each enum case bare (where all parameters have defaults)
        // exercises every default; a broken default would stop with a precondition failure.
        let vocabulary = Vocabulary.standard
        func check(_ type: ValueType) {
            switch type {
            case .enumeration(let name): #expect(vocabulary.enums[name] != nil, "unknown enum \(name)")
            case .array(let t), .dictionary(let t), .optional(let t): check(t)
            default: break
            }
        }
        for schema in vocabulary.directives {
            for parameter in schema.parameters { check(parameter.type) }
            for group in schema.exactlyOneOf {
                for label in group {
                    #expect(schema.parameter(labelled: label)?.isOptional == true, "\(schema.name).\(label)")
                }
            }
        }
        for enumType in vocabulary.enums.values {
            for enumCase in enumType.cases {
                for parameter in enumCase.parameters { check(parameter.type) }
            }
        }
        let models = vocabulary.enums["Model"]!.cases.map(\.name)
        #expect(Set(models) == Set(vocabulary.modelRoles.keys))
        // Each model on data it can train on: images, rows, FashionMNIST for the classifier.
        let train = models.map { name in
            let data = name == "classifier" ? ".fashionMNIST" : vocabulary.modelRoles[name]!.contains(.imageFlow) ? ".digits"
                : ".tabular(\"wine\", class: 0)"
            return "@Train(id: \"m-\(name.lowercased())\", model: .\(name), data: \(data), epochs: 1)"
        }.joined(separator: "\n\n")
        #expect(book(train) != nil)
    }

    @Test func everyDirectiveOfTheVocabularyChecks() throws {
        let checked = try #require(book("""
        @Histogram(id: "fig:h1", model: "flow", datasets: [.digits]) {
        Caption.
        }

        @Histogram(id: "fig:h2", evaluation: "eval", detector: "msp", datasets: [.fashionMNIST, .digits],
                   score: .score, bins: 20, title: "Scores")

        @ROC(id: "fig:roc", evaluation: "eval", detector: "flow", ood: [.digits])

        @Curve(id: "fig:curve", evaluation: "eval", detector: "flow", vary: .epochs([0, 2]), metric: .fpr95)

        @CouplingGrid(id: "fig:coupling", model: "flow", images: [.digits, .fashionMNIST])

        @LatentGrid(id: "fig:latent", model: "flow", images: [.textures], count: 2)

        @Samples(id: "fig:samples", model: "flow", temperature: 0.7)

        @Scatter(id: "fig:scatter", classifier: "clf", datasets: [.digits], flow: "latent", perplexity: 20)

        @AUROCTable(id: "tab:auroc", evaluation: "eval", metrics: [.auroc, .auprIn], detectors: ["msp"],
                    published: ["msp/digits": 0.5]) {
        Caption.
        }

        @Scores(id: "tab:scores", model: "flow", datasets: [.fashionMNIST, .digits], subset: 100) {
        Scores.
        }

        @Features(id: "tab:features", classifier: "clf", datasets: [.digits], normalize: false)

        @ClaimsLedger(id: "tab:claims")

        @Claim(id: "claim:msp", paper: .lde2023, text: "MSP beats the likelihood", evidence: "tab:auroc",
               value: "auroc:eval/msp/digits", expect: .greaterThan("auroc:eval/flow/digits")) {
        Our comment cites @tab:auroc and [@lde2023].
        }
        """))
        #expect(checked.directives.count == 18)
        #expect(checked.title.string("title") == "Test book")
        #expect(checked.title.body == "An abstract.")
        let claim = try #require(checked.directive(withID: "claim:msp"))
        #expect(claim.value("expect").description == ".greaterThan(other: \"auroc:eval/flow/digits\")")
        #expect(claim.references.map(\.id) == ["tab:auroc"])
    }

    @Test func inlineValueKeys() {
        let at = Report.SourceLocation(file: "f", line: 1, column: 1)
        func parse(_ text: String) -> InlineValueKey? { try? InlineValueKey.parse(text, at: at).get() }
        #expect(parse("auroc:e/msp/digits") == .metric("auroc", evaluation: "e", detector: "msp", dataset: "digits"))
        #expect(parse("bpd:e/flow/digits") == .evaluationBitsPerDim(evaluation: "e", detector: "flow", dataset: "digits"))
        #expect(parse("bpd:flow/digits") == .flowBitsPerDim(flow: "flow", dataset: "digits"))
        #expect(parse("accuracy:clf") == .accuracy(classifier: "clf"))
        #expect(parse("params:flow") == .params(train: "flow"))
        #expect(parse("seconds:eval") == .seconds(node: "eval"))
        #expect(parse("auroc:msp/digits") == .detectorMetric("auroc", detector: "msp", dataset: "digits"))
        #expect(parse("auroc:e") == nil && parse("accuracy:a/b") == nil && parse("auroc:e//d") == nil)
        if case .failure(let d) = InlineValueKey.parse("bpd:a/b/c/d", at: at) {
            #expect(d.message == "value key 'bpd:a/b/c/d': 'bpd' takes EVAL/DETECTOR/DATAKEY or FLOWID/DATAKEY")
        } else {
            Issue.record("accepted bpd:a/b/c/d")
        }
    }

    @Test func inlineValuesThatCheck() {
        #expect(book("""
        AUROC {{auroc:eval/msp/digits}} (also {{auroc:msp/textures}}), bpd {{ bpd:eval/flow/fashion-mnist-test }}
        and {{bpd:flow/digits}}, accuracy {{accuracy:clf}}, {{params:latent}}, {{seconds:eval}}, {{seconds:latent}}.
        Mail me at someone@example.org.
        """) != nil)
    }

    @Test func editDistance() {
        #expect(Report.editDistance("epoch", "epochs") == 1)
        #expect(Report.editDistance("kitten", "sitting") == 3)
        #expect(Report.editDistance("", "abc") == 3)
        #expect(closestMatch(to: "epoch", in: ["batchSize", "epochs"]) == "epochs")
        #expect(closestMatch(to: "zzz", in: ["epochs"]) == nil)
        #expect(closestMatch(to: "fashionmnist", in: ["fashionMNIST"]) == "fashionMNIST")
    }
}
