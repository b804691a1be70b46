import Foundation

/// Grey-scale crops of the sample images shipped with scikit-image (`skimage.data`), used as
/// natural-image out-of-distribution sets for 28×28 models.
///
/// Source files, from the Debian package `python3-skimage` at `defaultDirectory` (SHA-256 in
/// `sha256`):
/// - textures: `brick.png`, `grass.png`, `gravel.png` (512×512 grey);
/// - photos: `astronaut.png` (512×512 RGB), `camera.png` (512×512 grey), `chelsea.png`
///   (451×300 RGB), `coffee.png` (600×400 RGB), `coins.png` (384×303 grey), `moon.png`
///   (512×512 grey) — all six are required.
///
/// Deviation from the photo list: `rocket` is shipped only as `rocket.jpg` and FlowOOD
/// has no JPEG decoder (only `PNG`), so the photos set uses the six PNG photographs above.
///
/// Crops are taken at the files' native resolution (no rescaling); colour becomes grey by
/// `PNG`'s BT.601 luma. The label of a crop is the index of its source in the file list.
public enum SkimageCrops {
    /// Where `python3-skimage` installs its sample images.
    public static let defaultDirectory = "/usr/lib/python3/dist-packages/skimage/data"

    /// The subfolder of a `FLOWOOD_DATA` data root that may hold the PNG files.
    public static let subdirectory = "skimage"

    /// The texture files, in label order.
    public static let textureFiles = ["brick.png", "grass.png", "gravel.png"]

    /// The photo files, in label order; every one must be present (no silent fallback).
    /// `rocket.jpg` is left out: JPEG is not decoded (see the type's documentation).
    public static let photoFiles = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "moon.png"]

    /// SHA-256 of each source file (`sha256sum`, python3-skimage on Debian).
    public static let sha256: [String: String] = [
        "brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
        "grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
        "gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
        "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "coins.png": "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
        "moon.png": "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
    ]

    /// How missing files can be obtained; part of the `.missing` error.
    public static let installHint =
        "the sample images come with scikit-image: install it with `apt-get install python3-skimage` "
        + "or `pip install scikit-image` (then pass its skimage/data directory), or put the PNG files in "
        + "$\(FashionMNIST.environmentVariable)/\(subdirectory)/"

    /// The directory to load from: `override` if given, else `$FLOWOOD_DATA/skimage` when that
    /// directory exists, else `defaultDirectory`.
    /// - Parameters:
    ///   - override: an explicit directory; nil or empty means none.
    ///   - environment: the process environment (injectable for tests).
    public static func directory(
        override: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let override, !override.isEmpty { return override }
        if let root = environment[FashionMNIST.environmentVariable], !root.isEmpty,
           let candidate = DataLocation.subdirectory(subdirectory, of: root) {
            return candidate
        }
        return defaultDirectory
    }

    /// `count` random 28×28 crops of the textures brick, grass and gravel (labels 0, 1, 2).
    /// - Parameters:
    ///   - count: number of crops; crop i comes from texture i mod 3.
    ///   - directory: where the PNG files are; by default `directory()`.
    ///   - rng: draws the crop positions.
    /// - Throws: `DataError` (a file is missing, with `installHint`) or `PNGError`.
    public static func textures(count: Int, directory: String = directory(),
                                using rng: inout some RandomNumberGenerator) throws -> LabeledImages {
        try texturesWithOrigins(count: count, directory: directory, using: &rng).images
    }

    /// `textures(count:directory:using:)` and where each crop lies in its source image.
    public static func texturesWithOrigins(count: Int, directory: String = directory(),
                                           using rng: inout some RandomNumberGenerator) throws -> (images: LabeledImages, origins: [CropOrigin]) {
        let sources = try textureFiles.map { try load($0, directory: directory) }
        return cropsWithOrigins(of: sources, count: count, side: 28, using: &rng)
    }

    /// `count` random 28×28 crops of the six photos in `photoFiles`; the label is the index in
    /// `photoFiles`.
    /// - Parameters:
    ///   - count: number of crops; crop i comes from photo i mod 6.
    ///   - directory: where the PNG files are; by default `directory()`.
    ///   - rng: draws the crop positions.
    /// - Throws: `DataError` naming the first missing photo (with `installHint`), `PNGError`.
    public static func photos(count: Int, directory: String = directory(),
                              using rng: inout some RandomNumberGenerator) throws -> LabeledImages {
        try photosWithOrigins(count: count, directory: directory, using: &rng).images
    }

    /// `photos(count:directory:using:)` and where each crop lies in its source image.
    public static func photosWithOrigins(count: Int, directory: String = directory(),
                                         using rng: inout some RandomNumberGenerator) throws -> (images: LabeledImages, origins: [CropOrigin]) {
        let sources = try photoFiles.map { try load($0, directory: directory) }
        return cropsWithOrigins(of: sources, count: count, side: 28, using: &rng)
    }

    /// Decodes one source file from `directory`.
    /// - Throws: `DataError` (missing, with `installHint`) or `PNGError`.
    public static func load(_ file: String, directory: String) throws -> GreyImage {
        try PNG.read(path: (directory as NSString).appendingPathComponent(file), hint: installHint)
    }

    /// `count` crops of `side`×`side`: crop i is from `sources[i % sources.count]` (its label),
    /// at a top-left corner drawn uniformly from all positions where the crop fits.
    public static func crops(of sources: [GreyImage], count: Int, side: Int,
                             using rng: inout some RandomNumberGenerator) -> LabeledImages {
        cropsWithOrigins(of: sources, count: count, side: side, using: &rng).images
    }

    /// `crops(of:count:side:using:)` and each crop's origin (source index and top-left corner);
    /// the same draws, so the images are identical.
    public static func cropsWithOrigins(of sources: [GreyImage], count: Int, side: Int,
                                        using rng: inout some RandomNumberGenerator) -> (images: LabeledImages, origins: [CropOrigin]) {
        precondition(!sources.isEmpty && count >= 0, "SkimageCrops.crops: \(sources.count) sources, count \(count)")
        for s in sources {
            precondition(s.width >= side && s.height >= side,
                         "SkimageCrops.crops: a \(s.width)×\(s.height) image is smaller than \(side)×\(side)")
        }
        var pixels = [UInt8](repeating: 0, count: count * side * side)
        var labels = [UInt8](repeating: 0, count: count)
        var origins: [CropOrigin] = []
        origins.reserveCapacity(count)
        for i in 0..<count {
            let k = i % sources.count
            let image = sources[k]
            let x0 = Int.random(in: 0...(image.width - side), using: &rng)
            let y0 = Int.random(in: 0...(image.height - side), using: &rng)
            for y in 0..<side {
                let from = (y0 + y) * image.width + x0, to = (i * side + y) * side
                pixels.replaceSubrange(to..<(to + side), with: image.pixels[from..<(from + side)])
            }
            labels[i] = UInt8(k)
            origins.append(CropOrigin(source: k, x: x0, y: y0))
        }
        return (LabeledImages(images: pixels, labels: labels, height: side, width: side), origins)
    }
}

/// Where a crop was taken: the index of its source image in the list cropped from, and the
/// top-left corner (x to the right, y down, in source pixels) of the crop.
public struct CropOrigin: Sendable, Equatable, Codable {
    public var source: Int
    public var x: Int
    public var y: Int
    public init(source: Int, x: Int, y: Int) {
        self.source = source
        self.x = x
        self.y = y
    }
}
