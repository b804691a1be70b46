import Testing
@testable import Report

@Suite struct DocumentTests {
    @Test func locationsOrderByFileThenLineThenColumn() {
        let a = SourceLocation(file: "chapters/01.md", line: 3, column: 9)
        let b = SourceLocation(file: "chapters/01.md", line: 4, column: 1)
        let c = SourceLocation(file: "chapters/02.md", line: 1, column: 1)
        #expect(a < b && b < c)
        #expect(a.description == "chapters/01.md:3:9")
    }
}
