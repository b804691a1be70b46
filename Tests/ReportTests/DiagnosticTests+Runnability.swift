import Testing
@testable import Report

/// Chapters the runner would reject (possibly after hours of training) are rejected by
/// `--check`: exact diagnostics, carets placed by counting the line.
extension DiagnosticTests {
    @Test func imageFlowsNeedImages() {
        let text = """
        @Train(id: "x", model: .realNVP(), data: .tabular("wine", class: 0), epochs: 1)

        @Train(id: "y", model: .glow(), data: .features("clf", of: .fashionMNIST), epochs: 1)
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:42: error: '.realNVP' is an image flow, but 'data' gives wine rows; use .realNVPVector, .glowLatent or .residualFlow
            @Train(id: "x", model: .realNVP(), data: .tabular("wine", class: 0), epochs: 1)
                                                     ^
            """,
            """
            chapters/01-test.md:3:39: error: '.glow' is an image flow, but 'data' gives features of 'clf'; use .realNVPVector, .glowLatent or .residualFlow
            @Train(id: "y", model: .glow(), data: .features("clf", of: .fashionMNIST), epochs: 1)
                                                  ^
            """,
        ])
    }

    @Test func vectorFlowsNeedVectors() {
        #expect(diagnostic("@Train(id: \"x\", model: .glowLatent(), data: .digits, epochs: 1)") == """
        chapters/01-test.md:1:45: error: '.glowLatent' is a vector flow, but 'data' gives images; use .realNVP or .glow, or train on .features(...)
        @Train(id: "x", model: .glowLatent(), data: .digits, epochs: 1)
                                                    ^
        """)
    }

    @Test func negativeDataMustLookLikeTheTrainingData() {
        #expect(diagnostic("@Train(id: \"x\", model: .realNVP(), data: .fashionMNIST, epochs: 1, negative: .tabular(\"wine\", class: 1))") == """
        chapters/01-test.md:1:78: error: 'negative' gives wine rows, but 'data' gives images
        @Train(id: "x", model: .realNVP(), data: .fashionMNIST, epochs: 1, negative: .tabular("wine", class: 1))
                                                                                     ^
        """)
    }

    @Test func classifiersTrainOnFashionMNIST() {
        #expect(diagnostic("@Train(id: \"x\", model: .classifier(), data: .digits, epochs: 1)") == """
        chapters/01-test.md:1:45: error: a classifier trains on .fashionMNIST or .fashionMNISTClasses([...]), found '.digits'
        @Train(id: "x", model: .classifier(), data: .digits, epochs: 1)
                                                    ^
        """)
        #expect(diagnostic("@Train(id: \"x\", model: .classifier(), data: .fashionMNIST, epochs: 1, negative: .digits)") == """
        chapters/01-test.md:1:81: error: negative training is for flows; a classifier takes no 'negative'
        @Train(id: "x", model: .classifier(), data: .fashionMNIST, epochs: 1, negative: .digits)
                                                                                        ^
        """)
        // Class subsets are accepted here; the runner says clearly that it cannot train them yet.
        #expect(diagnostics("@Train(id: \"x\", model: .classifier(), data: .fashionMNISTClasses([0, 1]), epochs: 1)") == [])
    }

    @Test func featuresAreOfImages() {
        #expect(diagnostic("@Train(id: \"x\", model: .glowLatent(), data: .features(\"clf\", of: .tabular(\"wine\", class: 0)), epochs: 1)") == """
        chapters/01-test.md:1:66: error: 'of' of '.features' must be images (the classifier sees 28×28 images), found wine rows
        @Train(id: "x", model: .glowLatent(), data: .features("clf", of: .tabular("wine", class: 0)), epochs: 1)
                                                                         ^
        """)
    }

    @Test func likelihoodOfAFlowOnFeatures() {
        let text = """
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.likelihood("latent")])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:80: error: '.likelihood' scores data with 'latent' directly, but 'latent' is trained on classifier features; use .lde(...) to score features
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.likelihood("latent")])
                                                                                       ^
        """)
    }

    @Test func detectorsScoreOnlyDataLikeTheirModels() {
        let text = """
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.tabular("wine", class: 1)], detectors: [.likelihood("flow")])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:58: error: detector 'flow' models images; it cannot score wine rows ('tabular-wine-1-test')
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.tabular("wine", class: 1)], detectors: [.likelihood("flow")])
                                                                 ^
        """)
    }

    @Test func ldeFlowsAreVectorFlows() {
        #expect(diagnostic("@Evaluate(id: \"e2\", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.lde(\"clf\", flow: .glow())])") == """
        chapters/01-test.md:1:98: error: 'flow' of '.lde' must be a vector flow (.glowLatent, .realNVPVector or .residualFlow), found '.glow'
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.lde("clf", flow: .glow())])
                                                                                                         ^
        """)
    }

    @Test func curvesNeedSomethingToRetrain() {
        #expect(diagnostic("@Curve(id: \"fig:c\", evaluation: \"eval\", detector: \"msp\", vary: .epochs([1]))") == """
        chapters/01-test.md:1:51: error: @Curve retrains a detector's trained part: .lde (epochs or PCA) or .likelihood/.typicality (epochs); detector 'msp' is '.msp'
        @Curve(id: "fig:c", evaluation: "eval", detector: "msp", vary: .epochs([1]))
                                                          ^
        """)
        #expect(diagnostic("@Curve(id: \"fig:c\", evaluation: \"eval\", detector: \"flow\", vary: .pca([8]))") == """
        chapters/01-test.md:1:65: error: '.pca' varies the PCA dimension of an .lde detector; detector 'flow' is '.likelihood' (vary its flow's .epochs([...]))
        @Curve(id: "fig:c", evaluation: "eval", detector: "flow", vary: .pca([8]))
                                                                        ^
        """)
        // A flow's likelihood against its training epochs is a curve the runner can draw.
        #expect(diagnostics("@Curve(id: \"fig:c\", evaluation: \"eval\", detector: \"flow\", vary: .epochs([0, 1, 2]))") == [])
    }

    @Test func couplingAndLatentGridsNeedARealNVP() {
        let text = """
        @Train(id: "g", model: .glow(), data: .fashionMNIST, epochs: 1)

        @CouplingGrid(id: "fig:c", model: "g", images: [.digits])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:3:35: error: 'model' needs a @Train of an image RealNVP, but 'g' is a @Train of an image flow ('.glow')
        @CouplingGrid(id: "fig:c", model: "g", images: [.digits])
                                          ^
        """)
    }

    @Test func samplesNeedAnImageFlow() {
        #expect(diagnostic("@Samples(id: \"fig:s\", model: \"latent\")") == """
        chapters/01-test.md:1:30: error: 'model' needs a @Train of an image flow, but 'latent' is a @Train of a vector flow
        @Samples(id: "fig:s", model: "latent")
                                     ^
        """)
    }

    @Test func histogramScoresNeedADensity() {
        #expect(diagnostic("@Histogram(id: \"fig:h\", evaluation: \"eval\", detector: \"msp\", datasets: [.digits])") == """
        chapters/01-test.md:1:55: error: detector 'msp' ('.msp') has no bits per dimension (only .likelihood and .lde have); use score: .score
        @Histogram(id: "fig:h", evaluation: "eval", detector: "msp", datasets: [.digits])
                                                              ^
        """)
    }

    @Test func scatterFlowModelsTheClassifiersFeatures() {
        #expect(diagnostic("@Scatter(id: \"fig:t\", classifier: \"clf\", datasets: [.digits], flow: \"flow\")") == """
        chapters/01-test.md:1:69: error: 'flow' of @Scatter draws samples beside the features of 'clf', so it must be trained on .features("clf", ...) without pca; 'flow' models images
        @Scatter(id: "fig:t", classifier: "clf", datasets: [.digits], flow: "flow")
                                                                            ^
        """)
    }

    @Test func secondsOnlyOfTrainingAndEvaluation() {
        let text = """
        @Histogram(id: "fig:h", model: "flow", datasets: [.digits])

        It took {{seconds:fig:h}} s.
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:3:9: error: value key 'seconds:fig:h' needs a @Train or @Evaluate, but 'fig:h' is a @Histogram
        It took {{seconds:fig:h}} s.
                ^
        """)
    }

    @Test func bitsPerDimensionValuesNeedADensity() {
        #expect(diagnostics("MSP {{bpd:eval/msp/digits}}, the flow on photos {{bpd:flow/photos}}.") == [
            """
            chapters/01-test.md:1:5: error: detector 'msp' ('.msp') has no bits per dimension (only .likelihood and .lde have) (in value key 'bpd:eval/msp/digits')
            MSP {{bpd:eval/msp/digits}}, the flow on photos {{bpd:flow/photos}}.
                ^
            """,
            """
            chapters/01-test.md:1:49: error: nothing scores 'flow' on 'photos' (in value key 'bpd:flow/photos'): add it to an @Evaluate with .likelihood("flow") or to a @Histogram(model: "flow")
            MSP {{bpd:eval/msp/digits}}, the flow on photos {{bpd:flow/photos}}.
                                                            ^
            """,
        ])
    }

    @Test func valuesWithoutTheirEvaluation() {
        let text = """
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("clf")])

        ODIN {{auroc:odin/digits}} and {{auroc:odin/photos}}; {{auroc:msp/digits}}; {{auroc:msq/digits}}.
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:3:32: error: @Evaluate 'eval' has no OOD set 'photos' (in value key 'auroc:odin/photos')
            ODIN {{auroc:odin/digits}} and {{auroc:odin/photos}}; {{auroc:msp/digits}}; {{auroc:msq/digits}}.
                                           ^
            note: its OOD sets: digits, textures
            """,
            """
            chapters/01-test.md:3:55: error: detector 'msp' is in several evaluations (eval, e2); name one: 'auroc:eval/msp/digits' (in value key 'auroc:msp/digits')
            ODIN {{auroc:odin/digits}} and {{auroc:odin/photos}}; {{auroc:msp/digits}}; {{auroc:msq/digits}}.
                                                                  ^
            """,
            """
            chapters/01-test.md:3:77: error: no @Evaluate has a detector 'msq' (in value key 'auroc:msq/digits')
            ODIN {{auroc:odin/digits}} and {{auroc:odin/photos}}; {{auroc:msp/digits}}; {{auroc:msq/digits}}.
                                                                                        ^
            note: did you mean 'msp'?
            """,
        ])
    }

    @Test func publishedNumbersNameAMetricOfTheTable() {
        let text = """
        @AUROCTable(id: "tab:a", evaluation: "eval", metrics: [.auroc], published: ["fpr95:msp/digits": 50])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:77: error: published key "fpr95:msp/digits" names metric 'fpr95', which the table does not show
        @AUROCTable(id: "tab:a", evaluation: "eval", metrics: [.auroc], published: ["fpr95:msp/digits": 50])
                                                                                    ^
        note: its metrics: auroc
        """)
        #expect(diagnostics("""
        @AUROCTable(id: "tab:a", evaluation: "eval", metrics: [.auroc, .fpr95],
                    published: ["msp/digits": 97.3, "fpr95:msp/digits": 12.5])
        """) == [])
    }

    @Test func scoresAndFeaturesTablesAreChecked() {
        let text = """
        @Scores(id: "tab:s", model: "latent", datasets: [.digits])

        @Features(id: "tab:f", classifier: "clf", datasets: [.tabular("wine", class: 0)])
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:29: error: @Scores scores data with 'latent' directly, but 'latent' is trained on classifier features; use .lde(...) to score features
            @Scores(id: "tab:s", model: "latent", datasets: [.digits])
                                        ^
            """,
            """
            chapters/01-test.md:3:54: error: 'datasets' of @Features must be images, found wine rows ('tabular-wine-0-test')
            @Features(id: "tab:f", classifier: "clf", datasets: [.tabular("wine", class: 0)])
                                                                 ^
            """,
        ])
    }

    @Test func valueIsWrittenInline() {
        #expect(diagnostic("@Value(key: \"auroc:eval/msp/digits\")") == """
        chapters/01-test.md:1:1: error: unknown directive '@Value'
        @Value(key: "auroc:eval/msp/digits")
        ^
        note: a value is written inline in prose: {{metric:target}}, e.g. {{auroc:eval/msp/digits}}
        """)
    }

    @Test func mathInAClaimsText() {
        let text = """
        @AUROCTable(id: "tab:t", evaluation: "eval")

        @Claim(id: "claim:x", paper: .lde2023, text: "MSP is $\\\\alpah$.", evidence: "tab:t", value: "auroc:eval/msp/digits", expect: .above(0.5))
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:3:55: error: unknown command \\alpah
        @Claim(id: "claim:x", paper: .lde2023, text: "MSP is $\\\\alpah$.", evidence: "tab:t", value: "auroc:eval/msp/digits", expect: .above(0.5))
                                                              ^
        note: did you mean '\\alpha'?
        """)
    }

    @Test func mathErrorsAreChapterDiagnosticsInOrder() {
        let text = """
        Intro $\\alpah + x$ text.

        @Histogram(id: "fig:h", model: "flow", datasets: [.digits]) {
        Caption $\\sqrt[3]{x}$.
        }

        See {{auroc:eval/msq/digits}}.
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:8: error: unknown command \\alpah
            Intro $\\alpah + x$ text.
                   ^
            note: did you mean '\\alpha'?
            """,
            """
            chapters/01-test.md:4:15: error: \\sqrt[n]{…} (root index) is not supported
            Caption $\\sqrt[3]{x}$.
                          ^
            """,
            """
            chapters/01-test.md:7:5: error: @Evaluate 'eval' has no detector 'msq' (in value key 'auroc:eval/msq/digits')
            See {{auroc:eval/msq/digits}}.
                ^
            note: did you mean 'msp'?
            """,
        ])
    }
}
