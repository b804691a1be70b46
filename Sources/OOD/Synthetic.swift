import Tensor

/// Synthetic out-of-distribution sets: noise and constant images, and transformed copies of a
/// data set. Generated sets have all labels 0; transformed sets keep their labels.
///
/// These follow the usual sanity-check sets of the OOD literature (e.g. Nalisnick et al. 2019,
/// "Do deep generative models know what they don't know?", which uses constant and noise inputs,
/// and vertically flipped / inverted images as near-OOD variants).
public enum Synthetic {
    /// `count` images whose pixels are independent draws p = clip(round(mean + std · z), 0, 255),
    /// z ~ N(0, 1).
    /// - Parameters:
    ///   - mean, std: in pixel units (0…255); `std` ≥ 0.
    ///   - rng: the source of randomness (Box–Muller normals via `nextNormal()`).
    public static func gaussianNoise(count: Int, height: Int = 28, width: Int = 28,
                                     mean: Double = 127.5, std: Double = 64,
                                     using rng: inout some RandomNumberGenerator) -> LabeledImages {
        precondition(count >= 0 && std >= 0, "Synthetic.gaussianNoise: count \(count), std \(std)")
        let pixels = (0..<(count * height * width)).map { _ in
            UInt8(min(255, max(0, (mean + std * rng.nextNormal()).rounded())))
        }
        return LabeledImages(images: pixels, labels: [UInt8](repeating: 0, count: count), height: height, width: width)
    }

    /// `count` images whose pixels are independent and uniform on the integers 0…255.
    public static func uniformNoise(count: Int, height: Int = 28, width: Int = 28,
                                    using rng: inout some RandomNumberGenerator) -> LabeledImages {
        precondition(count >= 0, "Synthetic.uniformNoise: count \(count)")
        let pixels = (0..<(count * height * width)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return LabeledImages(images: pixels, labels: [UInt8](repeating: 0, count: count), height: height, width: width)
    }

    /// `count` constant images: image i has every pixel equal to c_i, c_i uniform on 0…255.
    public static func constant(count: Int, height: Int = 28, width: Int = 28,
                                using rng: inout some RandomNumberGenerator) -> LabeledImages {
        precondition(count >= 0, "Synthetic.constant: count \(count)")
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count * height * width)
        for _ in 0..<count {
            pixels += repeatElement(UInt8.random(in: 0...255, using: &rng), count: height * width)
        }
        return LabeledImages(images: pixels, labels: [UInt8](repeating: 0, count: count), height: height, width: width)
    }

    /// The images with intensities inverted: p ↦ 255 − p. Labels kept.
    public static func inverted(_ set: LabeledImages) -> LabeledImages {
        LabeledImages(images: set.images.map { 255 - $0 }, labels: set.labels, height: set.height, width: set.width)
    }

    /// The images flipped upside down: row y ↦ row height − 1 − y. Labels kept.
    public static func verticallyFlipped(_ set: LabeledImages) -> LabeledImages {
        let h = set.height, w = set.width
        var out = [UInt8](repeating: 0, count: set.images.count)
        for i in 0..<set.count {
            for y in 0..<h {
                let from = (i * h + y) * w, to = (i * h + (h - 1 - y)) * w
                out.replaceSubrange(to..<(to + w), with: set.images[from..<(from + w)])
            }
        }
        return LabeledImages(images: out, labels: set.labels, height: h, width: w)
    }

    /// A random subset of `size` distinct images (without replacement, order random). Labels kept.
    public static func sample(_ set: LabeledImages, size: Int,
                              using rng: inout some RandomNumberGenerator) -> LabeledImages {
        precondition(size >= 0 && size <= set.count, "Synthetic.sample: \(size) of \(set.count)")
        var indices = Array(0..<set.count)
        for k in 0..<size { indices.swapAt(k, Int.random(in: k..<set.count, using: &rng)) }
        let pixels = set.height * set.width
        var out: [UInt8] = []
        out.reserveCapacity(size * pixels)
        for i in indices.prefix(size) { out += set.images[(i * pixels)..<((i + 1) * pixels)] }
        return LabeledImages(images: out, labels: indices.prefix(size).map { set.labels[$0] },
                             height: set.height, width: set.width)
    }
}
