import Testing
@testable import Report

@Suite struct DirectiveParserTests {
    func parse(_ text: String) -> ParsedDirective? {
        let (segments, problems) = ChapterSource(file: "chapters/t.md", text: text).split()
        #expect(problems.isEmpty)
        guard case .directive(let raw)? = segments.first else { return nil }
        let (parsed, diagnostics) = DirectiveParser.parse(raw)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        return parsed
    }

    func at(_ line: Int, _ column: Int) -> Report.SourceLocation {
        Report.SourceLocation(file: "chapters/t.md", line: line, column: column)
    }

    @Test func valueTree() throws {
        let parsed = try #require(parse("""
        @X(s: "a\\"b\\n", i: 42, n: -3, d: 5e-5, m: -1.5, t: true, f: false, z: nil,
           a: [1, 2], e: [], dict: ["k": 1.0], none: [:], c: .adam, g: .bottleneck(64, width: 2))
        """))
        #expect(parsed.name == "X")
        let values = parsed.arguments.map(\.value.kind)
        #expect(parsed.arguments.map(\.label) == ["s", "i", "n", "d", "m", "t", "f", "z", "a", "e", "dict", "none", "c", "g"])
        #expect(values[0] == .string("a\"b\n"))
        #expect(values[1] == .int(42))
        #expect(values[2] == .int(-3))
        #expect(values[3] == .double(5e-5))
        #expect(values[4] == .double(-1.5))
        #expect(values[5] == .bool(true) && values[6] == .bool(false) && values[7] == .null)
        #expect(values[8] == .array([DirectiveValue(.int(1), at: at(2, 8)), DirectiveValue(.int(2), at: at(2, 11))]))
        #expect(values[9] == .array([]))
        #expect(values[10] == .dictionary([DictionaryEntry(key: DirectiveValue(.string("k"), at: at(2, 29)),
                                                            value: DirectiveValue(.double(1), at: at(2, 34)))]))
        #expect(values[11] == .dictionary([]))
        #expect(values[12] == .enumCase("adam", []))
        #expect(values[13] == .enumCase("bottleneck", [
            DirectiveArgument(label: nil, labelLocation: nil, value: DirectiveValue(.int(64), at: at(2, 76))),
            DirectiveArgument(label: "width", labelLocation: at(2, 80), value: DirectiveValue(.int(2), at: at(2, 87))),
        ]))
    }

    @Test func locationsOfLabelsAndValuesOnEveryLine() throws {
        // "é" is 2 UTF-8 bytes and "→" 3: columns still count one per scalar.
        let parsed = try #require(parse("""
        @X(a: "é→",
        b: 1,
              c: [.x])
        """))
        #expect(parsed.location == at(1, 1))
        #expect(parsed.arguments.map(\.labelLocation) == [at(1, 4), at(2, 1), at(3, 7)])
        #expect(parsed.arguments.map(\.value.location) == [at(1, 7), at(2, 4), at(3, 10)])
        guard case .array(let items) = parsed.arguments[2].value.kind else {
            Issue.record("not an array")
            return
        }
        #expect(items.map(\.location) == [at(3, 11)])
    }

    /// The messages (with columns) of a one-line directive that does not parse.
    func problems(_ line: String) -> [String] {
        let (segments, split) = ChapterSource(file: "chapters/t.md", text: line + "\n").split()
        guard case .directive(let raw)? = segments.first else { return split.map(\.message) }
        let (parsed, diagnostics) = DirectiveParser.parse(raw)
        #expect(parsed == nil)
        return diagnostics.map { "\($0.location.column): \($0.message)" }
    }

    @Test func syntaxErrors() {
        #expect(problems("@X(id \"x\")") == ["7: unexpected '\"x\"'"])
        #expect(problems("@X(id: )") == ["4: missing value after 'id:'"])
        #expect(problems("@X(m: .realNVP(scales: ))") == ["16: missing value after 'scales:'"])
        #expect(problems("@X(a: [1 2])") == ["10: expected ','"])
        #expect(problems("@X(id: \"\\q\")") == ["9: invalid escape sequence in a string literal (use \\\\ for a backslash)"])
        #expect(problems("@X(id: “curly”)") == ["8: curly quote: strings in directives use straight quotes \"...\""])
        #expect(problems("@X(n: 99999999999999999999)") == ["7: integer literal '99999999999999999999' does not fit in an Int"])
        #expect(problems("@X(n: -.adam, m: !true)") == [
            "7: unary minus applies only to numbers", "18: operator '!' is not allowed in directive arguments",
        ])
    }

    @Test func rejectsMemberAccessOnATypeAndClosures() {
        let (segments, _) = ChapterSource(file: "chapters/t.md", text: "@X(o: Optimizer.adam, f: .g { 1 })\n").split()
        guard case .directive(let raw)? = segments.first else {
            Issue.record("no directive")
            return
        }
        let (parsed, diagnostics) = DirectiveParser.parse(raw)
        #expect(parsed == nil)
        #expect(diagnostics.map { "\($0.location.column): \($0.message)" } == [
            "7: write enum cases without a type name: '.adam' instead of 'Optimizer.adam'",
            "29: closures are not allowed in directive arguments",
        ])
    }
}
