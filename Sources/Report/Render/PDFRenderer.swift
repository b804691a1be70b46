import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo
import Plot

/// The paper size of the PDF report.
public enum PaperSize: Sendable, Hashable {
    /// 210 × 297 mm.
    case a4
    /// 8.5 × 11 in.
    case letter

    /// Width and height in points.
    var points: (width: Double, height: Double) {
        switch self {
        case .a4: (595.276, 841.89)
        case .letter: (612, 792)
        }
    }
}

/// Renders a ``ReportDocument`` as a PDF that reads like a paper, with Pango on a Cairo PDF
/// surface: title block and indented abstract on the first page, numbered headings, justified
/// 11 pt Latin Modern paragraphs with inline math, centred display math laid out as boxes
/// (`MathLayouter`), lists, code, booktabs-style tables with captions above, figures drawn as
/// vectors with `Figure.draw(into:x:y:)` (scaled down only when wider than the 454 pt text
/// block) with captions below, claim boxes, a running head (short title and current section),
/// page numbers, a PDF outline of the sections and the document title in the metadata.
///
/// Page breaking: paragraphs break between lines, never leaving a single first line at the
/// bottom or a single last line at the top of a page; headings stay with the two lines after
/// them; figures and tables that do not fit go to the top of the next page while the text
/// continues, and wait no longer than the next chapter. Output bytes are deterministic (fixed
/// creation date).
///
/// ```swift
/// let pdf = try PDFRenderer(paper: .a4).render(document)
/// ```
public struct PDFRenderer: Sendable {
    /// A4 (default) or US letter.
    public var paper: PaperSize

    /// A renderer for `paper`.
    public init(paper: PaperSize = .a4) {
        self.paper = paper
    }

    /// The PDF bytes for `document`.
    ///
    /// - Throws: ``RenderError`` for an invalid document, a figure that cannot be drawn or a
    ///   Cairo failure.
    public func render(_ document: ReportDocument) throws -> Data {
        try render(try PreparedDocument(document))
    }

    /// The creation date written into the PDF: fixed, so identical reports are identical files.
    static let fixedDate = "2000-01-01T00:00:00Z"

    func render(_ book: PreparedDocument) throws -> Data {
        let size = paper.points
        let geometry = PageGeometry(width: size.width, height: size.height)
        let sink = PDFSink()
        guard let surface = cairo_pdf_surface_create_for_stream(pdfWrite, Unmanaged.passUnretained(sink).toOpaque(),
                                                                size.width, size.height) else {
            throw RenderError.cairo("cannot create a PDF surface")
        }
        defer { cairo_surface_destroy(surface) }
        let document = book.document
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, document.title)
        if let authors = document.authors, !authors.isEmpty {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_AUTHOR, authors)
        }
        if let subtitle = document.subtitle, !subtitle.isEmpty {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_SUBJECT, subtitle)
        }
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, document.generator)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, Self.fixedDate)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, Self.fixedDate)

        guard let cr = cairo_create(surface) else { throw RenderError.cairo("cannot create a Cairo context") }
        defer { cairo_destroy(cr) }
        let text = PDFText(cr: cr)
        let builder = PDFFlowBuilder(book: book, text: text, geometry: geometry)
        let items = try builder.build()
        let pages = Paginator(bodyHeight: geometry.bodyHeight).paginate(items)

        let decoration = PageDecoration(book: book, text: text, geometry: geometry)
        var outline = OutlineBuilder(surface: surface)
        var currentSection: String?
        for (index, page) in pages.enumerated() {
            let pageNumber = index + 1
            if let first = page.first(where: { $0.item.heading?.level == 1 && $0.item.heading?.anchor != "abstract" }) {
                currentSection = first.item.outlineTitle
            }
            cairo_set_source_rgb(cr, 0, 0, 0)
            for placed in page {
                let y = geometry.top + placed.y
                placed.item.draw(cr, geometry.left, y)
                cairo_set_source_rgb(cr, 0, 0, 0)
                if let heading = placed.item.heading {
                    outline.add(heading, title: placed.item.outlineTitle, page: pageNumber, x: geometry.left, y: y)
                }
            }
            decoration.draw(cr, page: pageNumber, section: pageNumber == 1 ? nil : currentSection)
            // The section in force at the top of the next page is the last one started here.
            if let last = page.last(where: { $0.item.heading?.level == 1 && $0.item.heading?.anchor != "abstract" }) {
                currentSection = last.item.outlineTitle
            }
            cairo_show_page(cr)
        }
        if let error = builder.drawingErrors.first { throw error }
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw RenderError.cairo(String(cString: cairo_status_to_string(status))) }
        return sink.data
    }
}

/// Running head and footer.
private struct PageDecoration {
    let book: PreparedDocument
    let text: PDFText
    let geometry: PageGeometry

    func draw(_ cr: OpaquePointer, page: Int, section: String?) {
        let left = geometry.left
        let right = left + geometry.textWidth
        cairo_save(cr)
        if page > 1 {
            let y = geometry.top - 30
            cairo_set_source_rgb(cr, 0.25, 0.25, 0.25)
            let title = text.layout("<i>\(escapeMarkup(book.document.title))</i>",
                                    PDFText.Style(size: 9, width: geometry.textWidth * 0.48))
            pango_layout_set_ellipsize(title.layout, PANGO_ELLIPSIZE_END)
            pango_layout_set_height(title.layout, -1)
            title.draw(cr, x: left, y: y)
            if let section {
                let head = text.layout("<i>\(escapeMarkup(section))</i>",
                                       PDFText.Style(size: 9, width: geometry.textWidth * 0.48, alignment: PANGO_ALIGN_RIGHT))
                pango_layout_set_ellipsize(head.layout, PANGO_ELLIPSIZE_END)
                pango_layout_set_height(head.layout, -1)
                head.draw(cr, x: right - geometry.textWidth * 0.48, y: y)
            }
            cairo_set_line_width(cr, 0.4)
            cairo_move_to(cr, left, geometry.top - 15)
            cairo_line_to(cr, right, geometry.top - 15)
            cairo_stroke(cr)
        }
        cairo_set_source_rgb(cr, 0, 0, 0)
        let number = text.layout("\(page)", PDFText.Style(size: 10, width: geometry.textWidth, alignment: PANGO_ALIGN_CENTER))
        let footerY = geometry.height - geometry.bottom + 26
        number.draw(cr, x: left, y: footerY)
        if book.document.profile == "smoke" {
            cairo_set_source_rgb(cr, 0.70, 0.15, 0.12)
            let badge = text.layout("<b>profile: smoke — not results</b>", PDFText.Style(size: 8.5))
            badge.draw(cr, x: left, y: footerY + 1)
        }
        cairo_restore(cr)
    }
}

/// The PDF outline (bookmarks): chapters at the top level, subsections beneath.
private struct OutlineBuilder {
    let surface: OpaquePointer
    /// Outline ids of the latest entry at each level (index 0 = level 1).
    private var parents: [Int32] = []

    init(surface: OpaquePointer) {
        self.surface = surface
    }

    mutating func add(_ heading: PreparedDocument.Heading, title: String, page: Int, x: Double, y: Double) {
        let level = max(1, min(heading.level, 3))
        let parent: Int32 = level > 1 && parents.count >= level - 1 ? parents[level - 2] : Int32(CAIRO_PDF_OUTLINE_ROOT)
        let link = "page=\(page) pos=[\(Int(x)) \(Int(max(0, y - 12)))]"
        // Chapters open, so their sections show in the viewer's bookmarks.
        let flags = level == 1 ? CAIRO_PDF_OUTLINE_FLAG_OPEN : cairo_pdf_outline_flags_t(rawValue: 0)
        let id = cairo_pdf_surface_add_outline(surface, parent, title, link, flags)
        if parents.count >= level {
            parents.removeLast(parents.count - level + 1)
        }
        while parents.count < level - 1 { parents.append(parent) }
        parents.append(id)
    }
}

/// Breaks the vertical list into pages.
struct Paginator {
    let bodyHeight: Double
    /// Space between a float and the text around it.
    let floatSeparation = 14.0

    struct Placed {
        let item: FlowItem
        let y: Double
    }

    func paginate(_ items: [FlowItem]) -> [[Placed]] {
        var pages: [[Placed]] = [[]]
        var y = 0.0
        var pending: [FlowItem] = []

        func place(_ item: FlowItem) {
            pages[pages.count - 1].append(Placed(item: item, y: y))
            y += item.height
        }
        func newPage() {
            pages.append([])
            y = 0
            while let float = pending.first {
                if y > 0, y + float.height > bodyHeight { break }
                place(float)
                y += floatSeparation
                pending.removeFirst()
            }
        }
        func fits(_ height: Double) -> Bool { y + height <= bodyHeight + 0.01 }

        var i = 0
        while i < items.count {
            let item = items[i]
            if item.isFloat {
                let separation = y > 0 ? floatSeparation : 0
                if pending.isEmpty, fits(separation + item.height) {
                    y += separation
                    place(item)
                    y += floatSeparation
                } else {
                    pending.append(item)
                }
                i += 1
                continue
            }
            if item.flushFloatsBefore {
                while !pending.isEmpty { newPage() }
            }
            if item.isGlue {
                if y > 0 {
                    if fits(item.height) { y += item.height } else { newPage() }
                }
                i += 1
                continue
            }
            // The run of items that must stay together with this one.
            var chain = 0.0
            var j = i
            while j < items.count {
                let next = items[j]
                if !next.isFloat { chain += next.height }
                if !next.isFloat, !next.keepWithNext { break }
                j += 1
            }
            let pageCount = pages.count
            if y > 0, !fits(chain), chain <= bodyHeight {
                newPage()
            }
            if y > 0, !fits(item.height) {
                newPage()
            }
            if pages.count > pageCount, let head = item.continuationHead {
                place(head)
            }
            place(item)
            i += 1
        }
        while !pending.isEmpty { newPage() }
        if pages.count > 1, pages[pages.count - 1].isEmpty { pages.removeLast() }
        return pages
    }
}

/// Collects the bytes Cairo writes.
private final class PDFSink {
    var data = Data()
}

private let pdfWrite: cairo_write_func_t = { closure, bytes, length in
    guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<PDFSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
    return CAIRO_STATUS_SUCCESS
}
