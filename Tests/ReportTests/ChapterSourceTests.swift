import Testing
@testable import Report

@Suite struct ChapterSourceTests {
    func at(_ line: Int, _ column: Int) -> Report.SourceLocation {
        Report.SourceLocation(file: "chapters/t.md", line: line, column: column)
    }

    @Test func splitsMarkdownDirectivesAndBodies() {
        let text = """
        # Chapter

        Intro line.
        @Histogram(id: "fig:h", model: "flow",
                   datasets: [.digits]) {
        Caption with *emphasis*
        and a second line.
        }
        After.

        @Train(id: "x", model: .glow(), data: .digits, epochs: 1)
        """
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: text).split()
        #expect(problems.isEmpty)
        #expect(segments == [
            .markdown("# Chapter\n\nIntro line.", line: 1),
            .directive(RawDirective(
                name: "Histogram",
                arguments: "id: \"fig:h\", model: \"flow\",\n           datasets: [.digits]",
                location: at(4, 1),
                source: "@Histogram(id: \"fig:h\", model: \"flow\",\n           datasets: [.digits])",
                body: "Caption with *emphasis*\nand a second line.", bodyLocation: at(6, 1), lastLine: 8)),
            .markdown("After.\n", line: 9),
            .directive(RawDirective(
                name: "Train", arguments: "id: \"x\", model: .glow(), data: .digits, epochs: 1", location: at(11, 1),
                source: "@Train(id: \"x\", model: .glow(), data: .digits, epochs: 1)", lastLine: 11)),
        ])
    }

    @Test func bracketsInsideStringsDoNotCount() {
        let text = "@Claim(id: \"claim:a\", text: \"a ) ] } \\\" (\", paper: .lde2023) {\n}\n"
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: text).split()
        #expect(problems.isEmpty)
        guard case .directive(let raw)? = segments.first else {
            Issue.record("no directive: \(segments)")
            return
        }
        #expect(raw.arguments == "id: \"claim:a\", text: \"a ) ] } \\\" (\", paper: .lde2023")
        #expect(raw.body == "" && raw.bodyLocation == at(2, 1) && raw.lastLine == 2)
    }

    @Test func fencedCodeIsNeverADirective() {
        let text = """
        ````markdown
        @Train(id: "x"
        ```
        still code
        ````
        """
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: text).split()
        #expect(problems.isEmpty)
        #expect(segments == [.markdown(text, line: 1)])
    }

    @Test func unclosedBodyIsReportedAtTheBrace() {
        let text = "@ClaimsLedger(id: \"tab:c\") {\nno closing brace\n"
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: text).split()
        #expect(problems.map(\.message) == ["unclosed '{' opened here: a directive's body ends at a line that is exactly '}'"])
        #expect(problems.first?.location == at(1, 28))
        #expect(segments.count == 2)
    }

    @Test func textAfterTheClosingParenthesis() {
        let (_, problems) = ChapterSource(file: "chapters/t.md", text: "@ClaimsLedger(id: \"tab:c\") trailing\n").split()
        #expect(problems.map(\.message) == ["unexpected text after the directive; a body starts with ' {' at the end of the line"])
        #expect(problems.first?.location == at(1, 28))
    }

    @Test func directiveWithoutArgumentList() {
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: "@ClaimsLedger {\n").split()
        #expect(problems.map(\.message) == ["directive '@ClaimsLedger' needs an argument list: '@ClaimsLedger(...)'"])
        #expect(segments == [.markdown("@ClaimsLedger {", line: 1)])
    }

    @Test func crlfLineEndings() {
        let (segments, _) = ChapterSource(file: "chapters/t.md", text: "a\r\n@Train(id: \"x\")\r\nb\r\n").split()
        #expect(segments == [
            .markdown("a", line: 1),
            .directive(RawDirective(name: "Train", arguments: "id: \"x\"", location: at(2, 1),
                                    source: "@Train(id: \"x\")", lastLine: 2)),
            .markdown("b", line: 3),
        ])
    }
}
