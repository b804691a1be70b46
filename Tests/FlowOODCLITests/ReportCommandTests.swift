import ArgumentParser
import Foundation
import Testing
import TestSupport
@testable import FlowOODCLI

@Suite struct ReportCommandTests {
    @Test func diagnosticsNameChaptersRelativeToTheRoot() throws {
        try withTemporaryDirectory { root in
            let chapters = root.appendingPathComponent("chapters")
            try FileManager.default.createDirectory(at: chapters, withIntermediateDirectories: true)
            try """
            @Title(title: "T")

            Math $\\betta$ and @Trian(id: "x").

            @Samples(id: "fig:s", model: "nope")
            """.write(to: chapters.appendingPathComponent("01-intro.md"), atomically: true, encoding: .utf8)
            // What `flowood report --root ROOT --check` reads and prints.
            let (book, output) = Report.check(directory: chapters.path, displayedAs: "chapters")
            #expect(book == nil)
            #expect(output == """
            chapters/01-intro.md:3:7: error: unknown command \\betta
            Math $\\betta$ and @Trian(id: "x").
                  ^
            note: did you mean '\\beta'?
            chapters/01-intro.md:5:30: error: unknown id 'nope' in 'model'
            @Samples(id: "fig:s", model: "nope")
                                         ^
            2 errors in chapters/

            """)
            var command = try FlowOODCommand.parseAsRoot(["report", "--check", "--root", root.path])
            #expect(throws: ExitCode.self) { try command.run() }
        }
    }

    @Test func checkAcceptsAValidBookUnderARoot() throws {
        try withTemporaryDirectory { root in
            let chapters = root.appendingPathComponent("chapters")
            try FileManager.default.createDirectory(at: chapters, withIntermediateDirectories: true)
            try "@Title(title: \"T\")\n\n# One\n\nText $\\alpha$.\n".write(to: chapters.appendingPathComponent("01.md"),
                                                                       atomically: true, encoding: .utf8)
            let (book, output) = Report.check(directory: chapters.path, displayedAs: "chapters")
            #expect(book?.chapters.map(\.file) == ["chapters/01.md"] && output == "")
            var command = try FlowOODCommand.parseAsRoot(["report", "--check", "--root", root.path])
            try command.run()
        }
    }
}
