/// 3×3 stride-1 padding-1 convolutions by Winograd's minimal filtering F(2×2, 3×3)
/// (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"), forward and
/// backward.
///
/// Each 2×2 output tile of a channel pair is Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, with d the 4×4
/// input tile around it (zeros outside the image), g the 3×3 kernel and
///
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
///     Aᵀ = [1 1 1 0; 0 1 −1 −1].
///
/// Summed over input channels, the 16 element-wise products become 16 GEMMs per chunk of
/// tiles, M[ξ] (Cout × T) = U[ξ] (Cout × Cin) · V[ξ] (Cin × T), with U = G g Gᵀ and V = Bᵀ d B:
/// 16 multiply-adds per tile and channel pair instead of 36 (2.25× fewer). The input
/// gradient is the same algorithm on the output gradient with the kernel rotated by 180° and
/// its channels swapped; the weight gradient is dU[ξ] = Σ_tiles dM[ξ]·V[ξ]ᵀ with
/// dM = A dY Aᵀ, then dg = Gᵀ dU G. The transforms are additions (and halvings in G), so the
/// rounding differs from the direct sum only in the order of additions; Float32 results
/// agree with the direct convolution to a few ulps of the operands' magnitudes.
extension ConvGeometry {
    /// 3×3, stride 1, padding 1, and enough channels on both sides for 16 GEMMs with
    /// K = channels to beat nine shifted ones.
    var usesWinograd: Bool {
        kh == 3 && kw == 3 && stride == 1 && padding == 1 && cin >= 16 && cout >= 16
    }
    /// Tiles per image row and column: ⌈H/2⌉ × ⌈W/2⌉.
    var tileRows: Int { (h + 1) / 2 }
    var tileCols: Int { (w + 1) / 2 }
    var tilesPerImage: Int { tileRows * tileCols }
    /// Images per chunk: about 256 tiles, so the 16 transformed matrices of a chunk
    /// (16 × channels × T) stay near L2 size and each GEMM has N ≈ 200–300. Fixed by the
    /// image size alone, not the batch: the forward GEMMs always run on whole chunks (see
    /// `winogradConvForward`).
    var winogradChunkImages: Int { Swift.max(1, 256 / Swift.max(tilesPerImage, 1)) }
}

/// U[ξ][o][c] = (G g_oc Gᵀ)[ξ] for a (Cout, Cin, 3, 3) kernel; layout (16, Cout, Cin).
/// With `flipped`, the kernel of the input gradient: g'_co = rot180(g_oc), layout (16, Cin, Cout).
func winogradWeights<T: TensorScalar>(_ w: UnsafePointer<T>, cout: Int, cin: Int, flipped: Bool) -> [T] {
    let (rows, cols) = flipped ? (cin, cout) : (cout, cin)
    var u = [T](repeating: 0, count: 16 * rows * cols)
    let half: T = 0.5
    for o in 0..<cout {
        for c in 0..<cin {
            let g0 = w + (o * cin + c) * 9
            var g = [T](repeating: 0, count: 9)
            for i in 0..<9 { g[i] = flipped ? g0[8 - i] : g0[i] }
            // t = G·g (4×3), then u = t·Gᵀ (4×4).
            var t = [T](repeating: 0, count: 12)
            for j in 0..<3 {
                let a = g[j], b = g[3 + j], d = g[6 + j]
                t[j] = a
                t[3 + j] = (a + b + d) * half
                t[6 + j] = (a - b + d) * half
                t[9 + j] = d
            }
            let (r, k) = flipped ? (c, o) : (o, c)
            for i in 0..<4 {
                let a = t[3 * i], b = t[3 * i + 1], d = t[3 * i + 2]
                let vals: [T] = [a, (a + b + d) * half, (a - b + d) * half, d]
                for j in 0..<4 { u[((4 * i + j) * rows + r) * cols + k] = vals[j] }
            }
        }
    }
    return u
}

/// dg = Gᵀ dU G for every (o, c), from dU (16, Cout, Cin), into a (Cout, Cin, 3, 3) gradient.
func winogradWeightGradient<T: TensorScalar>(_ du: UnsafePointer<T>, cout: Int, cin: Int, into dw: UnsafeMutablePointer<T>) {
    let plane = cout * cin
    let half: T = 0.5
    for o in 0..<cout {
        for c in 0..<cin {
            var m = [T](repeating: 0, count: 16)
            for x in 0..<16 { m[x] = du[x * plane + o * cin + c] }
            // s = Gᵀ·m (3×4), then dg = s·G (3×3). Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1].
            var s = [T](repeating: 0, count: 12)
            for j in 0..<4 {
                let m0 = m[j], m1 = m[4 + j], m2 = m[8 + j], m3 = m[12 + j]
                s[j] = m0 + (m1 + m2) * half
                s[4 + j] = (m1 - m2) * half
                s[8 + j] = (m1 + m2) * half + m3
            }
            let d = dw + (o * cin + c) * 9
            for i in 0..<3 {
                let s0 = s[4 * i], s1 = s[4 * i + 1], s2 = s[4 * i + 2], s3 = s[4 * i + 3]
                d[3 * i] = s0 + (s1 + s2) * half
                d[3 * i + 1] = (s1 - s2) * half
                d[3 * i + 2] = (s1 + s2) * half + s3
            }
        }
    }
}

/// Scratch the transforms need: the even/odd split of every padded input row of a plane
/// (2·tileRows + 2 rows) plus eight rows, each `winogradRowStride` long, and slack.
extension ConvGeometry {
    /// tileCols + 1 rounded up to a multiple of 4: the Float loops run in whole groups of four.
    var winogradRowStride: Int { (tileCols + 1 + 3) / 4 * 4 }
    var winogradRowScratch: Int { ((2 * tileRows + 2) * 2 + 8) * winogradRowStride + 8 }
    /// Leading dimension of the transformed matrices for `images` images: the tiles, rounded
    /// up to four, plus four columns that the Float loops may write past the last tile.
    func winogradLeadingDimension(images nb: Int) -> Int { (nb * tilesPerImage + 3) / 4 * 4 + 4 }
}

/// Splits an image row of w values into its zero-padded even and odd columns:
/// even[j] = x[2j − 1], odd[j] = x[2j] for j in 0..<n (zero outside 0..<w).
@inline(__always)
func deinterleavePadded<T: TensorScalar>(_ src: UnsafePointer<T>, w: Int, n: Int,
                                         even: UnsafeMutablePointer<T>, odd: UnsafeMutablePointer<T>) {
    even[0] = 0
    var j = 0
    if T.self == Float.self {
        let s: UnsafePointer<Float> = src.rebound()
        let e: UnsafeMutablePointer<Float> = (even + 1).rebound(), o: UnsafeMutablePointer<Float> = odd.rebound()
        while 2 &* j &+ 8 <= w {
            let a = load4(s, 2 &* j), b = load4(s, 2 &* j &+ 4)
            store4(SIMD4(a[0], a[2], b[0], b[2]), o, j)
            store4(SIMD4(a[1], a[3], b[1], b[3]), e, j)
            j &+= 4
        }
    }
    while 2 &* j &+ 1 < w { odd[j] = src[2 &* j]; even[j &+ 1] = src[2 &* j &+ 1]; j &+= 1 }
    if 2 &* j < w { odd[j] = src[2 &* j]; j &+= 1; while j < n { odd[j] = 0; even[j] = 0; j &+= 1 } }
    else { while j < n { odd[j] = 0; if j &+ 1 < n { even[j &+ 1] = 0 }; j &+= 1 } }
}

/// Four-lane steps for the transforms' row loops. Each loop writes four output rows from
/// rows of the same scratch buffer, which needs more run-time alias checks than LLVM allows
/// before vectorising, so the Float loops are written with SIMD4, in whole groups of four:
/// they read and write up to three elements past `count`, into slack the callers leave
/// (row strides rounded up to four, padded leading dimensions); the extra lanes compute
/// values nobody reads. Double runs the same arithmetic element by element.
@inline(__always) func load4(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD4<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Float>.self)
}
@inline(__always) func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD4<Float>.self)
}

/// out = (a − c, b + c, c − b, b − d) element-wise over n values: Bᵀ's (and B's) pattern.
@inline(__always)
func winogradB<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafePointer<T>, _ d: UnsafePointer<T>,
                                _ o0: UnsafeMutablePointer<T>, _ o1: UnsafeMutablePointer<T>,
                                _ o2: UnsafeMutablePointer<T>, _ o3: UnsafeMutablePointer<T>, count n: Int) {
    var i = 0
    if T.self == Float.self {
        let a: UnsafePointer<Float> = a.rebound(), b: UnsafePointer<Float> = b.rebound()
        let c: UnsafePointer<Float> = c.rebound(), d: UnsafePointer<Float> = d.rebound()
        let o0: UnsafeMutablePointer<Float> = o0.rebound(), o1: UnsafeMutablePointer<Float> = o1.rebound()
        let o2: UnsafeMutablePointer<Float> = o2.rebound(), o3: UnsafeMutablePointer<Float> = o3.rebound()
        while i < n {
            let va = load4(a, i), vb = load4(b, i), vc = load4(c, i), vd = load4(d, i)
            store4(va - vc, o0, i); store4(vb + vc, o1, i); store4(vc - vb, o2, i); store4(vb - vd, o3, i)
            i &+= 4
        }
        return
    }
    while i < n {
        let va = a[i], vb = b[i], vc = c[i], vd = d[i]
        o0[i] = va - vc; o1[i] = vb + vc; o2[i] = vc - vb; o3[i] = vb - vd
        i &+= 1
    }
}

/// out = (a, a + b, a − b, −b) element-wise over n values: A's pattern (gradient transform).
@inline(__always)
func winogradA<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                _ o0: UnsafeMutablePointer<T>, _ o1: UnsafeMutablePointer<T>,
                                _ o2: UnsafeMutablePointer<T>, _ o3: UnsafeMutablePointer<T>, count n: Int) {
    var i = 0
    if T.self == Float.self {
        let a: UnsafePointer<Float> = a.rebound(), b: UnsafePointer<Float> = b.rebound()
        let o0: UnsafeMutablePointer<Float> = o0.rebound(), o1: UnsafeMutablePointer<Float> = o1.rebound()
        let o2: UnsafeMutablePointer<Float> = o2.rebound(), o3: UnsafeMutablePointer<Float> = o3.rebound()
        while i < n {
            let va = load4(a, i), vb = load4(b, i)
            store4(va, o0, i); store4(va + vb, o1, i); store4(va - vb, o2, i); store4(-vb, o3, i)
            i &+= 4
        }
        return
    }
    while i < n {
        let va = a[i], vb = b[i]
        o0[i] = va; o1[i] = va + vb; o2[i] = va - vb; o3[i] = -vb
        i &+= 1
    }
}

extension UnsafePointer {
    /// The same address as another element type (the caller checked the types are equal).
    @inline(__always) func rebound<U>() -> UnsafePointer<U> { UnsafeRawPointer(self).assumingMemoryBound(to: U.self) }
}
extension UnsafeMutablePointer {
    @inline(__always) func rebound<U>() -> UnsafeMutablePointer<U> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: U.self) }
}

/// V[ξ][c][t] = (Bᵀ d B)[ξ] for every 4×4 input tile d of images `images` of a (B, C, H, W)
/// tensor; V has layout (16, C, ldv) and tile t = j·tilesPerImage + ti·tileCols + tj for
/// the j-th image of the chunk. `rows` is scratch of `winogradRowScratch` elements.
///
/// Per tile row: the four input rows are split into even and odd padded columns, combined
/// row-wise into S0 = P0 − P2, S1 = P1 + P2, S2 = P2 − P1, S3 = P1 − P3 (Bᵀd), and each Sk
/// column-wise: tile tj reads (s0, s1, s2, s3) = (E[tj], O[tj], E[tj + 1], O[tj + 1]) and
/// writes (s0 − s2, s1 + s2, s2 − s1, s1 − s3) (·B). Every loop after the split runs over
/// contiguous arrays.
func winogradInputTransform<T: TensorScalar>(_ x: UnsafePointer<T>, channels: Int, _ g: ConvGeometry, images: Range<Int>,
                                             into v: UnsafeMutablePointer<T>, ldv: Int, rows: UnsafeMutablePointer<T>) {
    let (h, w, tr, tc) = (g.h, g.w, g.tileRows, g.tileCols)
    let n = tc + 1
    let plane = channels * ldv
    // Padded rows −1 ..< 2·tr + 1 split into (even, odd), then S rows (even, odd) 0..3.
    let padded = 2 * tr + 2, ns = g.winogradRowStride
    @inline(__always) func split(_ r: Int) -> UnsafeMutablePointer<T> { rows + (r + 1) * 2 * ns }
    @inline(__always) func row(_ i: Int) -> UnsafeMutablePointer<T> { rows + (2 * padded + i - 8) * ns }
    for (jImage, b) in images.enumerated() {
        for c in 0..<channels {
            let src = x + (b * channels + c) * h * w
            for r in -1..<(padded - 1) {
                if r >= 0 && r < h { deinterleavePadded(src + r * w, w: w, n: n, even: split(r), odd: split(r) + ns) }
                else { split(r).update(repeating: 0, count: 2 * ns) }
            }
            for ti in 0..<tr {
                // P_k = input row 2ti − 1 + k: even part at split(r), odd at split(r) + ns.
                let p0 = split(2 * ti - 1), p1 = split(2 * ti), p2 = split(2 * ti + 1), p3 = split(2 * ti + 2)
                for parity in 0..<2 {
                    let q = parity * ns
                    winogradB(p0 + q, p1 + q, p2 + q, p3 + q,
                              row(8 + parity), row(10 + parity), row(12 + parity), row(14 + parity), count: n)
                }
                let base = v + c * ldv + jImage * g.tilesPerImage + ti * tc
                for k in 0..<4 {
                    let e = row(8 + 2 * k), o = row(9 + 2 * k)
                    let o0 = base + 4 * k * plane
                    // Tile tj reads (E[tj], O[tj], E[tj + 1], O[tj + 1]).
                    winogradB(e, o, e + 1, o + 1, o0, o0 + plane, o0 + 2 * plane, o0 + 3 * plane, count: tc)
                }
            }
        }
    }
}

/// dM[ξ][c][t] = (A dY Aᵀ)[ξ] for every 2×2 tile dY of images `images` of a (B, C, H, W)
/// output gradient (zeros past the image); same layout as `winogradInputTransform`.
/// A·dY combines the tile's two rows y0, y1 into P = (y0, y0 + y1, y0 − y1, −y1), then each
/// P row (a, b) becomes (a, a + b, a − b, −b). `rows` is scratch of `winogradRowScratch`.
func winogradGradientTransform<T: TensorScalar>(_ gy: UnsafePointer<T>, channels: Int, _ g: ConvGeometry, images: Range<Int>,
                                                into dm: UnsafeMutablePointer<T>, ldv: Int, rows: UnsafeMutablePointer<T>) {
    let (h, w, tr, tc) = (g.h, g.w, g.tileRows, g.tileCols)
    let n = tc + 1, ns = g.winogradRowStride
    let plane = channels * ldv
    @inline(__always) func row(_ i: Int) -> UnsafeMutablePointer<T> { rows + i * ns }
    // Columns 2j (a) and 2j + 1 (b) of the tile's two rows: the odd/even split shifted by one.
    let a0 = row(1), b0 = row(0) + 1, a1 = row(3), b1 = row(2) + 1
    for (jImage, b) in images.enumerated() {
        for c in 0..<channels {
            let src = gy + (b * channels + c) * h * w
            for ti in 0..<tr {
                deinterleavePadded(src + 2 * ti * w, w: w, n: n, even: row(0), odd: row(1))
                if 2 * ti + 1 < h { deinterleavePadded(src + (2 * ti + 1) * w, w: w, n: n, even: row(2), odd: row(3)) }
                else { row(2).update(repeating: 0, count: n); row(3).update(repeating: 0, count: n) }
                let base = dm + c * ldv + jImage * g.tilesPerImage + ti * tc
                // P rows (a parts in rows 4, 6, 8, 10; b parts in 5, 7, 9, 11) from A·dY.
                winogradA(a0, a1, row(4), row(6), row(8), row(10), count: tc)
                winogradA(b0, b1, row(5), row(7), row(9), row(11), count: tc)
                for k in 0..<4 {
                    let o0 = base + 4 * k * plane
                    winogradA(row(4 + 2 * k), row(5 + 2 * k), o0, o0 + plane, o0 + 2 * plane, o0 + 3 * plane, count: tc)
                }
            }
        }
    }
}

/// Y = Aᵀ M A for every tile, written into images `images` of a (B, C, H, W) tensor, plus
/// `bias[c]` when given: per column l of M, T0 = M0l + M1l + M2l and T1 = M1l − M2l − M3l
/// (Aᵀ·M), then each T row (t0, t1, t2, t3) gives the output pair (t0 + t1 + t2, t1 − t2 − t3).
/// `rows` is scratch of `winogradRowScratch` elements.
func winogradOutputTransform<T: TensorScalar>(_ m: UnsafePointer<T>, channels: Int, _ g: ConvGeometry, images: Range<Int>,
                                              ldm: Int, bias: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>,
                                              rows: UnsafeMutablePointer<T>) {
    let (h, w, tr, tc) = (g.h, g.w, g.tileRows, g.tileCols)
    let plane = channels * ldm
    let r0 = rows, r1 = rows + 2 * g.winogradRowStride
    for (jImage, b) in images.enumerated() {
        for c in 0..<channels {
            let dst = y + (b * channels + c) * h * w
            let bv = bias?[c] ?? 0
            for ti in 0..<tr {
                let base = m + c * ldm + jImage * g.tilesPerImage + ti * tc
                let m0 = base, m1 = m0 + plane, m2 = m1 + plane, m3 = m2 + plane
                let m4 = m3 + plane, m5 = m4 + plane, m6 = m5 + plane, m7 = m6 + plane
                let m8 = m7 + plane, m9 = m8 + plane, m10 = m9 + plane, m11 = m10 + plane
                let m12 = m11 + plane, m13 = m12 + plane, m14 = m13 + plane, m15 = m14 + plane
                var tj = 0
                if T.self == Float.self {
                    let (m0, m1, m2, m3): (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) =
                        (m0.rebound(), m1.rebound(), m2.rebound(), m3.rebound())
                    let (m4, m5, m6, m7): (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) =
                        (m4.rebound(), m5.rebound(), m6.rebound(), m7.rebound())
                    let (m8, m9, m10, m11): (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) =
                        (m8.rebound(), m9.rebound(), m10.rebound(), m11.rebound())
                    let (m12, m13, m14, m15): (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) =
                        (m12.rebound(), m13.rebound(), m14.rebound(), m15.rebound())
                    let r0f: UnsafeMutablePointer<Float> = r0.rebound(), r1f: UnsafeMutablePointer<Float> = r1.rebound()
                    let bf = SIMD4<Float>(repeating: bv as! Float)
                    while tj < tc {
                        let t00 = load4(m0, tj) + load4(m4, tj) + load4(m8, tj), t10 = load4(m4, tj) - load4(m8, tj) - load4(m12, tj)
                        let t01 = load4(m1, tj) + load4(m5, tj) + load4(m9, tj), t11 = load4(m5, tj) - load4(m9, tj) - load4(m13, tj)
                        let t02 = load4(m2, tj) + load4(m6, tj) + load4(m10, tj), t12 = load4(m6, tj) - load4(m10, tj) - load4(m14, tj)
                        let t03 = load4(m3, tj) + load4(m7, tj) + load4(m11, tj), t13 = load4(m7, tj) - load4(m11, tj) - load4(m15, tj)
                        let y00 = t00 + t01 + t02 + bf, y01 = t01 - t02 - t03 + bf
                        let y10 = t10 + t11 + t12 + bf, y11 = t11 - t12 - t13 + bf
                        store4(SIMD4(y00[0], y01[0], y00[1], y01[1]), r0f, 2 &* tj)
                        store4(SIMD4(y00[2], y01[2], y00[3], y01[3]), r0f, 2 &* tj &+ 4)
                        store4(SIMD4(y10[0], y11[0], y10[1], y11[1]), r1f, 2 &* tj)
                        store4(SIMD4(y10[2], y11[2], y10[3], y11[3]), r1f, 2 &* tj &+ 4)
                        tj &+= 4
                    }
                }
                // (Double, element by element; Float has finished the row above.)
                while tj < tc {
                    let t00 = m0[tj] + m4[tj] + m8[tj], t10 = m4[tj] - m8[tj] - m12[tj]
                    let t01 = m1[tj] + m5[tj] + m9[tj], t11 = m5[tj] - m9[tj] - m13[tj]
                    let t02 = m2[tj] + m6[tj] + m10[tj], t12 = m6[tj] - m10[tj] - m14[tj]
                    let t03 = m3[tj] + m7[tj] + m11[tj], t13 = m7[tj] - m11[tj] - m15[tj]
                    r0[2 &* tj] = t00 + t01 + t02 + bv
                    r0[2 &* tj &+ 1] = t01 - t02 - t03 + bv
                    r1[2 &* tj] = t10 + t11 + t12 + bv
                    r1[2 &* tj &+ 1] = t11 - t12 - t13 + bv
                    tj &+= 1
                }
                (dst + 2 * ti * w).update(from: r0, count: w)
                if 2 * ti + 1 < h { (dst + (2 * ti + 1) * w).update(from: r1, count: w) }
            }
        }
    }
}

/// out[ξ] (m × T, leading dimension ldo) = u[ξ] (m × k) · v[ξ] (k × T), ξ = 0..<16.
@inline(__always)
func winogradGEMMs<T: TensorScalar>(_ u: UnsafePointer<T>, m: Int, k: Int, _ v: UnsafePointer<T>, ldv: Int, tiles: Int,
                                    out: UnsafeMutablePointer<T>, ldo: Int) {
    for x in 0..<16 {
        T.gemm(transA: false, transB: false, m: m, n: tiles, k: k, alpha: 1, a: u + x * m * k, lda: k,
               b: v + x * k * ldv, ldb: ldv, beta: 0, c: out + x * m * ldo, ldc: ldo)
    }
}

/// Forward convolution of images `images` (see the type's notes): per chunk, input
/// transform, 16 GEMMs with the transformed weights `u` (16, Cout, Cin), output transform.
///
/// The GEMMs always span a whole chunk (N = winogradChunkImages · tilesPerImage), the
/// columns of missing images holding stale values whose outputs are dropped: OpenBLAS picks
/// its kernel (and so the order of the sums) by the GEMM's shape, so a fixed N makes an
/// image's output bitwise independent of the batch it comes in and of the thread split
/// (scores and cached features must not depend on the batch size).
func winogradConvForward<T: TensorScalar>(_ px: UnsafePointer<T>, u: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                          _ po: UnsafeMutablePointer<T>, _ g: ConvGeometry, images: Range<Int>) {
    let nb = g.winogradChunkImages, ld = g.winogradLeadingDimension(images: nb)
    withScratch(16 * g.cin * ld, T.self) { v in
        withScratch(16 * g.cout * ld, T.self) { m in
            withScratch(g.winogradRowScratch, T.self) { rows in
                // The slack the Float loops read is never uninitialised (no denormal stalls).
                v.update(repeating: 0, count: 16 * g.cin * ld)
                m.update(repeating: 0, count: 16 * g.cout * ld)
                rows.update(repeating: 0, count: g.winogradRowScratch)
                for lo in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                    let chunk = lo..<Swift.min(images.upperBound, lo + nb)
                    winogradInputTransform(px, channels: g.cin, g, images: chunk, into: v, ldv: ld, rows: rows)
                    winogradGEMMs(u, m: g.cout, k: g.cin, v, ldv: ld, tiles: nb * g.tilesPerImage, out: m, ldo: ld)
                    winogradOutputTransform(m, channels: g.cout, g, images: chunk, ldm: ld, bias: bias, into: po, rows: rows)
                }
            }
        }
    }
}

/// Backward pass over images `images`: accumulates dU (16, Cout, Cin) into `du` when given,
/// and writes the input gradient of those images into `pdx` when given (with `uFlipped`,
/// the transformed rotated kernel, (16, Cin, Cout)).
func winogradConvBackward<T: TensorScalar>(_ px: UnsafePointer<T>, _ pg: UnsafePointer<T>, uFlipped: UnsafePointer<T>?,
                                           du: UnsafeMutablePointer<T>?, _ pdx: UnsafeMutablePointer<T>?,
                                           _ g: ConvGeometry, images: Range<Int>) {
    let nb = g.winogradChunkImages, ld = g.winogradLeadingDimension(images: nb)
    let wide = Swift.max(g.cin, g.cout)
    withScratch(16 * wide * ld, T.self) { a in
        withScratch(16 * wide * ld, T.self) { b in
            withScratch(g.winogradRowScratch, T.self) { rows in
                a.update(repeating: 0, count: 16 * wide * ld)
                b.update(repeating: 0, count: 16 * wide * ld)
                rows.update(repeating: 0, count: g.winogradRowScratch)
                for lo in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                    let chunk = lo..<Swift.min(images.upperBound, lo + nb)
                    let tiles = chunk.count * g.tilesPerImage
                    if let du {
                        // dU[ξ] += dM[ξ] (Cout × T) · V[ξ]ᵀ (T × Cin)
                        winogradInputTransform(px, channels: g.cin, g, images: chunk, into: a, ldv: ld, rows: rows)
                        winogradGradientTransform(pg, channels: g.cout, g, images: chunk, into: b, ldv: ld, rows: rows)
                        for x in 0..<16 {
                            T.gemm(transA: false, transB: true, m: g.cout, n: g.cin, k: tiles, alpha: 1,
                                   a: b + x * g.cout * ld, lda: ld, b: a + x * g.cin * ld, ldb: ld,
                                   beta: 1, c: du + x * g.cout * g.cin, ldc: g.cin)
                        }
                    }
                    if let pdx, let uFlipped {
                        winogradInputTransform(pg, channels: g.cout, g, images: chunk, into: b, ldv: ld, rows: rows)
                        winogradGEMMs(uFlipped, m: g.cin, k: g.cout, b, ldv: ld, tiles: nb * g.tilesPerImage, out: a, ldo: ld)
                        winogradOutputTransform(a, channels: g.cin, g, images: chunk, ldm: ld, bias: nil, into: pdx, rows: rows)
                    }
                }
            }
        }
    }
}
