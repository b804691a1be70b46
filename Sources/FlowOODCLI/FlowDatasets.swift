import Foundation
import Tensor
import Flows
import OOD

/// The data set names `train-flow` and `score` accept (all 1×28×28 grey images, pixel / 255).
let flowDatasetNames = [
    "fashion-mnist-train", "fashion-mnist-test", "digits", "textures", "photos",
    "gaussian-noise", "uniform-noise", "constant", "fashion-mnist-inverted", "fashion-mnist-flipped",
]

/// How many images the generated sets (noise, constant, texture and photo crops) have without --subset.
let generatedSetSize = 2000

/// Loads a data set by name; the only place that maps names to loaders.
///
/// `subset` keeps the first N images of a stored set, or sets the size of a generated one
/// (default `generatedSetSize`). `dataDir` acts like FLOWOOD_DATA (a root with fashion-mnist/,
/// sklearn-digits/, skimage/ subfolders, or the FashionMNIST files themselves). Generated sets
/// draw from `SeededGenerator(seed:)`; the inverted and flipped sets transform the test split.
func loadFlowDataset(named name: String, subset: Int?, dataDir: String?, seed: UInt64) throws -> LabeledImages {
    let env = dataDir.map { [FashionMNIST.environmentVariable: $0] } ?? ProcessInfo.processInfo.environment
    let count = subset ?? generatedSetSize
    var rng = SeededGenerator(seed: seed)
    let fmnist = { (split: FashionMNIST.Split) in try FashionMNIST.load(split, directory: FashionMNIST.directory(override: nil, environment: env)) }
    let images: LabeledImages
    switch name {
    case "fashion-mnist-train": images = try fmnist(.train)
    case "fashion-mnist-test": images = try fmnist(.test)
    case "fashion-mnist-inverted": images = Synthetic.inverted(try fmnist(.test))
    case "fashion-mnist-flipped": images = Synthetic.verticallyFlipped(try fmnist(.test))
    case "digits": images = try Digits.load(path: Digits.path(environment: env)).mnistStyle()
    case "textures": return try SkimageCrops.textures(count: count, directory: SkimageCrops.directory(environment: env), using: &rng)
    case "photos": return try SkimageCrops.photos(count: count, directory: SkimageCrops.directory(environment: env), using: &rng)
    case "gaussian-noise": return Synthetic.gaussianNoise(count: count, using: &rng)
    case "uniform-noise": return Synthetic.uniformNoise(count: count, using: &rng)
    case "constant": return Synthetic.constant(count: count, using: &rng)
    default:
        throw UserError("unknown data set '\(name)'; available: \(flowDatasetNames.joined(separator: ", "))")
    }
    guard let subset, subset < images.count else { return images }
    let pixels = images.height * images.width
    return LabeledImages(images: Array(images.images[..<(subset * pixels)]), labels: Array(images.labels[..<subset]),
                         height: images.height, width: images.width)
}

/// The images as samples for a flow of `kind`: (1, H, W) images, or vectors of H·W pixels.
func flowData(_ images: LabeledImages, for kind: FlowDataKind, name: String) throws -> FlowData {
    let data = FlowData(count: images.count, sampleShape: [1, images.height, images.width]) { images.tensor(indices: $0) }
    guard data.sampleShape.reduce(1, *) == kind.dimensions else {
        throw UserError("\(name): \(images.height)×\(images.width) images do not fit a model of \(kind.sampleShape) samples")
    }
    return data.sampleShape == kind.sampleShape ? data : data.reshaped(to: kind.sampleShape)
}
