import Tensor

/// Which part of an image a coupling layer conditions on and which part it transforms
/// (RealNVP, Dinh et al. 2017 §3.4; the half and quadrant masks of Kirichenko et al. 2020 §6
/// and Appendix F; conventions of the reference RESULTS.md "(a)").
///
/// Spatial masks (everything but `.channel`) act on every channel alike and are described by two
/// disjoint 0/1 maps of shape (H, W): the conditioning region c (seen by the s/t network) and the
/// transformed region r (changed by the coupling). Entries outside both pass through unchanged;
/// only `.quadrant` has such entries. Parity 0 always transforms the "first" part (the top-left
/// pixel, the top half, the left half, the first channel half).
///
/// Rows 0..<H/2 are the top half and columns 0..<W/2 the left half (integer division, so for odd
/// sizes the bottom/right part is one row/column larger).
public enum Mask: Sendable, Hashable, Codable {
    /// c[i, j] = (i + j + parity) mod 2, r = 1 − c, the same for every channel.
    /// Parity 0 transforms the top-left pixel.
    case checkerboard(parity: Int)
    /// Channel halves A = x[:, :C/2], B = x[:, C/2:]. Parity 0 transforms A conditioned on B,
    /// parity 1 transforms B conditioned on A.
    case channel(parity: Int)
    /// Top and bottom halves: parity 0 transforms the top half (rows i < H/2) conditioned on the
    /// bottom half, parity 1 the reverse.
    case horizontal(parity: Int)
    /// Left and right halves: parity 0 transforms the left half (columns j < W/2) conditioned on
    /// the right half, parity 1 the reverse.
    case vertical(parity: Int)
    /// Quadrants numbered clockwise: 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
    /// The coupling conditions on quadrant `from` and transforms only quadrant `to`; the other two
    /// quadrants pass unchanged and are not seen by the s/t network (the "cycle" masks of
    /// Kirichenko et al. 2020, Appendix F). `from` ≠ `to`, both in 0...3.
    case quadrant(from: Int, to: Int)

    /// Parity of the half masks; nil for `.quadrant`.
    var parity: Int? {
        switch self {
        case .checkerboard(let p), .channel(let p), .horizontal(let p), .vertical(let p): p
        case .quadrant: nil
        }
    }

    /// True for masks that split pixels (all but `.channel`).
    public var isSpatial: Bool {
        if case .channel = self { return false }
        return true
    }

    /// A readable description of the first problem with the mask's arguments, or nil if valid.
    public var problem: String? {
        switch self {
        case .checkerboard(let p), .channel(let p), .horizontal(let p), .vertical(let p):
            return p == 0 || p == 1 ? nil : "parity \(p) is not 0 or 1"
        case .quadrant(let from, let to):
            if !(0...3).contains(from) || !(0...3).contains(to) { return "quadrants \(from) → \(to) outside 0...3" }
            return from == to ? "quadrant \(from) cannot condition on itself" : nil
        }
    }

    /// The quadrant (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left) holding pixel (i, j).
    public static func quadrant(row i: Int, column j: Int, height: Int, width: Int) -> Int {
        switch (i < height / 2, j < width / 2) {
        case (true, true): 0
        case (true, false): 1
        case (false, false): 2
        case (false, true): 3
        }
    }

    /// Whether pixel (i, j) is conditioned on (c) and whether it is transformed (r).
    /// Nil for `.channel`.
    public func roles(row i: Int, column j: Int, height: Int, width: Int) -> (conditioning: Bool, transformed: Bool)? {
        switch self {
        case .channel:
            return nil
        case .checkerboard(let p):
            let c = (i + j + p) % 2 == 1
            return (c, !c)
        case .horizontal(let p):
            let top = i < height / 2
            return p == 0 ? (!top, top) : (top, !top)
        case .vertical(let p):
            let left = j < width / 2
            return p == 0 ? (!left, left) : (left, !left)
        case .quadrant(let from, let to):
            let q = Mask.quadrant(row: i, column: j, height: height, width: width)
            return (q == from, q == to)
        }
    }

    /// The conditioning map c and the transformed map r, each of shape (1, 1, H, W) with entries
    /// 0 or 1; nil for `.channel`.
    public func spatialMasks(height: Int, width: Int, dtype: DType) -> (conditioning: Tensor, transformed: Tensor)? {
        guard isSpatial else { return nil }
        var c = [Double](repeating: 0, count: height * width), r = c
        for i in 0..<height {
            for j in 0..<width {
                let roles = self.roles(row: i, column: j, height: height, width: width)!
                c[i * width + j] = roles.conditioning ? 1 : 0
                r[i * width + j] = roles.transformed ? 1 : 0
            }
        }
        return (Tensor(c, shape: [1, 1, height, width], dtype: dtype), Tensor(r, shape: [1, 1, height, width], dtype: dtype))
    }

    /// The checkerboard m of shape (1, 1, H, W) (1 = conditioning); nil for other masks.
    public func checkerboard(height: Int, width: Int, dtype: DType) -> Tensor? {
        guard case .checkerboard = self else { return nil }
        return spatialMasks(height: height, width: width, dtype: dtype)!.conditioning
    }
}
