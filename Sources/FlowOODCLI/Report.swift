import ArgumentParser
import Foundation
import Report

/// `flowood report`: checks the chapters, runs (or reuses) every experiment they ask for, and
/// writes the HTML and PDF report plus every figure.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the report from the Markdown chapters in chapters/.",
        discussion: """
        Checks every chapter first (all problems are reported together, as FILE:LINE:COL); nothing \
        runs until they are valid. Then every experiment the directives ask for is run or reused \
        from the content-addressed cache in build/cache (keyed by the directive's arguments, its \
        inputs, the data files and the code version; entries are verified when read), the report \
        is written to build/report/index.html and build/report/report.pdf (replaced atomically \
        when complete), and then its figures are published to figures/fig-<name>.{png,svg,pdf} \
        (stale ones removed). Interrupted training resumes from its last checkpoint on the next \
        run. The vocabulary is in docs/report-design.md.
        """)

    @Option(help: "Experiment profile: paper (the chapters' settings) or smoke (tiny subsets, one epoch: tests and CI).")
    var profile: Profile = .paper

    @Option(help: "Directory holding the chapters (relative to --root).")
    var chapters: String = "chapters"

    @Option(help: "Project root: chapters/, figures/ and build/ are relative to it.")
    var root: String = "."

    @Option(help: "Data directory (instead of FLOWOOD_DATA or the Debian packages' locations).")
    var dataDir: String?

    @Flag(help: "Validate the chapters without running anything.")
    var check = false

    @Flag(help: "Say for every experiment why it was recomputed or reused.")
    var explain = false

    func run() throws {
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL
        // Read from the chapters under --root; name them in diagnostics as given (relative to the root).
        let chapterDir = chapters.hasPrefix("/") || root == "." ? chapters : rootURL.appendingPathComponent(chapters).path
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: chapterDir)) ?? []).filter { $0.hasSuffix(".md") }
        if files.isEmpty {
            FileHandle.standardError.write(Data("error: no chapters (*.md) in \(chapters)/\n".utf8))
            throw ExitCode.failure
        }
        let (book, problems) = Self.check(directory: chapterDir, displayedAs: chapters)
        guard let book else {
            FileHandle.standardError.write(Data(problems.utf8))
            throw ExitCode.failure
        }
        if check {
            print("checked \(Self.count(book.chapters.count, "chapter")): \(Self.count(book.directives.count, "directive")), 0 errors")
            return
        }
        let options = BuildOptions(profile: profile, root: rootURL, dataDirectory: dataDir, explain: explain,
                                   generator: "flowood \(FlowOODCommand.configuration.version)")
        let builder = ReportBuilder(chapters: book.chapterSpecs(), options: options)
        let start = Date()
        do {
            let document = try builder.build()
            try ReportWriter.write(document, to: options.reportDirectory, projectRoot: rootURL,
                                   publishingFiguresTo: options.figuresDirectory)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        FileHandle.standardError.write(Data("\(builder.graph.summary())\n".utf8))
        print("report (\(profile.rawValue) profile) written to \(options.reportDirectory.path)/index.html and report.pdf in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }

    /// Parses and checks every chapter in `directory` (no training, no data), naming files
    /// `displayedAs/NAME.md` in diagnostics. Returns the book, or nil and every diagnostic
    /// (directives, prose, math) followed by a count line, as printed to standard error.
    static func check(directory: String, displayedAs display: String) -> (Book?, String) {
        let (book, diagnostics) = Book.load(directory: directory, displayDirectory: display)
        if let book { return (book, "") }
        let trimmed = display.count > 1 && display.hasSuffix("/") ? String(display.dropLast()) : display
        return (nil, diagnostics.map { $0.description + "\n" }.joined()
                + "\(count(diagnostics.count, "error")) in \(trimmed)/\n")
    }

    static func count(_ n: Int, _ noun: String) -> String {
        "\(n) \(noun)\(n == 1 ? "" : "s")"
    }
}

extension Profile: ExpressibleByArgument {}
