/// The look of a figure: fonts, sizes in points, line widths, colours and frame style.
///
/// All lengths are in PostScript points (1/72 in), the unit of the figure itself, so a figure
/// designed at ``Figure/textWidth`` drops into a one-column A4/letter page at 100 % scale and
/// its text matches the report's body text. ``paper`` uses Latin Modern (the report's font);
/// ``sans`` uses DejaVu Sans for slides and screen.
public struct Theme: Sendable, Hashable {
    /// How the plot area is framed.
    public enum Frame: Sendable, Hashable {
        /// Left and bottom spines only (plus the right one when there is a second y-axis).
        case open
        /// All four spines.
        case box
    }

    /// Font family of all text, e.g. `"Latin Modern Roman"` or `"DejaVu Sans"`.
    public var fontFamily: String
    /// Families tried, in order, for characters the main family lacks (Greek, 𝒩, −).
    public var fallbackFamilies: [String]
    /// Size of axis labels and legend text, in points.
    public var fontSize: Double
    /// Size of tick labels, in points.
    public var tickFontSize: Double
    /// Size of panel and figure titles, in points.
    public var titleFontSize: Double
    /// Width of data lines and step outlines, in points.
    public var lineWidth: Double
    /// Width of spines, ticks and error bars, in points.
    public var axisLineWidth: Double
    /// Length of major ticks, in points (minor ticks are 60 % of it).
    public var tickLength: Double
    /// Diameter of line-chart markers, in points.
    public var markerSize: Double
    /// Diameter of scatter-plot points, in points.
    public var pointSize: Double
    /// Gap between a text item and what it labels, in points.
    public var padding: Double
    /// Margin left free around the whole figure, in points.
    public var outerMargin: Double
    /// Categorical colours given to series in order.
    public var palette: Palette
    /// Canvas colour (use ``Color/clear`` for a transparent PNG).
    public var background: Color
    /// Colour of text, spines and ticks.
    public var foreground: Color
    /// Colour of grid lines.
    public var gridColor: Color
    /// Opacity of the fill of filled histograms.
    public var fillOpacity: Double
    /// Frame style of the plot area.
    public var frame: Frame

    /// A theme from all of its settings; start from ``paper`` or ``sans`` and change fields instead.
    public init(fontFamily: String, fallbackFamilies: [String], fontSize: Double, tickFontSize: Double,
                titleFontSize: Double, lineWidth: Double, axisLineWidth: Double, tickLength: Double,
                markerSize: Double, pointSize: Double, padding: Double, outerMargin: Double, palette: Palette,
                background: Color, foreground: Color, gridColor: Color, fillOpacity: Double, frame: Frame) {
        self.fontFamily = fontFamily
        self.fallbackFamilies = fallbackFamilies
        self.fontSize = fontSize
        self.tickFontSize = tickFontSize
        self.titleFontSize = titleFontSize
        self.lineWidth = lineWidth
        self.axisLineWidth = axisLineWidth
        self.tickLength = tickLength
        self.markerSize = markerSize
        self.pointSize = pointSize
        self.padding = padding
        self.outerMargin = outerMargin
        self.palette = palette
        self.background = background
        self.foreground = foreground
        self.gridColor = gridColor
        self.fillOpacity = fillOpacity
        self.frame = frame
    }

    /// Latin Modern Roman at 9 pt (tick labels 8 pt), Paul Tol's bright palette, open frame:
    /// matches the PDF report's body text.
    public static let paper = Theme(
        fontFamily: "Latin Modern Roman", fallbackFamilies: ["Latin Modern Math", "DejaVu Serif"],
        fontSize: 9, tickFontSize: 8, titleFontSize: 9.5, lineWidth: 1.2, axisLineWidth: 0.6, tickLength: 3,
        markerSize: 4, pointSize: 2.6, padding: 3, outerMargin: 2, palette: .tolBright,
        background: .white, foreground: Color(hex: 0x1A1A1A), gridColor: Color(hex: 0xE3E3E3),
        fillOpacity: 0.35, frame: .open)

    /// DejaVu Sans at 8 pt (tick labels 7 pt); otherwise as ``paper``.
    public static let sans: Theme = {
        var theme = Theme.paper
        theme.fontFamily = "DejaVu Sans"
        theme.fallbackFamilies = ["DejaVu Serif", "Latin Modern Math"]
        theme.fontSize = 8
        theme.tickFontSize = 7
        theme.titleFontSize = 8.5
        return theme
    }()

    /// The Pango family list: the main family, then the fallbacks.
    var familyList: String {
        ([fontFamily] + fallbackFamilies).joined(separator: ",")
    }
}
