/// Stride-1 "same" convolutions (kh = kw = 2·padding + 1) without unfolding, forward and
/// backward, on chunks of images at once.
///
/// A chunk of `nb` images is copied once into one zero-separated plane per channel: image rows
/// of W values follow each other with a stride of Ws = W + p (p = padding), the p zeros
/// between them serving as the right padding of one row and the left padding of the next,
/// and images follow each other with p zero rows between them (and before the first), so
/// image b's pixel (r, c) sits at p·Ws + p + q with q = (b·(H + p) + r)·Ws + c. On that layout
/// every kernel tap (ki, kj) is a plain shift s = ki·Ws + kj of the grid index q:
///
///     forward:  Y_grid (Cout × N) = Σ_taps W_tap (Cout × Cin) · Xp[:, s ..< s + N]
///     dX:       the same with the packed output gradient and W flipped and transposed
///               (the gradient of a same convolution is a same convolution)
///     dW_tap (Cout × Cin) = G (Cout × N) · Xp[:, s ..< s + N]ᵀ, G = the packed output
///               gradient read from offset p·Ws + p, whose separators make every grid column
///               that is not an output pixel exactly zero
///
/// with N = (nb·(H + p) − p)·Ws grid columns, of which H·W per image are output pixels (87 %
/// at 14×14, 93 % at 28×28 for p = 1); the others are discarded when copying out. Each is nine
/// large GEMMs per chunk instead of an unfolded matrix nine times the size of the input
/// (im2col) and, backward, a scatter of it (col2im).
extension ConvGeometry {
    /// Stride 1 with the padding that keeps H×W ("same"), square odd kernel, not 1×1.
    var isSameStride1: Bool { stride == 1 && kh == kw && kh == 2 * padding + 1 && kh > 1 }
    /// Ws: the row stride of the packed layout.
    var packedRowStride: Int { w + padding }
    /// (H + p)·Ws: the image stride of the packed layout.
    var packedImageStride: Int { (h + padding) * packedRowStride }
    /// p·Ws + p: where grid index 0 (pixel (0, 0) of the first image) sits in a packed row.
    var packedOrigin: Int { padding * packedRowStride + padding }

    /// Images per chunk: about 2^16 elements of the widest packed matrix (256 KiB of Float),
    /// so that the GEMMs' accumulated output stays in a core's L2 cache. Fixed by the image
    /// size alone: forward GEMMs always span a whole chunk, the missing images' columns being
    /// zeros, so an image's output does not depend on its batch (OpenBLAS chooses its kernel,
    /// and so the order of the sums, by the GEMM's shape).
    func chunkImages(channels: Int) -> Int {
        Swift.max(1, (1 << 16) / Swift.max(channels * packedImageStride, 1))
    }

    /// Row length of a packed chunk matrix: the leading separator, nb images with their
    /// separators, and room for the last tap's reads past the end, rounded up to 16 elements.
    func packedRowLength(images nb: Int) -> Int {
        ((nb * (h + padding) + 2 * padding) * packedRowStride + 2 * padding + 15) / 16 * 16
    }

    /// Grid columns computed per chunk of nb images.
    func gridColumns(images nb: Int) -> Int { (nb * (h + padding) - padding) * packedRowStride }
}

/// Copies images `images` of a (B, C, H, W) tensor into the packed layout described above:
/// row c of `dst` (length `rowLength`) holds channel c of every image in turn. Every element
/// of the rows, separators and slack included, is written once.
func packPaddedPlanes<T: TensorScalar>(_ src: UnsafePointer<T>, channels: Int, _ g: ConvGeometry,
                                       images: Range<Int>, into dst: UnsafeMutablePointer<T>, rowLength: Int) {
    let (h, w, p) = (g.h, g.w, g.padding)
    let ws = g.packedRowStride
    let imageSize = channels * h * w
    for c in 0..<channels {
        var d = dst + c * rowLength
        @inline(__always) func zeros(_ n: Int) { var i = 0; while i < n { d[i] = 0; i &+= 1 }; d += n }
        zeros(p * ws)
        for b in images {
            let s = src + b * imageSize + c * h * w
            for r in 0..<h {
                zeros(p)
                let sr = s + r * w
                var q = 0
                while q < w { d[q] = sr[q]; q &+= 1 }
                d += w
            }
            zeros(p * ws)
        }
        zeros(dst + (c + 1) * rowLength - d)
    }
}

/// out (M × n, leading dimension ldo) = beta·out + Σ_taps W_tap (M × K) · src[:, shift_tap ..< shift_tap + n].
@inline(__always)
func shiftedGEMMs<T: TensorScalar>(_ taps: UnsafePointer<T>, m: Int, k: Int, _ g: ConvGeometry,
                                   src: UnsafePointer<T>, lds: Int, n: Int, out: UnsafeMutablePointer<T>, ldo: Int) {
    let ws = g.packedRowStride
    for ki in 0..<g.kh {
        for kj in 0..<g.kw {
            let t = ki * g.kw + kj
            T.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                   a: taps + t * m * k, lda: k, b: src + ki * ws + kj, ldb: lds,
                   beta: t == 0 ? 0 : 1, c: out, ldc: ldo)
        }
    }
}

/// Copies the output pixels of a grid (M rows of length ldg) into images `images` of a
/// (B, M, H, W) tensor, adding `bias[o]` when given.
func unpackGrid<T: TensorScalar>(_ grid: UnsafePointer<T>, ldg: Int, channels m: Int, _ g: ConvGeometry,
                                 images: Range<Int>, bias: UnsafePointer<T>?, into dst: UnsafeMutablePointer<T>) {
    let ws = g.packedRowStride, stride = g.packedImageStride, (ho, wo) = (g.ho, g.wo)
    for (j, b) in images.enumerated() {
        for o in 0..<m {
            let s0 = grid + o * ldg + j * stride
            let d0 = dst + (b * m + o) * ho * wo
            let v = bias?[o] ?? 0
            for r in 0..<ho {
                let s = s0 + r * ws, d = d0 + r * wo
                var q = 0
                if bias != nil { while q < wo { d[q] = s[q] + v; q &+= 1 } }
                else { while q < wo { d[q] = s[q]; q &+= 1 } }
            }
        }
    }
}

/// Weights regrouped per tap, (taps, Cout, Cin): taps[t][o][c] = W[o][c][t].
func tapMajorWeights<T: TensorScalar>(_ w: UnsafePointer<T>, _ g: ConvGeometry) -> [T] {
    let taps = g.kh * g.kw
    var out = [T](repeating: 0, count: taps * g.cout * g.cin)
    for o in 0..<g.cout { for c in 0..<g.cin { for t in 0..<taps {
        out[(t * g.cout + o) * g.cin + c] = w[(o * g.cin + c) * taps + t]
    } } }
    return out
}

/// Forward pass of a same stride-1 convolution over images `images`, chunk by chunk.
func shiftedConvForward<T: TensorScalar>(_ px: UnsafePointer<T>, taps: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                         _ po: UnsafeMutablePointer<T>, _ g: ConvGeometry, images: Range<Int>) {
    let nbMax = g.chunkImages(channels: Swift.max(g.cin, g.cout))
    let ldx = g.packedRowLength(images: nbMax), ldg = g.gridColumns(images: nbMax)
    withScratch(g.cin * ldx, T.self) { xp in
        withScratch(g.cout * ldg, T.self) { grid in
            for lo in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nbMax) {
                let chunk = lo..<Swift.min(images.upperBound, lo + nbMax)
                packPaddedPlanes(px, channels: g.cin, g, images: chunk, into: xp, rowLength: ldx)
                shiftedGEMMs(taps, m: g.cout, k: g.cin, g, src: xp, lds: ldx,
                             n: g.gridColumns(images: nbMax), out: grid, ldo: ldg)
                unpackGrid(grid, ldg: ldg, channels: g.cout, g, images: chunk, bias: bias, into: po)
            }
        }
    }
}

/// Backward pass of a same stride-1 convolution over images `images`: accumulates the
/// weight gradient in tap-major layout (taps, Cout, Cin) into `dwTaps` (when given) and
/// writes the input gradient of those images into `pdx` (when given, with `dxWeights` from
/// `inputGradientWeights`). With Cout ≥ 8 the input gradient is nine shifted GEMMs with
/// K = Cout; with fewer output channels the nine shifted copies of the packed gradient are
/// stacked into a (taps·Cout) × N matrix first and multiplied once (K = taps·Cout), since a
/// GEMM with K < 8 is mostly overhead.
func shiftedConvBackward<T: TensorScalar>(_ px: UnsafePointer<T>, dxWeights: UnsafePointer<T>?,
                                          _ pg: UnsafePointer<T>, dwTaps: UnsafeMutablePointer<T>?,
                                          _ pdx: UnsafeMutablePointer<T>?, _ g: ConvGeometry, images: Range<Int>) {
    let nbMax = g.chunkImages(channels: Swift.max(g.cin, g.cout))
    let ldx = g.packedRowLength(images: nbMax), ldg = g.gridColumns(images: nbMax)
    let ws = g.packedRowStride, taps = g.kh * g.kw
    let stacked = g.usesStackedInputGradient
    withScratch(dwTaps == nil ? 0 : g.cin * ldx, T.self) { xp in
        withScratch(g.cout * ldx, T.self) { gp in
            withScratch(pdx == nil ? 0 : g.cin * ldg, T.self) { grid in
                withScratch(pdx != nil && stacked ? taps * g.cout * ldg : 0, T.self) { gcols in
                    for lo in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nbMax) {
                        let chunk = lo..<Swift.min(images.upperBound, lo + nbMax)
                        let n = g.gridColumns(images: chunk.count)
                        packPaddedPlanes(pg, channels: g.cout, g, images: chunk, into: gp, rowLength: ldx)
                        if let dwTaps {
                            packPaddedPlanes(px, channels: g.cin, g, images: chunk, into: xp, rowLength: ldx)
                            let gridG = gp + g.packedOrigin
                            for ki in 0..<g.kh {
                                for kj in 0..<g.kw {
                                    let t = ki * g.kw + kj
                                    T.gemm(transA: false, transB: true, m: g.cout, n: g.cin, k: n, alpha: 1,
                                           a: gridG, lda: ldx, b: xp + ki * ws + kj, ldb: ldx,
                                           beta: 1, c: dwTaps + t * g.cout * g.cin, ldc: g.cin)
                                }
                            }
                        }
                        guard let pdx, let dxWeights else { continue }
                        if stacked {
                            // gcols[t·Cout + o, q] = gp[o, q + shift_t]
                            for ki in 0..<g.kh {
                                for kj in 0..<g.kw {
                                    let t = ki * g.kw + kj
                                    for o in 0..<g.cout {
                                        (gcols + (t * g.cout + o) * n).update(from: gp + o * ldx + ki * ws + kj, count: n)
                                    }
                                }
                            }
                            T.gemm(transA: false, transB: false, m: g.cin, n: n, k: taps * g.cout, alpha: 1,
                                   a: dxWeights, lda: taps * g.cout, b: gcols, ldb: n, beta: 0, c: grid, ldc: ldg)
                        } else {
                            shiftedGEMMs(dxWeights, m: g.cin, k: g.cout, g, src: gp, lds: ldx, n: n, out: grid, ldo: ldg)
                        }
                        unpackGrid(grid, ldg: ldg, channels: g.cin, g, images: chunk, bias: nil, into: pdx)
                    }
                }
            }
        }
    }
}

extension ConvGeometry {
    /// Whether the input gradient stacks the shifted gradient copies (few output channels).
    var usesStackedInputGradient: Bool { cout < 8 }
}

/// The weights the input gradient multiplies by: the kernel rotated by 180° with input and
/// output channels swapped, W'[t][c][o] = W[o][c][taps − 1 − t], laid out (taps, Cin, Cout)
/// for shifted GEMMs, or (Cin, taps·Cout) for the stacked form.
func inputGradientWeights<T: TensorScalar>(_ w: UnsafePointer<T>, _ g: ConvGeometry) -> [T] {
    let taps = g.kh * g.kw
    var out = [T](repeating: 0, count: taps * g.cout * g.cin)
    for o in 0..<g.cout { for c in 0..<g.cin { for t in 0..<taps {
        let v = w[(o * g.cin + c) * taps + (taps - 1 - t)]
        if g.usesStackedInputGradient { out[c * taps * g.cout + t * g.cout + o] = v }
        else { out[(t * g.cin + c) * g.cout + o] = v }
    } } }
    return out
}
