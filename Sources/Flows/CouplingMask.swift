import Tensor

/// Which part of an image a coupling layer conditions on and which part it transforms
/// (RealNVP, Dinh et al. 2017 §3.4; conventions of the reference RESULTS.md "(a)").
public enum Mask: Sendable, Equatable {
    /// m[i, j] = (i + j) mod 2 for parity 0, 1 − that for parity 1, the same for every channel.
    /// m = 1 marks the conditioning pixels; parity 0 transforms the top-left pixel.
    case checkerboard(parity: Int)
    /// Channel halves A = x[:, :C/2], B = x[:, C/2:]. Parity 0 transforms A conditioned on B,
    /// parity 1 transforms B conditioned on A.
    case channel(parity: Int)

    var parity: Int {
        switch self { case .checkerboard(let p), .channel(let p): p }
    }

    /// The checkerboard m of shape (1, 1, H, W) (1 = conditioning); nil for channel masks.
    public func checkerboard(height: Int, width: Int, dtype: DType) -> Tensor? {
        guard case .checkerboard(let p) = self else { return nil }
        var m = [Double](repeating: 0, count: height * width)
        for i in 0..<height { for j in 0..<width { m[i * width + j] = Double((i + j + p) % 2) } }
        return Tensor(m, shape: [1, 1, height, width], dtype: dtype)
    }
}
