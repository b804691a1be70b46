import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo
import Plot

/// One item of the PDF's vertical list: a line of text, an unbreakable box (display math, a
/// claim), a float (figure, table) or vertical space.
final class FlowItem {
    /// Height in points.
    var height: Double
    /// Offset of the first baseline from the top (list markers are set on it).
    var firstBaseline: Double
    /// No page break between this item and the next one (headings, first and next-to-last lines).
    var keepWithNext = false
    /// Vertical space, dropped at the top of a page.
    var isGlue = false
    /// A figure or table: placed here if it fits, else at the top of the next page.
    var isFloat = false
    /// Place every waiting float before this item (chapter headings).
    var flushFloatsBefore = false
    /// The heading this item shows (outline, running head).
    var heading: PreparedDocument.Heading?
    /// Outline text for ``heading``.
    var outlineTitle = ""
    /// Placed first when a page break falls just before this item (a long table's header).
    var continuationHead: FlowItem?
    /// Draws the item with the text block's left edge at x and the item's top at y.
    var draw: (_ cr: OpaquePointer, _ x: Double, _ y: Double) -> Void

    init(height: Double, firstBaseline: Double = 0, draw: @escaping (_ cr: OpaquePointer, _ x: Double, _ y: Double) -> Void) {
        self.height = height
        self.firstBaseline = firstBaseline
        self.draw = draw
    }

    static func glue(_ height: Double) -> FlowItem {
        let item = FlowItem(height: height) { _, _, _ in }
        item.isGlue = true
        return item
    }
}

/// Page size and margins. The text block is ``Figure/textWidth`` (454 pt, 6.3 in) wide, so
/// figures designed for it are drawn at 100 %.
struct PageGeometry {
    var width: Double
    var height: Double
    var textWidth = Figure.textWidth
    var top = 78.0
    var bottom = 78.0

    var left: Double { ((width - textWidth) / 2).rounded() }
    var bodyHeight: Double { height - top - bottom }
}

/// Builds the vertical list of the PDF from a ``PreparedDocument``: measures every line, box and float
/// with the same Pango context that later draws them.
final class PDFFlowBuilder {
    let book: PreparedDocument
    let text: PDFText
    let geometry: PageGeometry
    /// Errors met while drawing figures (reported after the pages are drawn).
    var drawingErrors: [RenderError] = []

    /// Body text size and baseline-to-baseline distance (TeX's 11 pt on 13.6 pt).
    let bodySize = 11.0
    let paragraphIndent = 15.0
    let blockSkip = 6.0

    init(book: PreparedDocument, text: PDFText, geometry: PageGeometry) {
        self.book = book
        self.text = text
        self.geometry = geometry
    }

    // MARK: - The document

    func build() throws -> [FlowItem] {
        var items = titleBlock()
        var previousWasParagraph = false
        for chapter in book.chapters {
            for item in chapter.items {
                switch item {
                case .heading(let heading):
                    items += self.heading(heading)
                    previousWasParagraph = false
                case .block(let block):
                    let startsParagraph: Bool
                    if case .paragraph = block { startsParagraph = true } else { startsParagraph = false }
                    if !items.isEmpty, !(startsParagraph && previousWasParagraph), !(items.last?.isGlue ?? false) {
                        items.append(.glue(blockSkip))
                    }
                    items += blocks([block], indent: 0, width: geometry.textWidth, size: bodySize,
                                    indentFirstParagraph: previousWasParagraph)
                    previousWasParagraph = startsParagraph
                case .figure(let figure):
                    items.append(try self.figure(figure))
                case .table(let table):
                    let parts = self.table(table)
                    if parts.count > 1, !(items.last?.isGlue ?? false) { items.append(.glue(blockSkip)) }
                    items += parts
                case .claim(let claim):
                    if !(items.last?.isGlue ?? false) { items.append(.glue(blockSkip + 2)) }
                    items.append(self.claim(claim))
                    items.append(.glue(blockSkip + 2))
                    previousWasParagraph = false
                }
            }
        }
        items += references()
        return items
    }

    // MARK: - Text lines

    /// The baseline distance for text of `size`.
    func lineSkip(_ size: Double) -> Double { (size * 1.236).rounded(toPlaces: 2) }

    /// One flow item per line of `layout`, drawn with the layout's left edge at `indent`.
    /// Baselines are `skip` apart (TeX's \\baselineskip); a line whose ink reaches higher than
    /// 0.8 skip above or lower than 0.3 skip below its baseline (big inline formulas) gets that
    /// much extra room. The first and next-to-last lines keep with their successors (no orphans
    /// or widows).
    func lines(of layout: TextLayout, indent: Double, size: Double, skip: Double? = nil,
               background: ((OpaquePointer, Double, Double, Double) -> Void)? = nil) -> [FlowItem] {
        let skip = skip ?? lineSkip(size)
        let lines = layout.lines
        var items: [FlowItem] = []
        for (k, line) in lines.enumerated() {
            let extraAbove = max(0, line.inkAscent - 0.8 * skip)
            let extraBelow = max(0, line.inkDescent - 0.3 * skip)
            let height = skip + extraAbove + extraBelow
            let baseline = 0.75 * skip + extraAbove
            let item = FlowItem(height: height, firstBaseline: baseline) { cr, x, y in
                background?(cr, x, y, height)
                line.draw(cr, x: x + indent, baseline: y + baseline)
            }
            if lines.count > 1, k == 0 || k == lines.count - 2 { item.keepWithNext = true }
            items.append(item)
        }
        return items
    }

    /// A paragraph of inline content.
    func paragraph(_ inlines: [Inline], indent: Double, width: Double, size: Double, firstLineIndent: Double = 0,
                   justify: Bool = true, alignment: PangoAlignment = PANGO_ALIGN_LEFT, prefix: String = "") -> [FlowItem] {
        let markup = prefix + PangoInlineWriter(book: book, size: size).markup(inlines)
        let layout = text.layout(markup, PDFText.Style(size: size, width: width, justify: justify, alignment: alignment,
                                                       indent: firstLineIndent))
        return lines(of: layout, indent: indent, size: size)
    }

    // MARK: - Blocks

    /// Markdown blocks set in a column `width` wide starting `indent` from the text block's left.
    func blocks(_ blocks: [MarkdownBlock], indent: Double, width: Double, size: Double,
                indentFirstParagraph: Bool = false, tight: Bool = false) -> [FlowItem] {
        var items: [FlowItem] = []
        var previous: MarkdownBlock?
        for block in blocks {
            if let previous {
                let bothParagraphs: Bool
                if case .paragraph = previous, case .paragraph = block { bothParagraphs = true } else { bothParagraphs = false }
                if !bothParagraphs || tight {
                    items.append(.glue(tight ? 2 : blockSkip))
                }
            }
            var paragraphIndent = 0.0
            if case .paragraph = block, case .paragraph? = previous, !tight { paragraphIndent = self.paragraphIndent }
            if previous == nil, indentFirstParagraph, case .paragraph = block { paragraphIndent = self.paragraphIndent }
            items += self.block(block, indent: indent, width: width, size: size, paragraphIndent: paragraphIndent)
            previous = block
        }
        return items
    }

    private func block(_ block: MarkdownBlock, indent: Double, width: Double, size: Double,
                       paragraphIndent: Double) -> [FlowItem] {
        switch block {
        case .paragraph(let inlines):
            return paragraph(inlines, indent: indent, width: width, size: size, firstLineIndent: paragraphIndent)
        case .heading(let heading):
            return paragraph(heading.content, indent: indent, width: width, size: size, justify: false,
                             prefix: "").map { item in
                let original = item.draw
                item.keepWithNext = true
                item.draw = { cr, x, y in
                    cairo_save(cr)
                    original(cr, x, y)
                    cairo_restore(cr)
                }
                return item
            }
        case .code(_, let code):
            return codeBlock(code, indent: indent, width: width)
        case .math(let formula):
            return [displayMath(formula, indent: indent, width: width, size: size)]
        case .list(let ordered, let start, let tight, let entries):
            return list(ordered: ordered, start: start, tight: tight, entries: entries, indent: indent, width: width, size: size)
        case .quote(let inner):
            return blocks(inner, indent: indent + 18, width: width - 36, size: size)
        case .table(let alignments, let header, let rows):
            return tableBox(header: header, rows: rows, alignments: alignments, caption: nil, width: width, indent: indent)
        case .rule:
            let item = FlowItem(height: 12) { cr, x, y in
                cairo_set_line_width(cr, 0.4)
                cairo_move_to(cr, x + indent + width / 3, y + 6)
                cairo_line_to(cr, x + indent + 2 * width / 3, y + 6)
                cairo_stroke(cr)
            }
            return [item]
        }
    }

    private func codeBlock(_ code: String, indent: Double, width: Double) -> [FlowItem] {
        let pad = 5.0
        let size = 8.8
        let layout = text.layout(escapeMarkup(code), PDFText.Style(family: PDFFonts.mono, size: size, width: width - 2 * pad,
                                                                 wrapCharacters: true))
        let fill: (OpaquePointer, Double, Double, Double) -> Void = { cr, x, y, height in
            cairo_save(cr)
            cairo_set_source_rgb(cr, 0.955, 0.955, 0.945)
            cairo_rectangle(cr, x + indent, y, width, height)
            cairo_fill(cr)
            cairo_restore(cr)
        }
        let items = lines(of: layout, indent: indent + pad, size: size, skip: 11, background: fill)
        // Padding above the first and below the last line, inside the grey.
        if let first = items.first {
            let original = first.draw
            first.height += pad
            first.firstBaseline += pad
            first.draw = { cr, x, y in
                fill(cr, x, y, pad)
                original(cr, x, y + pad)
            }
        }
        if let last = items.last {
            let original = last.draw
            let height = last.height
            last.height += pad
            last.draw = { cr, x, y in
                original(cr, x, y)
                fill(cr, x, y + height, pad)
            }
        }
        return items
    }

    private func displayMath(_ formula: Formula, indent: Double, width: Double, size: Double) -> FlowItem {
        let box = MathLayouter(text: text, baseSize: size).layout(formula.node)
        let scale = box.width > width ? width / box.width : 1
        let pad = 4.0
        let height = (box.ascent + box.descent) * scale + 2 * pad
        let item = FlowItem(height: height, firstBaseline: pad + box.ascent * scale) { cr, x, y in
            let left = x + indent + (width - box.width * scale) / 2
            let baseline = y + pad + box.ascent * scale
            if scale < 1 {
                cairo_save(cr)
                cairo_translate(cr, left, baseline)
                cairo_scale(cr, scale, scale)
                box.draw(cr, x: 0, baseline: 0)
                cairo_restore(cr)
            } else {
                box.draw(cr, x: left, baseline: baseline)
            }
        }
        return item
    }

    private func list(ordered: Bool, start: Int, tight: Bool, entries: [[MarkdownBlock]], indent: Double, width: Double,
                      size: Double) -> [FlowItem] {
        let step = 18.0
        var items: [FlowItem] = []
        for (k, entry) in entries.enumerated() {
            if k > 0 { items.append(.glue(tight ? 1 : 4)) }
            let content = blocks(entry, indent: indent + step, width: width - step, size: size, tight: tight)
            guard let first = content.first(where: { !$0.isGlue }) else { continue }
            let marker = ordered ? "\(start + k)." : (indent == 0 ? "•" : "–")
            let markerLayout = text.layout(escapeMarkup(marker), PDFText.Style(size: size))
            let original = first.draw
            let baseline = first.firstBaseline
            first.draw = { cr, x, y in
                original(cr, x, y)
                let line = markerLayout.lines[0]
                line.draw(cr, x: x + indent + step - 5 - markerLayout.width, baseline: y + baseline)
            }
            items += content
        }
        return items
    }

    // MARK: - Headings

    private func headingSize(_ level: Int) -> Double {
        switch level {
        case 1: 14.4
        case 2: 12
        default: 11
        }
    }

    func heading(_ heading: PreparedDocument.Heading) -> [FlowItem] {
        let size = headingSize(heading.level)
        let number = heading.number.map { "\($0)\u{2003}" } ?? ""
        let markup = "<b>\(escapeMarkup(number))\(PangoInlineWriter(book: book, size: size).markup(heading.content))</b>"
        let layout = text.layout(markup, PDFText.Style(size: size, width: geometry.textWidth))
        let before = heading.level == 1 ? 20.0 : (heading.level == 2 ? 14.0 : 10.0)
        let after = heading.level == 1 ? 9.0 : (heading.level == 2 ? 6.0 : 4.0)
        let lineItems = lines(of: layout, indent: 0, size: size)
        for item in lineItems { item.keepWithNext = true }
        let space = FlowItem.glue(before)
        space.flushFloatsBefore = heading.level == 1
        lineItems[0].heading = heading
        lineItems[0].outlineTitle = book.headingText(heading)
        let below = FlowItem.glue(after)
        below.keepWithNext = true
        return [space] + lineItems + [below]
    }

    // MARK: - Title block and references

    private func centred(_ markup: String, size: Double, color: (Double, Double, Double) = (0, 0, 0)) -> [FlowItem] {
        let layout = text.layout(markup, PDFText.Style(size: size, width: geometry.textWidth, alignment: PANGO_ALIGN_CENTER))
        return lines(of: layout, indent: 0, size: size).map { item in
            let original = item.draw
            item.draw = { cr, x, y in
                cairo_save(cr)
                cairo_set_source_rgb(cr, color.0, color.1, color.2)
                original(cr, x, y)
                cairo_restore(cr)
            }
            return item
        }
    }

    private func titleBlock() -> [FlowItem] {
        let document = book.document
        var items: [FlowItem] = []
        if document.profile == "smoke" {
            let layout = text.layout("<b>profile: smoke — not results</b>", PDFText.Style(size: 12, width: geometry.textWidth,
                                                                                       alignment: PANGO_ALIGN_CENTER))
            let pad = 6.0
            let item = FlowItem(height: layout.height + 2 * pad) { cr, x, y in
                cairo_save(cr)
                cairo_set_source_rgb(cr, 0.99, 0.94, 0.94)
                cairo_rectangle(cr, x, y, self.geometry.textWidth, layout.height + 2 * pad)
                cairo_fill_preserve(cr)
                cairo_set_source_rgb(cr, 0.70, 0.15, 0.12)
                cairo_set_line_width(cr, 1.5)
                cairo_stroke(cr)
                layout.draw(cr, x: x, y: y + pad)
                cairo_restore(cr)
            }
            items += [item, .glue(14)]
        }
        items += centred("<b>\(escapeMarkup(document.title))</b>", size: 17.28)
        if let subtitle = document.subtitle, !subtitle.isEmpty {
            items += [.glue(4)] + centred(escapeMarkup(subtitle), size: 12)
        }
        if let authors = document.authors, !authors.isEmpty {
            items += [.glue(8)] + centred(escapeMarkup(authors), size: 11)
        }
        items.append(.glue(6))
        if document.profile != "smoke" {
            items += centred("profile: \(escapeMarkup(document.profile))", size: 9, color: (0.36, 0.36, 0.36))
        }
        items += centred(escapeMarkup(document.generator), size: 8.5, color: (0.36, 0.36, 0.36))
        if !book.abstract.isEmpty {
            items.append(.glue(16))
            let title = centred("<b>Abstract</b>", size: 10)
            title[0].heading = PreparedDocument.Heading(level: 1, number: nil, content: [.text("Abstract")], anchor: "abstract")
            title[0].outlineTitle = "Abstract"
            title.forEach { $0.keepWithNext = true }
            items += title
            items.append(.glue(3))
            items += blocks(book.abstract, indent: 30, width: geometry.textWidth - 60, size: 10)
        }
        items.append(.glue(10))
        return items
    }

    private func references() -> [FlowItem] {
        guard !book.citedKeys.isEmpty else { return [] }
        let heading = PreparedDocument.Heading(level: 1, number: nil, content: [.text("References")], anchor: "references")
        var items = self.heading(heading)
        let size = 10.0
        for (k, key) in book.citedKeys.enumerated() {
            guard let entry = Bibliography.entry(key) else { continue }
            var markup = "\(escapeMarkup(entry.authorList)) (\(entry.year)). \(escapeMarkup(entry.title)). "
            markup += "<i>\(escapeMarkup(entry.venue))</i>. \(escapeMarkup(entry.url))"
            if let note = entry.note { markup += ". \(escapeMarkup(note))" }
            if k > 0 { items.append(.glue(4)) }
            let layout = text.layout(markup, PDFText.Style(size: size, width: geometry.textWidth, justify: true, indent: -15))
            items += lines(of: layout, indent: 0, size: size)
        }
        return items
    }

    // MARK: - Figures, tables, claims

    private func captionLayout(_ label: String, _ caption: [Inline], width: Double) -> TextLayout {
        let size = 10.0
        let markup = "<b>\(label):</b> " + PangoInlineWriter(book: book, size: size).markup(caption)
        let layout = text.layout(markup, PDFText.Style(size: size, width: width, justify: true))
        if layout.lines.count == 1 {
            return text.layout(markup, PDFText.Style(size: size, width: width, alignment: PANGO_ALIGN_CENTER))
        }
        return layout
    }

    private func figure(_ item: PreparedDocument.FigureItem) throws -> FlowItem {
        let figure = item.block.figure
        do {
            try figure.validate()
        } catch {
            throw RenderError.figure(id: item.block.id, reason: "\(error)")
        }
        let caption = captionLayout("Figure \(item.number)", item.caption, width: geometry.textWidth)
        let gap = 6.0
        let available = geometry.bodyHeight - caption.height - gap - 4
        let scale = min(1, geometry.textWidth / figure.width, available / figure.height)
        let width = figure.width * scale
        let height = figure.height * scale
        let id = item.block.id
        let flowItem = FlowItem(height: height + gap + caption.height) { cr, x, y in
            cairo_save(cr)
            cairo_translate(cr, x + (self.geometry.textWidth - width) / 2, y)
            cairo_scale(cr, scale, scale)
            do {
                try figure.draw(into: cr, x: 0, y: 0)
            } catch {
                self.drawingErrors.append(RenderError.figure(id: id, reason: "\(error)"))
            }
            cairo_restore(cr)
            cairo_set_source_rgb(cr, 0, 0, 0)
            caption.draw(cr, x: x, y: y + height + gap)
        }
        flowItem.isFloat = true
        return flowItem
    }

    /// A table as a float, or in parts placed in the text when it is taller than a page.
    private func table(_ item: PreparedDocument.TableItem) -> [FlowItem] {
        let alignments: [ColumnAlignment] = (0..<max(item.header.count, item.rows.map(\.count).max() ?? 0)).map {
            $0 < item.block.numeric.count && item.block.numeric[$0] ? .right : .left
        }
        let parts = tableBox(header: item.header, rows: item.rows, alignments: alignments,
                             caption: captionLayout("Table \(item.number)", item.caption, width: geometry.textWidth),
                             continuation: "Table \(item.number)", width: geometry.textWidth, indent: 0)
        if parts.count == 1 { parts[0].isFloat = true }
        return parts
    }

    /// A booktabs-style table (rules above, below the header and at the bottom), with an
    /// optional caption above. Too-wide tables are set smaller, then wrap their text columns;
    /// tables taller than a page become one flow item per row.
    func tableBox(header: [[Inline]], rows: [[[Inline]]], alignments: [ColumnAlignment], caption: TextLayout?,
                  continuation: String? = nil, width: Double, indent: Double) -> [FlowItem] {
        let columns = max(header.count, rows.map(\.count).max() ?? 0, 1)
        let padX = 5.0
        let padY = 1.6
        func cell(_ inlines: [Inline], size: Double, column: Int, wrap: Double?) -> TextLayout {
            let alignment: PangoAlignment
            switch column < alignments.count ? alignments[column] : .none {
            case .right: alignment = PANGO_ALIGN_RIGHT
            case .center: alignment = PANGO_ALIGN_CENTER
            default: alignment = PANGO_ALIGN_LEFT
            }
            return text.layout(PangoInlineWriter(book: book, size: size).markup(inlines),
                               PDFText.Style(size: size, width: wrap, alignment: alignment))
        }
        let allRows = (header.isEmpty ? [] : [header]) + rows
        var size = 9.5
        var layouts: [[TextLayout]] = []
        var widths: [Double] = []
        while true {
            layouts = allRows.map { row in (0..<columns).map { c in cell(c < row.count ? row[c] : [], size: size, column: c, wrap: nil) } }
            widths = (0..<columns).map { c in layouts.map { $0[c].width }.max() ?? 0 }
            if widths.reduce(0, +) + Double(columns) * 2 * padX <= width || size <= 7.5 { break }
            size -= 1
        }
        let total = widths.reduce(0, +) + Double(columns) * 2 * padX
        if total > width {
            // Wrap into the page as browsers lay out automatic tables: every column gets at
            // least its narrowest possible width (its widest word; numbers in the body of a
            // numeric column never wrap, its header may), and the rest of the room goes to the
            // columns in proportion to how much more they would like.
            let numeric = Set((0..<columns).filter { $0 < alignments.count && alignments[$0] == .right })
            let room = max(width - Double(columns) * 2 * padX, 20)
            var narrowest = [Double](repeating: 0, count: columns)
            for c in 0..<columns {
                narrowest[c] = allRows.indices.map { r -> Double in
                    guard c < allRows[r].count else { return 0 }
                    let isHeader = !header.isEmpty && r == 0
                    if numeric.contains(c) && !isHeader { return layouts[r][c].width }
                    var style = PDFText.Style(size: size, width: 1)
                    style.wrapWordsOnly = true
                    return text.layout(PangoInlineWriter(book: book, size: size).markup(allRows[r][c]), style).width
                }.max() ?? 0
            }
            let minimum = narrowest.reduce(0, +)
            let wish = max((0..<columns).map { widths[$0] - narrowest[$0] }.reduce(0, +), 1e-9)
            for c in 0..<columns {
                widths[c] = minimum >= room ? room * narrowest[c] / max(minimum, 1e-9)
                    : narrowest[c] + (room - minimum) * (widths[c] - narrowest[c]) / wish
            }
            layouts = allRows.map { row in
                (0..<columns).map { c in cell(c < row.count ? row[c] : [], size: size, column: c, wrap: widths[c]) }
            }
        }
        // Right- and centre-aligned cells need the column width to align in.
        for c in 0..<columns where c < alignments.count && (alignments[c] == .right || alignments[c] == .center) {
            layouts = layouts.enumerated().map { r, row in
                var row = row
                let source = allRows[r]
                row[c] = cell(c < source.count ? source[c] : [], size: size, column: c, wrap: widths[c])
                return row
            }
        }
        let tableWidth = widths.reduce(0, +) + Double(columns) * 2 * padX
        // Cells of a row share the first baseline (a cell set only in the math font has its own).
        let rowBaselines = layouts.map { row in row.map(\.baseline).max() ?? 0 }
        let rowHeights = layouts.enumerated().map { r, row in
            (row.map { rowBaselines[r] - $0.baseline + $0.height }.max() ?? 0) + 2 * padY
        }
        let heavy = 0.8
        let light = 0.5
        let hasHeader = !header.isEmpty
        let headerHeight = hasHeader ? rowHeights[0] + light : 0
        let bodyRows = Array((hasHeader ? 1 : 0)..<layouts.count)

        let captionHeight = caption.map { $0.height + 5 } ?? 0
        let left = indent + (width - tableWidth) / 2
        func rule(_ cr: OpaquePointer, _ x: Double, _ y: Double, _ thickness: Double) {
            cairo_rectangle(cr, x + left, y, tableWidth, thickness)
            cairo_fill(cr)
        }
        func drawRow(_ cr: OpaquePointer, _ x: Double, _ y: Double, _ r: Int) {
            var cellX = x + left
            for (c, layout) in layouts[r].enumerated() {
                layout.draw(cr, x: cellX + padX, y: y + padY + rowBaselines[r] - layout.baseline)
                cellX += widths[c] + 2 * padX
            }
        }
        /// Caption (or "continued" line), top rule, header and the rule under it.
        func head(_ captionLayout: TextLayout?, captionHeight: Double) -> FlowItem {
            FlowItem(height: captionHeight + heavy + headerHeight) { cr, x, y in
                captionLayout?.draw(cr, x: x + indent, y: y)
                rule(cr, x, y + captionHeight, heavy)
                if hasHeader {
                    drawRow(cr, x, y + captionHeight + heavy, 0)
                    rule(cr, x, y + captionHeight + heavy + rowHeights[0], light)
                }
            }
        }
        let totalHeight = captionHeight + 2 * heavy + headerHeight + bodyRows.map { rowHeights[$0] }.reduce(0, +) + 2
        if totalHeight <= geometry.bodyHeight {
            let top = head(caption, captionHeight: captionHeight)
            return [FlowItem(height: totalHeight) { cr, x, y in
                top.draw(cr, x, y)
                var rowY = y + top.height
                for r in bodyRows {
                    drawRow(cr, x, rowY, r)
                    rowY += rowHeights[r]
                }
                rule(cr, x, rowY, heavy)
            }]
        }
        // Taller than a page: one item per row, so the table breaks between rows; a page that
        // continues it starts with "(continued)" and the header again.
        let continued = text.layout("<i>\(escapeMarkup(continuation ?? "Table")) (continued)</i>",
                                    PDFText.Style(size: 10, width: width, alignment: PANGO_ALIGN_CENTER))
        let repeatHead = head(continuation == nil ? nil : continued, captionHeight: continuation == nil ? 0 : continued.height + 5)
        let first = head(caption, captionHeight: captionHeight)
        first.keepWithNext = true
        var items = [first]
        for (k, r) in bodyRows.enumerated() {
            let row = FlowItem(height: rowHeights[r]) { cr, x, y in drawRow(cr, x, y, r) }
            row.continuationHead = repeatHead
            // At least two rows under the header, and never the bottom rule alone.
            row.keepWithNext = k == 0 || k == bodyRows.count - 1
            items.append(row)
        }
        items.append(FlowItem(height: heavy + 2) { cr, x, y in rule(cr, x, y, heavy) })
        return items
    }

    private func claim(_ item: PreparedDocument.ClaimItem) -> FlowItem {
        let claim = item.block
        let bar = 4.0
        let pad = 8.0
        let size = 10.0
        let innerWidth = geometry.textWidth - bar - 2 * pad
        let innerIndent = bar + pad
        let (color, tint): ((Double, Double, Double), (Double, Double, Double)) = switch claim.verdict {
        case .reproduced: ((0.118, 0.482, 0.204), (0.933, 0.973, 0.941))
        case .notReproduced: ((0.702, 0.149, 0.118), (0.992, 0.941, 0.937))
        case .inconclusive, .qualitative: ((0.38, 0.38, 0.40), (0.95, 0.95, 0.95))
        }
        let verdict = "\(claim.verdict.mark) \(claim.verdict.title.uppercased())"
        var inner: [FlowItem] = []
        let verdictLayout = text.layout("<b>\(verdict)</b>", PDFText.Style(size: 9.5, width: innerWidth))
        inner += lines(of: verdictLayout, indent: innerIndent, size: 9.5).map { line in
            let original = line.draw
            line.draw = { cr, x, y in
                cairo_save(cr)
                cairo_set_source_rgb(cr, color.0, color.1, color.2)
                original(cr, x, y)
                cairo_restore(cr)
            }
            return line
        }
        inner.append(.glue(2))
        inner += paragraph(item.text, indent: innerIndent, width: innerWidth, size: size,
                           prefix: "<b>\(escapeMarkup(claim.paper)):</b> ")
        inner.append(.glue(2))
        let evidence = book.targets[claim.evidence]?.label ?? claim.evidence
        let paper = claim.paperEvidence.isEmpty ? "" : "Paper: \(claim.paperEvidence). "
        inner += paragraph([.text("\(paper)Our evidence: \(evidence). Check: \(claim.check).")], indent: innerIndent,
                           width: innerWidth, size: 9.5)
        if !item.comment.isEmpty {
            inner.append(.glue(4))
            inner += blocks(item.comment, indent: innerIndent, width: innerWidth, size: size)
        }
        let height = inner.map(\.height).reduce(0, +) + 2 * pad - 2
        return FlowItem(height: height) { cr, x, y in
            cairo_save(cr)
            cairo_set_source_rgb(cr, tint.0, tint.1, tint.2)
            cairo_rectangle(cr, x, y, self.geometry.textWidth, height)
            cairo_fill(cr)
            cairo_set_source_rgb(cr, color.0, color.1, color.2)
            cairo_rectangle(cr, x, y, bar, height)
            cairo_fill(cr)
            cairo_restore(cr)
            var innerY = y + pad - 1
            for part in inner {
                part.draw(cr, x, innerY)
                innerY += part.height
            }
        }
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let factor = Foundation.pow(10.0, Double(places))
        return (self * factor).rounded() / factor
    }
}
