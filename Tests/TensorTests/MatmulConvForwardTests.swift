import Testing
import Tensor

/// Float32 samples from N(0, 1) with a fixed seed.
func normal32(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor.randn(shape, dtype: .float32, using: &rng)
}

@Suite("Matmul against a naive reference")
struct MatmulForwardTests {
    /// How the operands reach matmul: stored densely, or as views of other storage.
    enum Layout: String, Sendable, CaseIterable {
        case dense
        /// A is the transpose of a stored (K, M) matrix.
        case transposedA
        /// B is the transpose of a stored (N, K) matrix.
        case transposedB
        case transposedBoth
        /// A is a column range of a wider (M, K + 3) matrix, B a row range of a taller one.
        case sliced
        /// A is a column range of the transpose of a stored (K + 2, M) matrix.
        case slicedTransposed
        /// A is a broadcast (stride-0) view of one row.
        case broadcastRow
    }

    /// Builds A (M, K) and B (K, N) in the given layout from Float32 samples.
    static func operands(_ m: Int, _ k: Int, _ n: Int, _ layout: Layout, dtype: DType) -> (Tensor, Tensor) {
        let seed = UInt64(m * 10_000 + k * 100 + n)
        func sample(_ shape: [Int], _ s: UInt64) -> Tensor { normal32(shape, seed: s).cast(to: dtype) }
        switch layout {
        case .dense: return (sample([m, k], seed), sample([k, n], seed + 1))
        case .transposedA: return (sample([k, m], seed).transposed(), sample([k, n], seed + 1))
        case .transposedB: return (sample([m, k], seed), sample([n, k], seed + 1).transposed())
        case .transposedBoth: return (sample([k, m], seed).transposed(), sample([n, k], seed + 1).transposed())
        case .sliced:
            return (sample([m, k + 3], seed).slice(axis: 1, 2..<(k + 2)), sample([k + 4, n], seed + 1).slice(axis: 0, 1..<(k + 1)))
        case .slicedTransposed:
            return (sample([k + 2, m], seed).transposed().slice(axis: 1, 1..<(k + 1)), sample([n, k], seed + 1).transposed())
        case .broadcastRow: return (sample([1, k], seed).expanded(to: [m, k]), sample([k, n], seed + 1))
        }
    }

    /// (M, K, N): odd sizes, vectors, and two products large enough (M·N·K ≥ 2¹⁸) to be split
    /// across threads by rows (M ≥ N) and by columns (M < N).
    static let sizes: [(Int, Int, Int)] = [(1, 1, 1), (3, 5, 2), (7, 1, 4), (1, 9, 1), (5, 3, 1), (1, 4, 6),
                                           (13, 11, 17), (70, 65, 60), (5, 100, 600)]

    @Test(arguments: Layout.allCases)
    func matchesNaiveLoops(_ layout: Layout) {
        for (m, k, n) in Self.sizes {
            for dtype in DType.allCases {
                let (a, b) = Self.operands(m, k, n, layout, dtype: dtype)
                let c = a.matmul(b)
                #expect(c.shape == [m, n] && c.dtype == dtype)
                let av = a.doubles, bv = b.doubles, cv = c.doubles
                // Float32 accumulates with relative error ≲ K·ε on Σ|aᵢₖ bₖⱼ|.
                let eps = dtype == .float32 ? 1e-6 : 1e-15
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var ref = 0.0, mag = 0.0
                        for p in 0..<k { ref += av[i * k + p] * bv[p * n + j]; mag += Swift.abs(av[i * k + p] * bv[p * n + j]) }
                        worst = Swift.max(worst, Swift.abs(cv[i * n + j] - ref) / (Double(k) * eps * mag + 1e-30))
                    }
                }
                #expect(worst <= 1, "\(layout) \(dtype) (\(m), \(k), \(n)): error \(worst)× the bound")
            }
        }
    }

    @Test func knownProduct() {
        // reference: by hand, [[1,2,3],[4,5,6]]·[[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
        let a = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let b = Tensor([7, 8, 9, 10, 11, 12] as [Float], shape: [3, 2])
        #expect(a.matmul(b).scalars == [58, 64, 139, 154])
        // Aᵀ read from the same storage: [[1,4],[2,5],[3,6]]·[[1],[1]] = [5, 7, 9]
        #expect(a.transposed().matmul(Tensor.ones([2, 1])).scalars == [5, 7, 9])
    }
}

@Suite("conv2d against a naive reference")
struct ConvForwardTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let batch, cin, h, w, cout, kh, kw, stride, padding: Int
        let bias: Bool
        var testDescription: String {
            "x[\(batch),\(cin),\(h),\(w)] w[\(cout),\(cin),\(kh),\(kw)] stride \(stride) padding \(padding)\(bias ? " bias" : "")"
        }
    }

    static let cases: [Case] = [
        Case(batch: 1, cin: 1, h: 5, w: 5, cout: 1, kh: 3, kw: 3, stride: 1, padding: 0, bias: false),
        Case(batch: 1, cin: 3, h: 7, w: 5, cout: 4, kh: 3, kw: 3, stride: 1, padding: 1, bias: true),
        Case(batch: 3, cin: 2, h: 6, w: 6, cout: 3, kh: 3, kw: 3, stride: 2, padding: 1, bias: true),
        Case(batch: 3, cin: 3, h: 9, w: 7, cout: 2, kh: 5, kw: 5, stride: 1, padding: 2, bias: false),
        Case(batch: 3, cin: 4, h: 5, w: 5, cout: 6, kh: 1, kw: 1, stride: 1, padding: 0, bias: true),
        Case(batch: 3, cin: 3, h: 7, w: 7, cout: 4, kh: 1, kw: 1, stride: 2, padding: 0, bias: false),
        Case(batch: 1, cin: 2, h: 4, w: 4, cout: 3, kh: 1, kw: 1, stride: 1, padding: 1, bias: true),
        Case(batch: 1, cin: 2, h: 8, w: 6, cout: 3, kh: 3, kw: 2, stride: 2, padding: 2, bias: true),
        Case(batch: 3, cin: 1, h: 1, w: 1, cout: 2, kh: 3, kw: 3, stride: 1, padding: 1, bias: true),
        Case(batch: 1, cin: 2, h: 4, w: 9, cout: 2, kh: 3, kw: 3, stride: 1, padding: 0, bias: false),
        Case(batch: 3, cin: 3, h: 11, w: 13, cout: 5, kh: 3, kw: 3, stride: 2, padding: 0, bias: true),
        Case(batch: 3, cin: 2, h: 5, w: 6, cout: 3, kh: 2, kw: 2, stride: 2, padding: 1, bias: false),
        Case(batch: 1, cin: 1, h: 3, w: 3, cout: 1, kh: 3, kw: 3, stride: 1, padding: 2, bias: false),
        Case(batch: 1, cin: 1, h: 2, w: 2, cout: 2, kh: 5, kw: 5, stride: 1, padding: 2, bias: true),
        Case(batch: 3, cin: 2, h: 9, w: 9, cout: 2, kh: 3, kw: 3, stride: 3, padding: 2, bias: false),
        // cin >= 8 with stride 1 takes the shifted-GEMM path (no im2col)
        Case(batch: 3, cin: 8, h: 7, w: 6, cout: 5, kh: 3, kw: 3, stride: 1, padding: 1, bias: true),
        Case(batch: 2, cin: 9, h: 6, w: 8, cout: 4, kh: 3, kw: 3, stride: 1, padding: 0, bias: false),
        Case(batch: 3, cin: 12, h: 5, w: 5, cout: 3, kh: 5, kw: 5, stride: 1, padding: 2, bias: true),
        Case(batch: 1, cin: 8, h: 4, w: 7, cout: 2, kh: 3, kw: 2, stride: 1, padding: 2, bias: true),
    ]

    /// Direct 7-loop cross-correlation in Double with zero padding.
    static func reference(_ x: [Double], _ w: [Double], _ b: [Double]?, _ c: Case) -> (values: [Double], magnitude: [Double], ho: Int, wo: Int) {
        let ho = (c.h + 2 * c.padding - c.kh) / c.stride + 1, wo = (c.w + 2 * c.padding - c.kw) / c.stride + 1
        var out = [Double](repeating: 0, count: c.batch * c.cout * ho * wo), mag = out
        for n in 0..<c.batch {
            for o in 0..<c.cout {
                for i in 0..<ho {
                    for j in 0..<wo {
                        var s = b?[o] ?? 0, m = Swift.abs(s)
                        for ci in 0..<c.cin {
                            for u in 0..<c.kh {
                                for v in 0..<c.kw {
                                    let y = i * c.stride + u - c.padding, x0 = j * c.stride + v - c.padding
                                    guard y >= 0, y < c.h, x0 >= 0, x0 < c.w else { continue }
                                    let t = x[((n * c.cin + ci) * c.h + y) * c.w + x0] * w[((o * c.cin + ci) * c.kh + u) * c.kw + v]
                                    s += t; m += Swift.abs(t)
                                }
                            }
                        }
                        out[((n * c.cout + o) * ho + i) * wo + j] = s
                        mag[((n * c.cout + o) * ho + i) * wo + j] = m
                    }
                }
            }
        }
        return (out, mag, ho, wo)
    }

    @Test(arguments: cases)
    func matchesNaiveLoops(_ c: Case) {
        let x = normal32([c.batch, c.cin, c.h, c.w], seed: 1), w = normal32([c.cout, c.cin, c.kh, c.kw], seed: 2)
        let b = c.bias ? normal32([c.cout], seed: 3) : nil
        let y = x.conv2d(w, bias: b, stride: c.stride, padding: c.padding)
        let ref = Self.reference(x.doubles, w.doubles, b?.doubles, c)
        #expect(y.shape == [c.batch, c.cout, ref.ho, ref.wo])
        #expect(y.dtype == .float32)
        let k = Double(c.cin * c.kh * c.kw + 1)
        var worst = 0.0
        for (i, v) in y.doubles.enumerated() {
            worst = Swift.max(worst, Swift.abs(v - ref.values[i]) / (k * 1e-6 * ref.magnitude[i] + 1e-30))
        }
        #expect(worst <= 1, "error \(worst)× the bound K·ε·Σ|terms|")
    }

    @Test func nonContiguousInputMatchesDenseInput() {
        let nhwc = normal32([3, 5, 4, 2], seed: 4), w = normal32([3, 2, 3, 3], seed: 5)
        let view = nhwc.permuted([0, 3, 1, 2])
        #expect(!view.isContiguous)
        #expect(view.conv2d(w, padding: 1).scalars == view.contiguous().conv2d(w, padding: 1).scalars)
    }

    @Test func knownValues() {
        // reference: by hand. A 3×3 all-ones kernel over [[1,2],[3,4]] with padding 1 sums each
        // pixel's 3×3 neighbourhood; every neighbourhood of a 2×2 image is the whole image: 10.
        let x = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2])
        let y = x.conv2d(Tensor.ones([1, 1, 3, 3]), bias: Tensor([0.5] as [Float], shape: [1]), padding: 1)
        #expect(y.scalars == [10.5, 10.5, 10.5, 10.5])
        // Cross-correlation, not convolution: kernel [[1, 0], [0, -1]] gives x[i][j] − x[i+1][j+1].
        let z = Tensor((0..<9).map(Float.init), shape: [1, 1, 3, 3])
            .conv2d(Tensor([1, 0, 0, -1] as [Float], shape: [1, 1, 2, 2]))
        #expect(z.scalars == [-4, -4, -4, -4])
    }
}
