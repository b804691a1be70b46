import Foundation
@preconcurrency import CCairo
@preconcurrency import CPangoCairo

/// A rectangle in points, origin at the top-left, y growing downwards (Cairo's user space).
struct Rect: Equatable {
    var x, y, width, height: Double

    var maxX: Double { x + width }
    var maxY: Double { y + height }
    var midX: Double { x + width / 2 }
    var midY: Double { y + height / 2 }

    func contains(_ px: Double, _ py: Double) -> Bool {
        px >= x && px <= maxX && py >= y && py <= maxY
    }

    func insetBy(_ d: Double) -> Rect {
        Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d)
    }
}

/// Where a panel's parts ended up, in points relative to the figure's top-left corner;
/// returned by the renderer so tests can find bars and pixels.
struct PanelGeometry {
    /// The panel's cell in the figure.
    var frame: Rect
    /// The plot area of an ``Axes`` panel.
    var plot: Rect?
    /// Data → page mappings of an ``Axes`` panel.
    var x: AxisMap?
    var y: AxisMap?
    var secondaryY: AxisMap?
    /// The legend box, if drawn.
    var legend: Rect?
    /// Image cells of an ``ImageGrid`` panel, [row][column].
    var cells: [[Rect?]] = []
    /// Colour-bar rectangles of an ``ImageGrid`` panel.
    var colorBars: [Rect] = []
}

/// The drawing state shared by one rendering pass: a Cairo context, its text engine and the theme.
/// Lives only inside a rendering call (Cairo and Pango objects are not `Sendable`).
final class Canvas {
    let cr: OpaquePointer
    let text: TextEngine
    let theme: Theme
    /// Images in SVG are upscaled by whole pixels, since cairo 1.16's SVG output drops the
    /// nearest-neighbour filter.
    let isSVG: Bool

    init(cr: OpaquePointer, theme: Theme) {
        self.cr = cr
        self.theme = theme
        text = TextEngine(cr: cr, theme: theme)
        isSVG = cairo_surface_get_type(cairo_get_target(cr)) == CAIRO_SURFACE_TYPE_SVG
    }

    func setColor(_ c: Color) {
        cairo_set_source_rgba(cr, c.red, c.green, c.blue, c.alpha)
    }

    func rectangle(_ r: Rect) {
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
    }

    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double, color: Color) {
        cairo_new_path(cr)
        cairo_move_to(cr, x0, y0)
        cairo_line_to(cr, x1, y1)
        cairo_set_line_width(cr, width)
        setColor(color)
        cairo_stroke(cr)
    }
}

/// The line over a panel: its letter "(a)" at the left, its title centred.
struct PanelHeader {
    var title: TextBlock?
    var letter: TextBlock?

    var height: Double { Swift.max(title?.height ?? 0, letter?.height ?? 0) }
}

extension Canvas {
    func panelHeader(title: Label?, letter: Label?) -> PanelHeader {
        PanelHeader(title: title.map { text.block($0, .title) }, letter: letter.map { text.block($0, .title) })
    }

    /// Draws the header at the top of `frame`, the title centred on `centreX` but kept inside
    /// the frame and clear of the letter.
    func drawHeader(_ header: PanelHeader, frame: Rect, centreX: Double) {
        var left = frame.x
        if let letter = header.letter {
            text.draw(letter, x: frame.x, y: frame.y, anchor: .topLeft, color: theme.foreground)
            left += letter.width + theme.padding * 2
        }
        if let title = header.title {
            let x = Swift.min(Swift.max(centreX, left + title.width / 2), frame.maxX - title.width / 2)
            text.draw(title, x: x, y: frame.y, anchor: .topCenter, color: theme.foreground)
        }
    }
}

/// Draws ``Figure``s on Cairo contexts: the one renderer behind PNG, SVG, PDF and report pages.
enum Renderer {
    /// Horizontal and vertical gaps between panels, in points.
    static let panelGap = (horizontal: 14.0, vertical: 10.0)

    /// Validates `figure`, then draws it with its top-left corner at (x, y) of `cr`'s user space
    /// (1 unit = 1 pt).
    ///
    /// - Parameters:
    ///   - clip: clip drawing to the canvas (on for all outputs; tests switch it off to check that
    ///     the layout itself stays inside).
    /// - Returns: the geometry of each panel, relative to (x, y).
    /// - Throws: ``PlotError`` for invalid figures or a Cairo error.
    @discardableResult
    static func draw(_ figure: Figure, on cr: OpaquePointer, x: Double, y: Double, clip: Bool = true) throws -> [PanelGeometry] {
        try figure.validate()
        cairo_save(cr)
        cairo_translate(cr, x, y)
        if clip {
            cairo_rectangle(cr, 0, 0, figure.width, figure.height)
            cairo_clip(cr)
        }
        let canvas = Canvas(cr: cr, theme: figure.theme)
        let theme = figure.theme
        if theme.background.alpha > 0 {
            canvas.setColor(theme.background)
            cairo_rectangle(cr, 0, 0, figure.width, figure.height)
            cairo_fill(cr)
        }
        var area = Rect(x: 0, y: 0, width: figure.width, height: figure.height).insetBy(theme.outerMargin)
        if let title = figure.title {
            let block = canvas.text.block(title, .title)
            canvas.text.draw(block, x: area.midX, y: area.y, anchor: .topCenter, color: theme.foreground)
            area.y += block.height + theme.padding * 2
            area.height -= block.height + theme.padding * 2
        }
        let columns = Swift.min(figure.columns, figure.panels.count)
        let rows = (figure.panels.count + columns - 1) / columns
        let cellWidth = (area.width - Double(columns - 1) * panelGap.horizontal) / Double(columns)
        let cellHeight = (area.height - Double(rows - 1) * panelGap.vertical) / Double(rows)
        var geometry: [PanelGeometry] = []
        for (index, panel) in figure.panels.enumerated() {
            let frame = Rect(x: area.x + Double(index % columns) * (cellWidth + panelGap.horizontal),
                             y: area.y + Double(index / columns) * (cellHeight + panelGap.vertical),
                             width: cellWidth, height: cellHeight)
            let letter: Label? = figure.panelLetters ? Label(markup: "(\(Character(UnicodeScalar(UInt8(97 + index % 26)))))") : nil
            switch panel {
            case .axes(let axes):
                geometry.append(canvas.drawAxes(axes, in: frame, letter: letter))
            case .images(let grid):
                geometry.append(canvas.drawImageGrid(grid, in: frame, letter: letter))
            }
        }
        cairo_restore(cr)
        let status = cairo_status(cr)
        if status != CAIRO_STATUS_SUCCESS {
            throw PlotError.cairo(String(cString: cairo_status_to_string(status)))
        }
        return geometry
    }

    /// The figure height at which `grid`, drawn `width` points wide, has no blank band.
    static func naturalHeight(of grid: ImageGrid, width: Double, theme: Theme, figureTitle: Label?) -> Double {
        guard (try? grid.validate()) != nil else { return (width * 0.6).rounded() }
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)
        let cr = cairo_create(surface)!
        defer {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
        }
        let canvas = Canvas(cr: cr, theme: theme)
        var height = 2 * theme.outerMargin
        if let figureTitle {
            height += canvas.text.block(figureTitle, .title).height + theme.padding * 2
        }
        let frame = Rect(x: 0, y: 0, width: width - 2 * theme.outerMargin, height: 1e6)
        height += canvas.imageGridLayout(grid, in: frame, letter: nil).contentHeight
        return height.rounded(.up)
    }
}
