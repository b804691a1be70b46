import Foundation
import Plot

/// Writes a rendered report directory: `index.html`, `report.pdf` and `figures/` (the figure
/// files the HTML shows and links: given files are copied, the figures' `formats` are drawn).
///
/// The directory is built as a sibling `report.tmp-XXXXXX` and then swapped in with POSIX
/// renames (the old directory is moved aside, the new one renamed into place, the old one
/// deleted), so a failure at any point leaves the previous report intact. Only then, if asked,
/// are the generated figure files published to the project's `figures/` (see
/// ``publishFigures(from:to:)``).
///
/// ```swift
/// try ReportWriter.write(document, to: URL(fileURLWithPath: "build/report"),
///                        projectRoot: URL(fileURLWithPath: "."))
/// ```
public enum ReportWriter {
    /// Renders `document` and replaces the directory at `directory` with the result.
    ///
    /// - Parameters:
    ///   - document: the report.
    ///   - directory: the report directory to create or replace (e.g. `build/report`).
    ///   - projectRoot: the directory relative paths in ``FigureBlock/files`` are resolved against
    ///     (default: the current directory).
    ///   - paper: the PDF's paper size.
    ///   - figures: where to publish the figure files once the report is in place (e.g. the
    ///     project's `figures/`); nil publishes nothing.
    /// - Throws: ``RenderError`` (invalid document, unreadable or clashing figure files, write failures).
    public static func write(_ document: ReportDocument, to directory: URL,
                             projectRoot: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                             paper: PaperSize = .a4, publishingFiguresTo figures: URL? = nil) throws {
        let book = try PreparedDocument(document)
        let html = HTMLRenderer().render(book)
        let pdf = try PDFRenderer(paper: paper).render(book)
        let assets = try figureAssets(book: book, projectRoot: projectRoot)

        let parent = directory.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw RenderError.write(path: parent.path, reason: error.localizedDescription)
        }
        let temporary = try makeTemporaryDirectory(in: parent, prefix: directory.lastPathComponent + ".tmp-")
        do {
            try write(Data(html.utf8), to: temporary.appendingPathComponent("index.html"))
            try write(pdf, to: temporary.appendingPathComponent("report.pdf"))
            let figures = temporary.appendingPathComponent("figures")
            try createDirectory(figures)
            for asset in assets {
                let target = figures.appendingPathComponent(asset.name)
                switch asset.source {
                case .file(let url):
                    do {
                        try FileManager.default.copyItem(at: url, to: target)
                    } catch {
                        throw RenderError.figure(id: asset.figureID, reason: "cannot copy \(url.path): \(error.localizedDescription)")
                    }
                case .drawn(let figure, let format):
                    let data: Data
                    do {
                        switch format {
                        case .svg: data = try figure.svgData()
                        case .png: data = try figure.pngData(dpi: 300)
                        case .pdf: data = try figure.pdfData()
                        }
                    } catch {
                        throw RenderError.figure(id: asset.figureID, reason: "\(error)")
                    }
                    try write(data, to: target)
                }
            }
            try swapIn(temporary, at: directory)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        if let figures {
            try publishFigures(from: directory.appendingPathComponent("figures"), to: figures)
        }
    }

    // MARK: - Publishing

    /// Whether `name` looks like a file the report generates: `fig-*` or `tab-*` (an id with
    /// ':' written as '-', so lower-case letters, digits and '-') with a figure or table extension.
    static func isGeneratedName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, ["png", "svg", "pdf", "csv"].contains(parts[1]) else { return false }
        let stem = parts[0]
        guard stem.hasPrefix("fig-") || stem.hasPrefix("tab-"), stem.count > 4 else { return false }
        return stem.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Copies every generated file of a written report's `figures/` into `target` (each written
    /// to a temporary name and renamed into place) and removes the generated files in `target`
    /// that the report no longer has (figures of removed directives). Other files are left alone.
    public static func publishFigures(from source: URL, to target: URL) throws {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: source.path)) ?? []).filter(isGeneratedName).sorted()
        do {
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
        } catch {
            throw RenderError.write(path: target.path, reason: error.localizedDescription)
        }
        for name in names {
            let file = target.appendingPathComponent(name)
            let temporary = target.appendingPathComponent(".\(name).tmp-\(ProcessInfo.processInfo.processIdentifier)")
            do {
                try? fm.removeItem(at: temporary)
                try fm.copyItem(at: source.appendingPathComponent(name), to: temporary)
            } catch {
                throw RenderError.write(path: file.path, reason: error.localizedDescription)
            }
            guard rename(temporary.path, file.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? fm.removeItem(at: temporary)
                throw RenderError.write(path: file.path, reason: reason)
            }
        }
        let produced = Set(names)
        for name in ((try? fm.contentsOfDirectory(atPath: target.path)) ?? []) where isGeneratedName(name) && !produced.contains(name) {
            do {
                try fm.removeItem(at: target.appendingPathComponent(name))
            } catch {
                throw RenderError.write(path: target.appendingPathComponent(name).path, reason: "cannot remove a stale figure: \(error.localizedDescription)")
            }
        }
    }

    // MARK: - Figures

    struct Asset {
        enum Source {
            case file(URL)
            case drawn(Figure, FigureBlock.Format)
        }
        var figureID: String
        /// File name under `figures/`.
        var name: String
        var source: Source
    }

    /// Every file to put under `figures/`: each figure's files (absolute or project-relative
    /// paths, by basename) and the formats drawn here (its `formats`, and an SVG for figures
    /// that came without SVG or PNG).
    static func figureAssets(book: PreparedDocument, projectRoot: URL) throws -> [Asset] {
        var assets: [Asset] = []
        var owners: [String: (figure: String, path: String)] = [:]
        for chapter in book.chapters {
            for case .figure(let item) in chapter.items {
                let figure = item.block
                for ext in figure.files.keys.sorted() {
                    let path = figure.files[ext]!
                    let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
                        : projectRoot.appendingPathComponent(path)
                    let name = FigureAssets.basename(path)
                    if let owner = owners[name] {
                        if owner.path == path { continue }
                        throw RenderError.figure(id: figure.id, reason: "file name \(name) of \(path) clashes with \(owner.path) of \(owner.figure) in figures/")
                    }
                    guard FileManager.default.isReadableFile(atPath: url.path) else {
                        throw RenderError.figure(id: figure.id, reason: "\(ext) file \(url.path) does not exist or is not readable")
                    }
                    owners[name] = (figure.id, path)
                    assets.append(Asset(figureID: figure.id, name: name, source: .file(url)))
                }
                for format in FigureAssets.drawnFormats(figure) {
                    let name = FigureAssets.generatedName(for: figure, format: format)
                    if let owner = owners[name] {
                        throw RenderError.figure(id: figure.id, reason: "file name \(name) clashes with \(owner.path) of \(owner.figure) in figures/")
                    }
                    owners[name] = (figure.id, "(generated)")
                    assets.append(Asset(figureID: figure.id, name: name, source: .drawn(figure.figure, format)))
                }
            }
        }
        return assets
    }

    // MARK: - Files

    private static func write(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url)
        } catch {
            throw RenderError.write(path: url.path, reason: error.localizedDescription)
        }
    }

    private static func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RenderError.write(path: url.path, reason: error.localizedDescription)
        }
    }

    private static func makeTemporaryDirectory(in parent: URL, prefix: String) throws -> URL {
        var template = Array(parent.appendingPathComponent(prefix + "XXXXXX").path.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else {
            throw RenderError.write(path: parent.path, reason: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        return URL(fileURLWithPath: String(cString: made))
    }

    /// Moves `temporary` to `target` with renames; an existing `target` is moved aside first
    /// and deleted only after the new directory is in place (restored if the second rename fails).
    private static func swapIn(_ temporary: URL, at target: URL) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fileManager.fileExists(atPath: target.path, isDirectory: &isDirectory)
        if !exists {
            guard rename(temporary.path, target.path) == 0 else {
                throw RenderError.write(path: target.path, reason: String(cString: strerror(errno)))
            }
            return
        }
        let aside = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).old-\(UUID().uuidString)")
        guard rename(target.path, aside.path) == 0 else {
            throw RenderError.write(path: target.path, reason: "cannot move the previous report aside: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(aside.path, target.path)
            throw RenderError.write(path: target.path, reason: reason)
        }
        try? fileManager.removeItem(at: aside)
    }
}
