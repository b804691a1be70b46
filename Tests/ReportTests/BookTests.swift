import Foundation
import Testing
import TestSupport
@testable import Report

@Suite struct BookTests {
    static let goodBook = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots/GoodBook").path

    @Test func goodFixtureBookChecksClean() throws {
        let (book, diagnostics) = Book.load(directory: Self.goodBook)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description).joined(separator: "\n"))")
        let checked = try #require(book)
        #expect(checked.chapters.map { URL(fileURLWithPath: $0.file).lastPathComponent }
                == ["01-introduction.md", "02-failure.md", "03-lde.md"])
        #expect(checked.directives.count == 24)
        #expect(checked.title.optionalString("subtitle") == "Fixture book for the chapter checker")
        #expect(checked.directive(withID: "tab:lde")?.strings("detectors").count == 7)
        // The fenced "@Train(" in chapter 1 stays Markdown.
        let first = checked.chapters[0].segments
        #expect(first.count == 2)
        if case .markdown(let text, let line) = first[1] {
            #expect(line == 6 && text.contains("@Train(id: \"not-a-directive\""))
        }
    }

    @Test func loadNamesFilesByDirectoryAndSortsByFileName() throws {
        try withTemporaryDirectory { dir in
            try "@Trian()\n".write(to: dir.appendingPathComponent("02-b.md"), atomically: true, encoding: .utf8)
            try "@Title(title: \"T\")\n".write(to: dir.appendingPathComponent("01-a.md"), atomically: true, encoding: .utf8)
            try "@Train()\n".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
            let (book, diagnostics) = Book.load(directory: dir.path + "/")
            #expect(book == nil)
            #expect(diagnostics.map(\.description) == ["""
            \(dir.path)/02-b.md:1:1: error: unknown directive '@Trian'
            @Trian()
            ^
            note: did you mean '@Train'?
            """])
        }
    }

    @Test func missingDirectoryIsADiagnostic() {
        let (book, diagnostics) = Book.load(directory: "/nonexistent/chapters")
        #expect(book == nil)
        #expect(diagnostics.map(\.description) == ["/nonexistent/chapters:1:1: error: cannot read the chapters directory '/nonexistent/chapters'"])
    }

    @Test func emptyDirectoryIsADiagnostic() throws {
        try withTemporaryDirectory { dir in
            let (book, diagnostics) = Book.load(directory: dir.path)
            #expect(book == nil)
            #expect(diagnostics.map(\.message) == ["no chapters (*.md) in '\(dir.path)'"])
        }
    }

    @Test func referencesToABrokenDirectiveAreNotReportedTwice() {
        let text = """
        @Train(id: "broken", model: .clasifier(), data: .digits, epochs: 1)

        @Samples(id: "fig:s", model: "broken")
        """
        #expect(diagnostics(text).count == 1)
    }
}
