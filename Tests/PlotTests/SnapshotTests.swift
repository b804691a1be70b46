import Foundation
import Testing
@testable import Plot

/// SVG snapshots in Tests/PlotTests/Snapshots/. After a deliberate change to the look of the
/// figures, re-record them with
///
///     FLOWOOD_RECORD_SNAPSHOTS=1 swift test --filter PlotTests.SVGSnapshots
///
/// (the recording run reports issues on purpose), look at the new files, and commit them.
/// The bytes depend on the installed cairo (1.16), Pango (1.50) and fonts (fonts-lmodern).
@Suite struct SVGSnapshots {
    @Test func lineChartWithTwoAxes() throws {
        try expectSnapshot(try Fixtures.lines().svgData(), named: "lines.svg")
    }

    @Test func histogramOverlay() throws {
        try expectSnapshot(try Fixtures.histogram().svgData(), named: "histogram.svg")
    }

    @Test func imageGridWithColourBars() throws {
        try expectSnapshot(try Fixtures.images().svgData(), named: "images.svg")
    }
}
