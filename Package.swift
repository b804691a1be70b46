// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "FlowOOD",
    platforms: [.macOS(.v15)],
    // MARK: - Public API
    products: [
        .executable(name: "flowood", targets: ["flowood"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Flows", targets: ["Flows"]),
        .library(name: "OOD", targets: ["OOD"]),
        .library(name: "Plot", targets: ["Plot"]),
        .library(name: "Report", targets: ["Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
    ],
    targets: [
        // MARK: - C libraries (module maps + shims only; no logic)
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"]), .brew(["cairo"])]),
        .systemLibrary(name: "CPangoCairo", pkgConfig: "pangocairo",
                       providers: [.apt(["libpango1.0-dev"]), .brew(["pango"])]),
        .systemLibrary(name: "CCmarkGFM", pkgConfig: "libcmark-gfm",
                       providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"]), .brew(["cmark-gfm"])]),

        // MARK: - Numerics
        .target(name: "Tensor", dependencies: [
            .target(name: "CBLAS", condition: .when(platforms: [.linux])),
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        .target(name: "NN", dependencies: ["Tensor"]),
        .target(name: "Flows", dependencies: ["Tensor", "NN"]),
        .target(name: "OOD", dependencies: ["Tensor", "NN", "Flows", "CZlib"]),

        // MARK: - Figures (plain arrays and images in, Cairo/Pango out; no Tensor)
        .target(name: "Plot", dependencies: ["CCairo", "CPangoCairo"]),

        // MARK: - Report (chapters -> directives -> experiment graph + cache -> HTML / PDF)
        .target(name: "Report", dependencies: [
            "Tensor", "NN", "Flows", "OOD", "Plot", "CCairo", "CPangoCairo", "CCmarkGFM",
            .product(name: "SwiftParser", package: "swift-syntax"),
            .product(name: "SwiftSyntax", package: "swift-syntax"),
        ]),

        // MARK: - Tools
        .target(name: "FlowOODCLI", dependencies: [
            "Tensor", "NN", "Flows", "OOD", "Plot", "Report", "CCairo", "CPangoCairo", "CCmarkGFM",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "flowood", dependencies: ["FlowOODCLI", "Tensor"]),

        // MARK: - Tests
        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "TestSupport"]),
        .testTarget(name: "FlowsTests", dependencies: ["Flows", "NN", "Tensor", "TestSupport"]),
        .testTarget(name: "OODTests", dependencies: ["OOD", "NN", "Tensor", "CZlib", "TestSupport"]),
        .testTarget(name: "FlowOODCLITests", dependencies: ["FlowOODCLI", "NN", "OOD", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Plot", "TestSupport"],
                    exclude: ["Snapshots"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot", "TestSupport"], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v6]
)
