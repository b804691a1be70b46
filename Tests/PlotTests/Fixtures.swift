import Foundation
import Testing
@testable import Plot

/// Small figures of every chart kind, built from fixed data (no randomness beyond a seeded
/// SplitMix64), shared by the rendering, determinism and snapshot tests.
enum Fixtures {
    static func normal(_ count: Int, mean: Double, sd: Double, using rng: inout SplitMix64) -> [Double] {
        (0..<count).map { _ in mean + sd * gaussian(using: &rng) }
    }

    static func histogram() throws -> Figure {
        var rng = SplitMix64(seed: 1)
        let axes = try Axes.histogram(of: [
            HistogramDataset("In-distribution", values: normal(300, mean: -2.0, sd: 0.5, using: &rng)),
            HistogramDataset("OOD", values: normal(300, mean: 0.5, sd: 0.7, using: &rng)),
        ], bins: .count(20), xLabel: "log <i>p</i>(<b>x</b>)")
        return Figure(axes, width: 240, height: 150)
    }

    static func roc() throws -> Figure {
        let curve = try ROCCurve("Flow", positives: [0.9, 0.8, 0.7, 0.4, 0.35], negatives: [0.1, 0.3, 0.5, 0.6, 0.2])
        return Figure(try Axes.roc([curve]), width: 180, height: 170)
    }

    static func lines() throws -> Figure {
        let epochs: [Double] = [1, 2, 3, 4, 5, 6]
        let axes = try Axes.lines([
            LineSeries("Loss", x: epochs, y: [3.1, 2.4, 2.0, 1.8, 1.7, 1.65]),
            LineSeries("AUROC", x: epochs, y: [0.61, 0.72, 0.80, 0.84, 0.86, 0.87], axis: .secondary),
        ], xLabel: "Epoch", yLabel: "Loss", secondaryYLabel: "AUROC")
        return Figure(axes, width: 240, height: 150)
    }

    static func logLines() throws -> Figure {
        let dims: [Double] = [2, 8, 32, 128, 512]
        let axes = try Axes.lines([LineSeries("MNIST", x: dims, y: [0.7, 0.8, 0.9, 0.95, 0.97])],
                                  xLabel: "PCA dimension", yLabel: "AUROC", xScale: .log)
        return Figure(axes, width: 200, height: 140)
    }

    /// Large magnitudes on a linear x-axis, eight decades on a log y-axis.
    static func scientific() throws -> Figure {
        let x: [Double] = [-3e12, -1e12, 1e12, 4e12]
        let axes = try Axes.lines([LineSeries("σ<sub>max</sub>", x: x, y: [1e-6, 1e-3, 1, 1e2])],
                                  xLabel: "<i>n</i>", yLabel: "𝒩 error", yScale: .log)
        return Figure(axes, width: 220, height: 150)
    }

    static func bars() throws -> Figure {
        let axes = try Axes.groupedBars(categories: ["MNIST", "KMNIST", "Omniglot"], series: [
            BarSeries("Likelihood", values: [0.1, 0.4, 0.2], errors: [0.02, 0.03, 0.01]),
            BarSeries("LDE", values: [0.95, 0.9, 0.97], errors: [0.01, 0.02, 0.01]),
        ], yLabel: "AUROC", yLimits: 0...1)
        return Figure(axes, width: 240, height: 150)
    }

    static func scatter() throws -> Figure {
        var rng = SplitMix64(seed: 2)
        let x = normal(40, mean: 0, sd: 1, using: &rng) + normal(40, mean: 5, sd: 1, using: &rng)
        let y = normal(80, mean: 0, sd: 1, using: &rng)
        let categories = (0..<80).map { $0 < 40 ? 0 : 1 }
        let axes = try Axes.scatter(x: x, y: y, categories: categories, categoryNames: ["Train", "OOD"])
        return Figure(axes, width: 200, height: 160)
    }

    /// A 4 × 4 image whose pixels are 0, 1/15, …, 1 in reading order.
    static let ramp = PlotImage(width: 4, height: 4, pixels: (0..<16).map { Double($0) / 15 })

    static func images() throws -> Figure {
        let signed = PlotImage(width: 4, height: 4, pixels: (0..<16).map { Double($0 - 8) / 4 })
        let grid = try ImageGrid([[ramp, signed], [signed, nil]], rowLabels: ["<i>s</i>", "<i>t</i>"],
                                 columnLabels: ["Layer 1", "Layer 2"], colorMap: .diverging, range: .symmetric,
                                 scope: .row, colorBar: true)
        return Figure(grid, width: 200)
    }

    static func rgbImages() throws -> Figure {
        let rgb = PlotImage(width: 2, height: 2, rgb: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1])
        return Figure(try ImageGrid([[rgb, rgb]]), width: 120)
    }

    static func panels() throws -> Figure {
        guard case .axes(let h) = try histogram().panels[0], case .axes(let r) = try roc().panels[0] else {
            throw PlotError.empty("fixture")
        }
        return Figure(panels: [.axes(h), .axes(r)], columns: 2, width: 400, height: 160, title: "Two panels",
                      panelLetters: true)
    }

    /// Every chart kind, by name.
    static func all() throws -> [(String, Figure)] {
        [("histogram", try histogram()), ("roc", try roc()), ("lines", try lines()), ("log-lines", try logLines()),
         ("scientific", try scientific()),
         ("bars", try bars()), ("scatter", try scatter()), ("images", try images()), ("rgb-images", try rgbImages()),
         ("panels", try panels())]
    }
}

/// Compares `actual` with the recorded file `Snapshots/<name>`; with FLOWOOD_RECORD_SNAPSHOTS=1
/// in the environment it (re)records the file instead and records an issue so the run is not
/// mistaken for a pass.
func expectSnapshot(_ actual: Data, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["FLOWOOD_RECORD_SNAPSHOTS"] == "1" {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try actual.write(to: file)
        Issue.record("recorded snapshot \(name); unset FLOWOOD_RECORD_SNAPSHOTS and rerun", sourceLocation: sourceLocation)
        return
    }
    guard let recorded = FileManager.default.contents(atPath: file.path) else {
        Issue.record("no snapshot \(name); run with FLOWOOD_RECORD_SNAPSHOTS=1 to record it", sourceLocation: sourceLocation)
        return
    }
    if actual != recorded {
        let a = String(decoding: actual, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let r = String(decoding: recorded, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(a, r).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? Swift.min(a.count, r.count)
        let show = { (lines: [Substring]) in line < lines.count ? String(lines[line].prefix(200)) : "(end of file)" }
        Issue.record("snapshot \(name) differs at line \(line + 1):\n  actual:   \(show(a))\n  recorded: \(show(r))",
                     sourceLocation: sourceLocation)
    }
}

/// Expects `body` to throw a ``PlotError`` whose description contains every string in `fragments`.
func expectPlotError(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error thrown; expected one mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let error as PlotError {
        for fragment in fragments where !error.description.contains(fragment) {
            Issue.record("error '\(error)' does not mention '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("threw \(type(of: error)) \(error); expected a PlotError", sourceLocation: sourceLocation)
    }
}
