import Testing
@testable import Report

/// Exact diagnostic text (file:line:col, source line, caret, notes) for each kind of chapter error.
/// Columns are 1-based Unicode scalars; each expected caret was placed by counting the line.
@Suite struct DiagnosticTests {
    @Test func unbalancedBracketPointsAtTheUnclosedOpener() {
        let text = """
        Some prose.

        @Train(id: "x", model: .classifier(), data: .digits, epochs: 1, seeds: [0, 1)

        More prose.
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:3:72: error: unclosed '[' opened here
        @Train(id: "x", model: .classifier(), data: .digits, epochs: 1, seeds: [0, 1)
                                                                               ^
        """)
    }

    @Test func missingClosingParenthesisOverSeveralLines() {
        // The directive stops at the blank line; the text after it is still checked.
        let text = """
        @Train(id: "x", model: .classifier(),
               data: .digits, epochs: 1

        See @fig:nothing.
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:7: error: unclosed '(' opened here
            @Train(id: "x", model: .classifier(),
                  ^
            """,
            """
            chapters/01-test.md:4:5: error: unknown cross-reference '@fig:nothing'
            See @fig:nothing.
                ^
            """,
        ])
    }

    @Test func strayClosingBracket() {
        #expect(diagnostic("@Train(id: \"x\"])") == """
        chapters/01-test.md:1:15: error: unexpected ']' with no matching '['
        @Train(id: "x"])
                      ^
        """)
    }

    @Test func unclosedString() {
        let text = """
        @Train(id: "x, model: .classifier(), data: .digits, epochs: 1)
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:12: error: unclosed string literal
        @Train(id: "x, model: .classifier(), data: .digits, epochs: 1)
                   ^
        """)
    }

    @Test func unknownDirectiveSuggestsTheClosestName() {
        #expect(diagnostic("@Trian(id: \"x\")") == """
        chapters/01-test.md:1:1: error: unknown directive '@Trian'
        @Trian(id: "x")
        ^
        note: did you mean '@Train'?
        """)
    }

    @Test func misspelledArgumentSuggestsTheLabel() {
        let text = """
        @Train(id: "x", model: .classifier(), data: .digits, epoch: 1)
        """
        // 'epochs' is not reported missing as well: the misspelling is the one problem.
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:54: error: unknown argument 'epoch' for @Train
        @Train(id: "x", model: .classifier(), data: .digits, epoch: 1)
                                                             ^
        note: did you mean 'epochs'?
        """)
    }

    @Test func unknownArgumentWithoutACloseNameListsTheParameters() {
        #expect(diagnostic("@Samples(id: \"fig:s\", model: \"flow\", colour: 3)") == """
        chapters/01-test.md:1:38: error: unknown argument 'colour' for @Samples
        @Samples(id: "fig:s", model: "flow", colour: 3)
                                             ^
        note: @Samples takes: id: String, title: String?, model: ref<Train flow image>, count: Int, temperature: Double
        """)
    }

    @Test func wrongType() {
        let text = """
        @Train(id: "x", model: .classifier(), data: .digits, epochs: "ten")
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:62: error: 'epochs' expects Int, found string "ten"
        @Train(id: "x", model: .classifier(), data: .digits, epochs: "ten")
                                                                     ^
        """)
    }

    @Test func wrongTypeInsideAnEnumCase() {
        #expect(diagnostic("@Train(id: \"x\", model: .realNVP(scales: 2.5), data: .digits, epochs: 1)") == """
        chapters/01-test.md:1:41: error: 'scales' of '.realNVP' expects Int, found number 2.5
        @Train(id: "x", model: .realNVP(scales: 2.5), data: .digits, epochs: 1)
                                                ^
        """)
    }

    @Test func misspelledEnumCase() {
        #expect(diagnostic("@Train(id: \"x\", model: .realNVP(), data: .digit, epochs: 1)") == """
        chapters/01-test.md:1:42: error: unknown Data case '.digit' for 'data'
        @Train(id: "x", model: .realNVP(), data: .digit, epochs: 1)
                                                 ^
        note: did you mean '.digits'?
        """)
    }

    @Test func missingRequiredArgument() {
        #expect(diagnostic("@Evaluate(id: \"e2\", inDistribution: .fashionMNIST, detectors: [.msp(\"clf\")])") == """
        chapters/01-test.md:1:1: error: missing argument 'ood: [Data]' for @Evaluate
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, detectors: [.msp("clf")])
        ^
        """)
    }

    @Test func missingPositionalArgumentOfACase() {
        #expect(diagnostic("@Train(id: \"x\", model: .realNVP(stNet: .bottleneck), data: .digits, epochs: 1)") == """
        chapters/01-test.md:1:40: error: missing argument 'units: Int' (unlabelled) for '.bottleneck'
        @Train(id: "x", model: .realNVP(stNet: .bottleneck), data: .digits, epochs: 1)
                                               ^
        """)
    }

    @Test func duplicateIdPointsAtBothDefinitions() {
        let text = """
        # Chapter

        @Train(id: "flow", model: .glow(), data: .fashionMNIST, epochs: 2)
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:3:12: error: duplicate id 'flow'
        @Train(id: "flow", model: .glow(), data: .fashionMNIST, epochs: 2)
                   ^
        chapters/00-base.md:7:12: note: 'flow' is first defined here
        @Train(id: "flow", model: .realNVP(), data: .fashionMNIST, epochs: 1)
                   ^
        """)
    }

    @Test func referenceToAMissingId() {
        #expect(diagnostic("@ROC(id: \"fig:roc\", evaluation: \"evl\", detector: \"msp\")") == """
        chapters/01-test.md:1:33: error: unknown id 'evl' in 'evaluation'
        @ROC(id: "fig:roc", evaluation: "evl", detector: "msp")
                                        ^
        note: did you mean 'eval'?
        """)
    }

    @Test func referenceOfTheWrongKind() {
        let text = """
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("flow")])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:85: error: 'classifier' of '.msp' needs a @Train of a classifier, but 'flow' is a @Train of an image flow
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("flow")])
                                                                                            ^
        """)
    }

    @Test func referenceToAnotherDirectiveKind() {
        #expect(diagnostic("@Samples(id: \"fig:s\", model: \"eval\")") == """
        chapters/01-test.md:1:30: error: 'model' needs a @Train of an image flow, but 'eval' is an @Evaluate
        @Samples(id: "fig:s", model: "eval")
                                     ^
        """)
    }

    @Test func imageFlowConstraint() {
        #expect(diagnostic("@LatentGrid(id: \"fig:z\", model: \"latent\", images: [.digits])") == """
        chapters/01-test.md:1:33: error: 'model' needs a @Train of an image RealNVP, but 'latent' is a @Train of a vector flow ('.glowLatent')
        @LatentGrid(id: "fig:z", model: "latent", images: [.digits])
                                        ^
        """)
    }

    @Test func dependencyCycle() {
        let text = """
        @Train(id: "a", model: .classifier(), data: .features("b", of: .digits), epochs: 1)

        @Train(id: "b", model: .classifier(), data: .features("c", of: .digits), epochs: 1)

        @Train(id: "c", model: .classifier(), data: .features("a", of: .digits), epochs: 1)
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:55: error: dependency cycle: a → b → c → a
        @Train(id: "a", model: .classifier(), data: .features("b", of: .digits), epochs: 1)
                                                              ^
        """)
    }

    @Test func selfReferenceIsACycle() {
        #expect(diagnostic("@Train(id: \"a\", model: .classifier(), data: .features(\"a\", of: .digits), epochs: 1)") == """
        chapters/01-test.md:1:55: error: dependency cycle: a → a
        @Train(id: "a", model: .classifier(), data: .features("a", of: .digits), epochs: 1)
                                                              ^
        """)
    }

    @Test func badInlineValueKeys() {
        let text = """
        MSP reaches {{auroc:eval/msq/digits}} and {{aurc:eval/msp/digits}},
        on photos {{auroc:eval/msp/photos}}; accuracy {{accuracy:flow}}.
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:13: error: @Evaluate 'eval' has no detector 'msq' (in value key 'auroc:eval/msq/digits')
            MSP reaches {{auroc:eval/msq/digits}} and {{aurc:eval/msp/digits}},
                        ^
            note: did you mean 'msp'?
            """,
            """
            chapters/01-test.md:1:43: error: unknown metric 'aurc' in value key 'aurc:eval/msp/digits'
            MSP reaches {{auroc:eval/msq/digits}} and {{aurc:eval/msp/digits}},
                                                      ^
            note: did you mean 'auroc'?
            """,
            """
            chapters/01-test.md:2:11: error: @Evaluate 'eval' has no OOD set 'photos' (in value key 'auroc:eval/msp/photos')
            on photos {{auroc:eval/msp/photos}}; accuracy {{accuracy:flow}}.
                      ^
            note: its OOD sets: digits, textures
            """,
            """
            chapters/01-test.md:2:47: error: value key 'accuracy:flow' needs a @Train of a classifier, but 'flow' is a @Train of an image flow
            on photos {{auroc:eval/msp/photos}}; accuracy {{accuracy:flow}}.
                                                          ^
            """,
        ])
    }

    @Test func badCrossReferenceAndCitation() {
        let text = """
        # Results {#sec:results}

        As @fig:hist shows (see @sec:result and [@kirichenko2021]).
        """
        let base = baseChapter + "\n\n@Histogram(id: \"fig:hist\", model: \"flow\", datasets: [.digits])\n"
        #expect(diagnostics(text, base: base) == [
            """
            chapters/01-test.md:3:25: error: unknown cross-reference '@sec:result'
            As @fig:hist shows (see @sec:result and [@kirichenko2021]).
                                    ^
            note: did you mean '@sec:results'?
            """,
            """
            chapters/01-test.md:3:42: error: unknown citation key 'kirichenko2021'
            As @fig:hist shows (see @sec:result and [@kirichenko2021]).
                                                     ^
            note: did you mean 'kirichenko2020'?
            """,
        ])
    }

    @Test func codeIsNotChecked() {
        let text = """
        Inline `@fig:none {{auroc:x}}` code is skipped.

        ```
        @fig:none {{auroc:x}}
        @NotADirective(
        ```

            @fig:none in an indented block
        """
        #expect(diagnostics(text) == [])
    }

    @Test func multiLineDirectiveLocations() {
        // Columns count Unicode scalars: "é" and "→" are one column each although they take
        // several UTF-8 bytes.
        let text = """
        Intro.

        @Histogram(id: "fig:é",
                   title: "Scores → bits",
                   model: "flow", datasets: [.digits],
                   bins: "forty") {
        Caption.
        }
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:3:16: error: id "fig:é": after 'fig:' use lower-case letters, digits and '-'
            @Histogram(id: "fig:é",
                           ^
            """,
            """
            chapters/01-test.md:6:18: error: 'bins' expects Int, found string "forty"
                       bins: "forty") {
                             ^
            """,
        ])
    }

    @Test func syntaxErrorLocationInAMultiLineDirective() {
        let text = """
        @Train(id: "x", model: .classifier(),
               data: .digits epochs: 1)
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:2:22: error: unexpected 'epochs: 1'
               data: .digits epochs: 1)
                             ^
        """)
    }

    @Test func valuesOutsideTheLanguage() {
        #expect(diagnostics("@Train(id: \"x\\(1)\", model: classifier, data: .digits, epochs: 1 + 1)") == [
            """
            chapters/01-test.md:1:14: error: string interpolation is not allowed in directive arguments
            @Train(id: "x\\(1)", model: classifier, data: .digits, epochs: 1 + 1)
                         ^
            """,
            """
            chapters/01-test.md:1:28: error: 'classifier' is not a value: strings are quoted ("classifier") and enum cases start with '.' (.classifier)
            @Train(id: "x\\(1)", model: classifier, data: .digits, epochs: 1 + 1)
                                       ^
            """,
            """
            chapters/01-test.md:1:63: error: operators are not allowed in directive arguments (only a unary minus on a number)
            @Train(id: "x\\(1)", model: classifier, data: .digits, epochs: 1 + 1)
                                                                          ^
            """,
        ])
    }

    @Test func histogramNeedsExactlyOneSource() {
        #expect(diagnostic("@Histogram(id: \"fig:h\", model: \"flow\", evaluation: \"eval\", detector: \"msp\", datasets: [.digits])") == """
        chapters/01-test.md:1:40: error: 'evaluation' cannot be combined with 'model': @Histogram takes exactly one of 'model' or 'evaluation' + 'detector'
        @Histogram(id: "fig:h", model: "flow", evaluation: "eval", detector: "msp", datasets: [.digits])
                                               ^
        """)
        #expect(diagnostic("@Histogram(id: \"fig:h\", evaluation: \"eval\", datasets: [.digits])") == """
        chapters/01-test.md:1:25: error: 'evaluation' needs 'detector' too
        @Histogram(id: "fig:h", evaluation: "eval", datasets: [.digits])
                                ^
        """)
    }

    @Test func idPrefixes() {
        #expect(diagnostic("@ROC(id: \"roc\", evaluation: \"eval\", detector: \"msp\")") == """
        chapters/01-test.md:1:10: error: the id of @ROC must start with 'fig:', found "roc"
        @ROC(id: "roc", evaluation: "eval", detector: "msp")
                 ^
        """)
    }

    @Test func titleExactlyOnce() {
        #expect(diagnostic("@Title(title: \"Again\")") == """
        chapters/01-test.md:1:1: error: @Title appears more than once
        @Title(title: "Again")
        ^
        chapters/00-base.md:1:1: note: the first @Title is here
        @Title(title: "Test book") {
        ^
        """)
        let (_, found) = Book.check([("chapters/01.md", "# Intro\n")])
        #expect(found.map(\.description) == ["""
        chapters/01.md:1:1: error: the book has no @Title; put '@Title(title: "...") { abstract }' in the first chapter
        # Intro
        ^
        """])
    }

    @Test func membershipOfEvaluationKeys() {
        let text = """
        @AUROCTable(id: "tab:a", evaluation: "eval", detectors: ["msp", "odn"], ood: [.photos],
                    published: ["msp/digits": 0.7, "odin/digit": 0.8])
        """
        #expect(diagnostics(text) == [
            """
            chapters/01-test.md:1:65: error: @Evaluate 'eval' has no detector 'odn'
            @AUROCTable(id: "tab:a", evaluation: "eval", detectors: ["msp", "odn"], ood: [.photos],
                                                                            ^
            note: did you mean 'odin'?
            """,
            """
            chapters/01-test.md:1:79: error: @Evaluate 'eval' has no OOD set 'photos'
            @AUROCTable(id: "tab:a", evaluation: "eval", detectors: ["msp", "odn"], ood: [.photos],
                                                                                          ^
            note: its OOD sets: digits, textures
            """,
            """
            chapters/01-test.md:2:44: error: @Evaluate 'eval' has no OOD set 'digit'
                        published: ["msp/digits": 0.7, "odin/digit": 0.8])
                                                       ^
            note: did you mean 'digits'?
            """,
        ])
    }

    @Test func duplicateDetectorKeys() {
        let text = """
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("clf"), .msp("clf")])
        """
        #expect(diagnostic(text) == """
        chapters/01-test.md:1:93: error: two detectors have the key 'msp'; give one a 'name:'
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("clf"), .msp("clf")])
                                                                                                    ^
        chapters/01-test.md:1:80: note: the first is here
        @Evaluate(id: "e2", inDistribution: .fashionMNIST, ood: [.digits], detectors: [.msp("clf"), .msp("clf")])
                                                                                       ^
        """)
    }

    @Test func allProblemsOfAllChaptersAreReportedInOrder() {
        let (book, found) = Book.check([
            ("chapters/00-base.md", baseChapter),
            ("chapters/02-b.md", "@Trian()\n"),
            ("chapters/01-a.md", "x {{nope}}\n\n@Train(id: \"q\")\n"),
        ])
        #expect(book == nil)
        #expect(found.map { "\($0.location): \($0.message)" } == [
            "chapters/01-a.md:1:3: malformed value key 'nope': expected 'metric:target', e.g. 'auroc:eval/msp/digits'",
            "chapters/01-a.md:3:1: missing arguments 'model: Model', 'data: Data' and 'epochs: Int' for @Train",
            "chapters/02-b.md:1:1: unknown directive '@Trian'",
        ])
    }
}
