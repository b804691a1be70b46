import ArgumentParser
import Foundation
import Report

/// `flowood report`: renders chapters/ into the report (the generator arrives with the
/// report issue; until then it lists the chapters it would render).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the report from the Markdown chapters in chapters/.")

    enum Profile: String, ExpressibleByArgument, CaseIterable {
        case paper, smoke
    }

    @Option(help: "Experiment profile: paper (full settings) or smoke (tiny subsets, for tests).")
    var profile: Profile = .paper

    @Option(help: "Directory holding the chapters.")
    var chapters: String = "chapters"

    @Flag(help: "Validate the chapters without running anything.")
    var check = false

    func run() throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: chapters)) ?? [])
            .filter { $0.hasSuffix(".md") }.sorted()
        if files.isEmpty {
            print("no chapters yet in \(chapters)/ — nothing to build")
            return
        }
        if check {
            try checkChapters()
            return
        }
        FileHandle.standardError.write(Data("error: the report generator is not built yet; found \(files.count) chapter(s): \(files.joined(separator: ", "))\n".utf8))
        throw ExitCode.failure
    }

    /// `--check`: parses and checks every chapter (no training, no data), prints all diagnostics
    /// to stderr and fails if there is any; otherwise prints a one-line summary.
    func checkChapters() throws {
        let (book, diagnostics) = Book.load(directory: chapters)
        if let book {
            print("checked \(Self.count(book.chapters.count, "chapter")): \(Self.count(book.directives.count, "directive")), 0 errors")
            return
        }
        var text = diagnostics.map { $0.description + "\n" }.joined()
        text += "\(Self.count(diagnostics.count, "error")) in \(chapters)/\n"
        FileHandle.standardError.write(Data(text.utf8))
        throw ExitCode.failure
    }

    static func count(_ n: Int, _ noun: String) -> String {
        "\(n) \(noun)\(n == 1 ? "" : "s")"
    }
}
