import ArgumentParser
import Foundation
import Plot

/// `flowood gallery`: one figure of each chart kind from synthetic, seeded data, to look at.
struct Gallery: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render one figure of each chart kind (synthetic data) as PNG, SVG and PDF.",
        discussion: """
        Writes gallery-<kind>.png/.svg/.pdf into --out for histograms, ROC curves, line charts \
        (with a second y-axis and a log x-axis), grouped bars with error bars, a t-SNE scatter, \
        image grids with colour bars and a two-panel figure. The data are synthetic and fixed by \
        --seed, so the files are the same on every run.
        """)

    @Option(help: "Output directory.")
    var out: String = "figures"

    @Option(help: "Resolution of the PNG files, in dots per inch.")
    var dpi: Double = 300

    @Option(help: "Seed of the synthetic data.")
    var seed: UInt64 = 0

    func validate() throws {
        guard dpi >= 10, dpi <= 1200 else { throw ValidationError("--dpi must be in 10…1200") }
    }

    func run() throws {
        try runReportingErrors {
            let directory = URL(fileURLWithPath: out)
            let formats: [OutputFormat] = [.png(dpi: dpi), .svg, .pdf]
            for (name, figure) in try GalleryFigures.all(seed: seed) {
                try figure.write(to: directory, name: "gallery-\(name)", formats: formats)
                print("wrote \(out)/gallery-\(name).{png,svg,pdf}")
            }
        }
    }
}

/// The gallery's figures, built from seeded synthetic data.
enum GalleryFigures {
    static func all(seed: UInt64) throws -> [(String, Figure)] {
        var rng = SplitMix64(seed: seed)
        let histogram = try histogram(using: &rng)
        let roc = try roc(using: &rng)
        return [
            ("histogram", Figure(histogram, height: 210)),
            ("histogram-step", Figure(try stepHistogram(using: &rng), width: Figure.halfTextWidth, height: 170)),
            ("roc", Figure(roc, width: Figure.halfTextWidth, height: 210)),
            ("lines-epochs", Figure(try epochs(using: &rng), height: 200)),
            ("lines-pca", Figure(try pcaDimensions(), width: Figure.halfTextWidth, height: 180)),
            ("bars", Figure(try bars(), height: 200)),
            ("tsne", Figure(try tsne(using: &rng), width: 300, height: 250)),
            ("images-samples", Figure(try samples(using: &rng))),
            ("images-coupling", Figure(try coupling(using: &rng))),
            ("images-latents", Figure(try latents(using: &rng), width: Figure.halfTextWidth)),
            ("two-panels", Figure(panels: [.axes(histogram), .axes(roc)], columns: 2, height: 190, panelLetters: true)),
        ]
    }

    static func normal(_ count: Int, mean: Double, sd: Double, using rng: inout SplitMix64) -> [Double] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
            return mean + sd * sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
        }
    }

    /// The failure the first paper is about: OOD data (MNIST) gets *lower* bits per dimension.
    static func histogram(using rng: inout SplitMix64) throws -> Axes {
        try Axes.histogram(of: [
            HistogramDataset("FashionMNIST (train)", values: normal(4000, mean: 2.90, sd: 0.22, using: &rng)),
            HistogramDataset("FashionMNIST (test)", values: normal(2000, mean: 2.95, sd: 0.25, using: &rng)),
            HistogramDataset("MNIST (OOD)", values: normal(2000, mean: 1.85, sd: 0.18, using: &rng)),
        ], bins: .count(60), xLabel: "Bits per dimension")
    }

    static func stepHistogram(using rng: inout SplitMix64) throws -> Axes {
        try Axes.histogram(of: [
            HistogramDataset("CIFAR-10", values: normal(3000, mean: -7400, sd: 350, using: &rng)),
            HistogramDataset(.plain("SVHN & CelebA"), values: normal(3000, mean: -5200, sd: 420, using: &rng)),
        ], bins: .count(40), normalization: .count, style: .step, xLabel: "log <i>p</i>(<b>x</b>)  [nats]")
    }

    static func roc(using rng: inout SplitMix64) throws -> Axes {
        let inDistribution = normal(1500, mean: 0, sd: 1, using: &rng)
        return try Axes.roc([
            ROCCurve("−log <i>p</i>(<b>x</b>)", positives: normal(1500, mean: -1.4, sd: 0.9, using: &rng), negatives: inDistribution),
            ROCCurve("Latent density", positives: normal(1500, mean: 1.8, sd: 1.1, using: &rng), negatives: inDistribution),
            ROCCurve("Likelihood ratio", positives: normal(1500, mean: 0.9, sd: 1, using: &rng), negatives: inDistribution),
        ])
    }

    static func epochs(using rng: inout SplitMix64) throws -> Axes {
        let epochs = (1...30).map(Double.init)
        let train = epochs.map { 3.6 * exp(-$0 / 6) + 1.05 + 0.02 * Double.random(in: -1...1, using: &rng) }
        let test = epochs.map { 3.5 * exp(-$0 / 6) + 1.12 + 0.004 * $0 + 0.03 * Double.random(in: -1...1, using: &rng) }
        let auroc = epochs.map { 0.95 - 0.45 * exp(-$0 / 5) + 0.01 * Double.random(in: -1...1, using: &rng) }
        return try Axes.lines([
            LineSeries("Train loss", x: epochs, y: train),
            LineSeries("Test loss", x: epochs, y: test, dash: .dashed),
            LineSeries("AUROC (MNIST)", x: epochs, y: auroc, axis: .secondary),
        ], xLabel: "Epoch", yLabel: "Loss (bits/dim)", secondaryYLabel: "AUROC", legend: .automatic)
    }

    static func pcaDimensions() throws -> Axes {
        let dims: [Double] = [2, 4, 8, 16, 32, 64, 128, 256, 512]
        return try Axes.lines([
            LineSeries("MNIST", x: dims, y: dims.map { 0.99 - 0.35 * exp(-log2($0) / 2.2) }),
            LineSeries("KMNIST", x: dims, y: dims.map { 0.97 - 0.40 * exp(-log2($0) / 2.5) }),
            LineSeries("Omniglot", x: dims, y: dims.map { 0.93 - 0.30 * exp(-log2($0) / 3) }),
        ], xLabel: "PCA dimension <i>k</i>", yLabel: "AUROC", xScale: .log, grid: true, legend: .inside(.lowerRight))
    }

    static func bars() throws -> Axes {
        try Axes.groupedBars(categories: ["MNIST", "KMNIST", "NotMNIST", "Omniglot"], series: [
            BarSeries("Likelihood", values: [0.08, 0.36, 0.74, 0.12], errors: [0.02, 0.04, 0.05, 0.03]),
            BarSeries("Likelihood ratio", values: [0.94, 0.81, 0.88, 0.79], errors: [0.01, 0.03, 0.02, 0.04]),
            BarSeries("Latent density (LDE)", values: [0.99, 0.93, 0.95, 0.97], errors: [0.005, 0.02, 0.01, 0.01]),
        ], yLabel: "AUROC", xLabel: "OOD dataset", yLimits: 0...1.05, legend: .above)
    }

    static func tsne(using rng: inout SplitMix64) throws -> Axes {
        let names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        var points: [[Double]] = []
        var categories: [Int] = []
        let dim = 16
        for k in 0..<names.count {
            let centre = (0..<dim).map { _ in Double.random(in: -4...4, using: &rng) }
            for _ in 0..<45 {
                points.append(centre.map { $0 + normal(1, mean: 0, sd: 1, using: &rng)[0] })
                categories.append(k)
            }
        }
        let embedding = try TSNE(perplexity: 30, iterations: 750).embed(points, using: &rng)
        return try Axes.scatter(x: embedding.x, y: embedding.y, categories: categories,
                                categoryNames: names.map { Label.plain($0) }, legend: .right)
    }

    /// Smooth synthetic "samples": a few Gaussian blobs on a dark background.
    static func blobImage(size: Int, using rng: inout SplitMix64) -> PlotImage {
        let blobs = (0..<3).map { _ in
            (Double.random(in: 6...22, using: &rng), Double.random(in: 6...22, using: &rng), Double.random(in: 2.5...6, using: &rng))
        }
        var pixels = [Double](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                let v = blobs.reduce(0.0) { sum, b in
                    let d = (Double(x) - b.0) * (Double(x) - b.0) + (Double(y) - b.1) * (Double(y) - b.1)
                    return sum + exp(-d / (2 * b.2 * b.2))
                }
                pixels[y * size + x] = Swift.min(1, v)
            }
        }
        return PlotImage(width: size, height: size, pixels: pixels)
    }

    static func samples(using rng: inout SplitMix64) throws -> ImageGrid {
        let temperatures = ["0.5", "0.7", "1.0"]
        let rows = temperatures.map { _ in (0..<8).map { _ -> PlotImage? in blobImage(size: 28, using: &rng) } }
        return try ImageGrid(rows, rowLabels: temperatures.map { "<i>T</i> = \($0)" }, colorBar: true,
                             colorBarLabel: "Intensity", title: "Samples at temperature <i>T</i>")
    }

    /// Latent channels z of two inputs, on one shared symmetric scale.
    static func latents(using rng: inout SplitMix64) throws -> ImageGrid {
        let rows = ["FashionMNIST", "MNIST"].map { _ in
            (0..<4).map { _ -> PlotImage? in
                PlotImage(width: 14, height: 14, pixels: normal(196, mean: 0, sd: 1, using: &rng))
            }
        }
        return try ImageGrid(rows, rowLabels: ["FashionMNIST", "MNIST"], columnLabels: (1...4).map { "<i>z</i><sub>\($0)</sub>" },
                             colorMap: .diverging, range: .symmetric, colorBar: true, colorBarLabel: "<i>z</i> ~ 𝒩(0, <i>I</i>)",
                             title: "Latent channels (σ = 1)")
    }

    static func coupling(using rng: inout SplitMix64) throws -> ImageGrid {
        let layers = 5
        var s: [PlotImage?] = [], t: [PlotImage?] = []
        for layer in 0..<layers {
            let base = blobImage(size: 28, using: &rng)
            let scale = 0.4 + 0.5 * Double(layer)
            // Checkerboard-masked activations: half the pixels pass through untouched (0).
            let masked = base.pixels.enumerated().map { i, v in ((i / 28 + i % 28 + layer) % 2 == 0) ? 0 : scale * (v - 0.35) }
            s.append(PlotImage(width: 28, height: 28, pixels: masked))
            t.append(PlotImage(width: 28, height: 28, pixels: masked.enumerated().map { i, v in -1.6 * v + 0.05 * Double(i % 7) * (v == 0 ? 0 : 1) }))
        }
        return try ImageGrid([s, t], rowLabels: ["<i>s</i>", "<i>t</i>"], columnLabels: (1...layers).map { "Layer \($0)" },
                             colorMap: .diverging, range: .symmetric, scope: .row, colorBar: true,
                             title: "Coupling-layer scale <i>s</i> and translation <i>t</i> (σ-bounded, μ-centred)")
    }
}
