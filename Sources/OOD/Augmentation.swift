import Tensor

extension LabeledImages {
    /// The images at `indices` as a (B, 1, height, width) tensor with values p / 255, each
    /// randomly shifted and flipped: the standard light augmentation for 28×28 classifiers
    /// (random crop with 2-pixel zero padding, and horizontal flips).
    ///
    /// Per image, dx and dy are uniform on {−maxShift, …, maxShift} and a horizontal flip
    /// happens with probability ½ (drawn in that order); output pixel (y, x) is source pixel
    /// (y − dy, x̃ − dx) with x̃ = width − 1 − x when flipped, else x, and 0 where that falls
    /// outside the image.
    /// - Parameters:
    ///   - indices: image indices in 0..<count, in batch order.
    ///   - maxShift: the largest shift in pixels (2 by default).
    ///   - flips: whether horizontal flips are drawn.
    ///   - rng: the source of the shifts and flips.
    public func augmentedTensor(indices: some Collection<Int>, maxShift: Int = 2, flips: Bool = true,
                                using rng: inout some RandomNumberGenerator) -> Tensor {
        precondition(maxShift >= 0, "augmentedTensor: maxShift \(maxShift)")
        let h = height, w = width, pixels = h * w
        var values = [Float](repeating: 0, count: indices.count * pixels)
        for (b, i) in indices.enumerated() {
            precondition(i >= 0 && i < count, "augmentedTensor: index \(i) out of 0..<\(count)")
            let dx = Int.random(in: -maxShift...maxShift, using: &rng)
            let dy = Int.random(in: -maxShift...maxShift, using: &rng)
            let flip = flips && Bool.random(using: &rng)
            let src = i * pixels, dst = b * pixels
            for y in 0..<h {
                let sy = y - dy
                guard sy >= 0 && sy < h else { continue }
                for x in 0..<w {
                    let sx = (flip ? w - 1 - x : x) - dx
                    guard sx >= 0 && sx < w else { continue }
                    values[dst + y * w + x] = Float(images[src + sy * w + sx]) / 255
                }
            }
        }
        return Tensor(values, shape: [indices.count, 1, h, w])
    }
}
