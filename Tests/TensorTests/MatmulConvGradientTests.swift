import Testing
import Tensor
import TestSupport

@Suite("Matmul, convolution and pooling gradients")
struct MatmulConvGradientTests {
    static let matmul: [BinaryCase] = [
        BinaryCase("[3,4]·[4,5]", { normal([3, 4], seed: 501) }, { normal([4, 5], seed: 502) }) { $0.matmul($1) },
        BinaryCase("Aᵀ·B", { normal([4, 3], seed: 503) }, { normal([4, 5], seed: 504) }) { $0.transposed().matmul($1) },
        BinaryCase("A·Bᵀ", { normal([3, 4], seed: 505) }, { normal([5, 4], seed: 506) }) { $0.matmul($1.transposed()) },
        BinaryCase("Aᵀ·Bᵀ", { normal([4, 3], seed: 507) }, { normal([5, 4], seed: 508) }) {
            $0.transposed().matmul($1.transposed())
        },
        BinaryCase("column slice · row slice", { normal([3, 6], seed: 509) }, { normal([5, 2], seed: 510) }) {
            $0.slice(axis: 1, 1..<5).matmul($1.slice(axis: 0, 1..<5))
        },
        BinaryCase("[1,4]·[4,1]", { normal([1, 4], seed: 511) }, { normal([4, 1], seed: 512) }) { $0.matmul($1) },
        BinaryCase("outer product [3,1]·[1,2]", { normal([3, 1], seed: 513) }, { normal([1, 2], seed: 514) }) {
            $0.matmul($1)
        },
        BinaryCase("broadcast view · B", { normal([1, 4], seed: 515) }, { normal([4, 2], seed: 516) }) {
            $0.expanded(to: [3, 4]).matmul($1)
        },
    ]

    @Test(arguments: matmul)
    func matmulGradient(_ c: BinaryCase) {
        expectGradientsMatchFiniteDifferences(c.a(), c.b(), c.f)
    }

    /// A convolution configuration: input, weight and (optional) bias shapes plus stride/padding.
    struct ConvCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let input: [Int], weight: [Int]
        let bias: Bool
        let stride: Int, padding: Int
    }

    static let conv: [ConvCase] = [
        ConvCase(testDescription: "3×3 stride 1 padding 1, bias", input: [2, 3, 5, 5], weight: [4, 3, 3, 3],
                 bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "3×3 stride 1 padding 1, no bias", input: [2, 3, 5, 4], weight: [2, 3, 3, 3],
                 bias: false, stride: 1, padding: 1),
        ConvCase(testDescription: "1×1, bias (pointwise GEMM)", input: [2, 3, 4, 4], weight: [5, 3, 1, 1],
                 bias: true, stride: 1, padding: 0),
        ConvCase(testDescription: "1×1, no bias", input: [1, 4, 3, 5], weight: [2, 4, 1, 1],
                 bias: false, stride: 1, padding: 0),
        ConvCase(testDescription: "3×3 stride 2 padding 1, no bias", input: [2, 2, 7, 6], weight: [3, 2, 3, 3],
                 bias: false, stride: 2, padding: 1),
        ConvCase(testDescription: "3×3 stride 2 padding 0, bias", input: [3, 2, 7, 7], weight: [2, 2, 3, 3],
                 bias: true, stride: 2, padding: 0),
        ConvCase(testDescription: "1×1 stride 2", input: [2, 3, 5, 5], weight: [2, 3, 1, 1],
                 bias: true, stride: 2, padding: 0),
        ConvCase(testDescription: "3×2 kernel padding 2", input: [1, 2, 5, 4], weight: [2, 2, 3, 2],
                 bias: true, stride: 1, padding: 2),
        ConvCase(testDescription: "3×3 padding 0, batch 3", input: [3, 2, 5, 6], weight: [2, 2, 3, 3],
                 bias: false, stride: 1, padding: 0),
        ConvCase(testDescription: "3×3 padding 1, 8 input channels (shifted GEMM)", input: [2, 8, 4, 5],
                 weight: [3, 8, 3, 3], bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "3×3 padding 1, 8→8 (shifted forward, dW and dX)", input: [3, 8, 5, 4],
                 weight: [8, 8, 3, 3], bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "3×3 padding 1, 2→8 (unfolded forward, shifted backward)", input: [3, 2, 4, 6],
                 weight: [8, 2, 3, 3], bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "5×5 padding 2, 9→10 (shifted)", input: [2, 9, 6, 5],
                 weight: [10, 9, 5, 5], bias: false, stride: 1, padding: 2),
        ConvCase(testDescription: "3×3 padding 1, 16→16 (Winograd, even size)", input: [2, 16, 6, 8],
                 weight: [16, 16, 3, 3], bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "3×3 padding 1, 16→17 (Winograd, odd sizes)", input: [3, 16, 5, 7],
                 weight: [17, 16, 3, 3], bias: true, stride: 1, padding: 1),
        ConvCase(testDescription: "3×3 padding 1, 18→16 (Winograd, 1×1 image)", input: [2, 18, 1, 1],
                 weight: [16, 18, 3, 3], bias: false, stride: 1, padding: 1),
    ]

    @Test(arguments: conv)
    func conv2dGradient(_ c: ConvCase) {
        var inputs = [normal(c.input, seed: 601), normal(c.weight, scale: 0.5, seed: 602)]
        if c.bias { inputs.append(normal([c.weight[0]], seed: 603)) }
        expectGradientsMatchFiniteDifferences(inputs) { t in
            t[0].conv2d(t[1], bias: c.bias ? t[2] : nil, stride: c.stride, padding: c.padding)
        }
    }

    @Test func shiftedConvolutionOverSeveralChunks() {
        // 8 input channels (shifted path, not Winograd) of 28×28: 9 images per chunk (2^16
        // elements of packed planes), so a batch of 20 runs full and partial chunks.
        let x = normal([20, 8, 28, 28], seed: 631), w = normal([12, 8, 3, 3], scale: 0.2, seed: 632)
        let b = normal([12], seed: 633)
        expectGradientsMatchFiniteDifferences([x, w, b], tolerance: 1e-5) { t in
            t[0].conv2d(t[1], bias: t[2], padding: 1)
        }
    }

    @Test func winogradConvolutionOverSeveralChunks() {
        // 64 channels of 28×28 (Winograd F(2×2, 3×3)): one image per chunk of about 256 tiles,
        // so a batch of 9 runs several chunks on every thread count.
        let x = normal([9, 64, 28, 28], seed: 621), w = normal([64, 64, 3, 3], scale: 0.05, seed: 622)
        let b = normal([64], seed: 623)
        expectGradientsMatchFiniteDifferences([x, w, b], tolerance: 1e-5) { t in
            t[0].conv2d(t[1], bias: t[2], padding: 1)
        }
        // The same numbers without the shifted path: a 3×3 same convolution is the sum over its
        // taps of 1×1 convolutions (pointwise GEMMs) of the input shifted by the tap, the shift
        // done by a one-channel convolution with a one-hot kernel (unfolded path).
        let y = withoutGrad { x.conv2d(w, bias: b, padding: 1) }
        var reference = withoutGrad { b.reshaped([1, 64, 1, 1]).expanded(to: [9, 64, 28, 28]).contiguous() }
        for ki in 0..<3 {
            for kj in 0..<3 {
                let tap = withoutGrad { w.slice(axis: 2, ki..<(ki + 1)).slice(axis: 3, kj..<(kj + 1)).contiguous() }
                var oneHot = [Double](repeating: 0, count: 9)
                oneHot[ki * 3 + kj] = 1
                let pick = Tensor(oneHot, shape: [1, 1, 3, 3])
                let shifted = withoutGrad {
                    x.reshaped([9 * 64, 1, 28, 28]).conv2d(pick, padding: 1).reshaped([9, 64, 28, 28])
                }
                reference = withoutGrad { reference + shifted.conv2d(tap) }
            }
        }
        expectClose(y.doubles, reference.doubles, tolerance: 1e-11, relativeTolerance: 1e-11)
    }

    /// An image's output is bitwise the same whatever batch it is computed in (scores and
    /// cached features must not depend on the batch size), on every convolution path.
    @Test(arguments: [(64, 64, 14), (64, 64, 28), (8, 12, 10), (2, 16, 9), (32, 3, 7)])
    func convolutionIsBatchInvariant(_ shape: (cin: Int, cout: Int, hw: Int)) {
        let x = normal([7, shape.cin, shape.hw, shape.hw], seed: 651).cast(to: .float32)
        let w = normal([shape.cout, shape.cin, 3, 3], scale: 0.1, seed: 652).cast(to: .float32)
        let b = normal([shape.cout], seed: 653).cast(to: .float32)
        let all = withoutGrad { x.conv2d(w, bias: b, padding: 1) }
        for (lo, hi) in [(0, 1), (1, 4), (4, 7), (2, 3)] {
            let part = withoutGrad { x.slice(axis: 0, lo..<hi).conv2d(w, bias: b, padding: 1) }
            #expect(bits(part) == bits(all.slice(axis: 0, lo..<hi)), "images \(lo)..<\(hi) of \(shape)")
        }
    }

    @Test func winogradFloat32AgreesWithFloat64() {
        // Winograd's transforms only add, subtract and halve, so Float32 stays within a few
        // ulps of the sums' magnitude (|y| ≈ 2 here), forward and backward.
        let x = normal([4, 32, 14, 14], seed: 641), w = normal([32, 32, 3, 3], scale: 0.1, seed: 642)
        let seed = normal([4, 32, 14, 14], seed: 643)
        func run(_ dtype: DType) -> [[Double]] {
            let xl = x.cast(to: dtype).detached.requiringGrad(), wl = w.cast(to: dtype).detached.requiringGrad()
            let y = xl.conv2d(wl, padding: 1)
            y.backward(seed: seed.cast(to: dtype))
            return [y.doubles, xl.grad!.doubles, wl.grad!.doubles]
        }
        let (single, double) = (run(.float32), run(.float64))
        expectClose(single[0], double[0], tolerance: 2e-5, relativeTolerance: 2e-5, "y")
        expectClose(single[1], double[1], tolerance: 2e-5, relativeTolerance: 2e-5, "dx")
        expectClose(single[2], double[2], tolerance: 2e-4, relativeTolerance: 2e-5, "dw")
    }

    @Test func conv2dGradientWithOneOperandConstant() {
        let x = normal([2, 3, 5, 5], seed: 611), w = normal([4, 3, 3, 3], scale: 0.5, seed: 612)
        let b = normal([4], seed: 613)
        // Only the weight and bias need gradients (the data path skips dx).
        expectGradientsMatchFiniteDifferences(w, b) { x.conv2d($0, bias: $1, padding: 1) }
        // Only the input needs a gradient (the parameters are frozen).
        expectGradientsMatchFiniteDifferences(x) { $0.conv2d(w, bias: b, stride: 2, padding: 1) }
        expectGradientsMatchFiniteDifferences(x) { $0.conv2d(normal([2, 3, 1, 1], seed: 614)) }
    }

    @Test func conv2dGradientOfANonContiguousInput() {
        // NHWC storage read as NCHW through a permuted view.
        let nhwc = normal([2, 5, 4, 3], seed: 621), w = normal([2, 3, 3, 3], scale: 0.5, seed: 622)
        expectGradientsMatchFiniteDifferences(nhwc, w) { $0.permuted([0, 3, 1, 2]).conv2d($1, padding: 1) }
        // Weight and bias as slices of larger parameter tensors.
        let x = normal([2, 3, 4, 4], seed: 623), wide = normal([4, 3, 3, 3], scale: 0.5, seed: 624)
        expectGradientsMatchFiniteDifferences([x, wide, normal([5], seed: 625)]) { t in
            t[0].conv2d(t[1].slice(axis: 0, 1..<3), bias: t[2].slice(axis: 0, 2..<4), stride: 2, padding: 1)
        }
    }

    static let pooling: [UnaryCase] = [
        UnaryCase("maxPool2d 2", { distinct([2, 3, 4, 6], seed: 701) }) { $0.maxPool2d(kernel: 2) },
        // Overlapping windows: one element can be the maximum of two windows.
        UnaryCase("maxPool2d 3 stride 2", { distinct([1, 2, 7, 7], seed: 702) }) { $0.maxPool2d(kernel: 3, stride: 2) },
        UnaryCase("maxPool2d 2 on odd size", { distinct([2, 2, 5, 7], seed: 709) }) { $0.maxPool2d(kernel: 2) },
        UnaryCase("maxPool2d 2 stride 1", { distinct([1, 1, 4, 5], seed: 703) }) { $0.maxPool2d(kernel: 2, stride: 1) },
        UnaryCase("maxPool2d of a permuted view", { distinct([2, 4, 4, 3], seed: 704) }) {
            $0.permuted([0, 3, 1, 2]).maxPool2d(kernel: 2)
        },
        UnaryCase("avgPool2d 2", { normal([2, 3, 4, 6], seed: 705) }) { $0.avgPool2d(kernel: 2) },
        UnaryCase("avgPool2d 3 stride 1", { normal([1, 2, 5, 4], seed: 706) }) { $0.avgPool2d(kernel: 3, stride: 1) },
        UnaryCase("avgPool2d 2 on odd size", { normal([2, 2, 5, 5], seed: 707) }) { $0.avgPool2d(kernel: 2) },
        UnaryCase("globalAvgPool2d", { normal([2, 3, 3, 4], seed: 708) }) { $0.globalAvgPool2d() },
    ]

    @Test(arguments: pooling)
    func poolingGradient(_ c: UnaryCase) {
        expectGradientsMatchFiniteDifferences(c.input(), c.f)
    }

    @Test func smallNetworkEndToEnd() {
        // conv → relu → maxPool → flatten → matmul → logSoftmax: every parameter at once.
        // Pre-activations are kept away from relu's kink by a check on the forward pass.
        let x = normal([2, 1, 6, 6], seed: 801)
        let w1 = normal([3, 1, 3, 3], scale: 0.5, seed: 802), b1 = normal([3], scale: 0.1, seed: 803)
        let w2 = normal([27, 4], scale: 0.3, seed: 804), b2 = normal([4], scale: 0.1, seed: 805)
        let pre = withoutGrad { x.conv2d(w1, bias: b1, padding: 1) }.doubles
        #expect(pre.allSatisfy { Swift.abs($0) > 1e-3 }, "pre-activation too close to relu's kink")
        expectGradientsMatchFiniteDifferences([x, w1, b1, w2, b2]) { t in
            let h = t[0].conv2d(t[1], bias: t[2], padding: 1).relu().maxPool2d(kernel: 2)
            return (h.flattenedBatch().matmul(t[3]) + t[4]).logSoftmax(axis: 1)
        }
    }
}

@Suite("Linear-algebra gradients")
struct LinalgGradientTests {
    @Test func determinant() {
        expectGradientsMatchFiniteDifferences(wellConditioned(4, seed: 901)) { $0.determinant() }
        // A negative determinant (rows 0 and 1 swapped).
        let a = wellConditioned(3, seed: 902).doubles
        let swapped = Tensor(Array(a[3..<6] + a[0..<3] + a[6..<9]), shape: [3, 3])
        #expect(swapped.determinant().item < 0)
        expectGradientsMatchFiniteDifferences(swapped) { $0.determinant() }
        expectGradientsMatchFiniteDifferences(normal([1, 1], seed: 903) + 2) { $0.determinant() }
    }

    @Test func logAbsDeterminant() {
        expectGradientsMatchFiniteDifferences(wellConditioned(4, seed: 911)) { $0.logAbsDeterminant() }
        let a = wellConditioned(3, seed: 912).doubles
        let swapped = Tensor(Array(a[3..<6] + a[0..<3] + a[6..<9]), shape: [3, 3])
        #expect(swapped.determinant().item < 0)
        expectGradientsMatchFiniteDifferences(swapped) { $0.logAbsDeterminant() }
        // Through a view: log|det Aᵀ| = log|det A|.
        expectGradientsMatchFiniteDifferences(wellConditioned(3, seed: 913)) { $0.transposed().logAbsDeterminant() }
        // Larger than LAPACK's block size (64): blocked getrf and getri.
        expectGradientsMatchFiniteDifferences(wellConditioned(70, seed: 914)) { $0.logAbsDeterminant() }
        expectGradientsMatchFiniteDifferences(wellConditioned(70, seed: 915)) { $0.transposed().logAbsDeterminant() * 2 }
        // n ≥ 128: with more than one engine thread, the blocked LU and the inverse share
        // their work among the threads.
        expectGradientsMatchFiniteDifferences(wellConditioned(130, diagonal: 4, seed: 916)) { $0.logAbsDeterminant() }
    }

    @Test func inverse() {
        expectGradientsMatchFiniteDifferences(wellConditioned(3, seed: 921)) { $0.inverse() }
        expectGradientsMatchFiniteDifferences(wellConditioned(4, diagonal: -2, seed: 922)) { $0.inverse() }
        expectGradientsMatchFiniteDifferences(normal([1, 1], seed: 925) + 1.5) { $0.inverse() }
        expectGradientsMatchFiniteDifferences(wellConditioned(3, seed: 923), normal([3, 2], seed: 924)) {
            $0.inverse().matmul($1)
        }
    }
}
