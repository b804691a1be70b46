import Foundation
import Testing
import Tensor
import TestSupport

@Suite("Elementwise and reduction values")
struct ElementwiseReduceForwardTests {
    /// A unary op and its scalar definition from the C library.
    struct Reference: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let lo: Double, hi: Double
        let op: @Sendable (Tensor) -> Tensor
        let scalar: @Sendable (Double) -> Double
    }

    static let references: [Reference] = [
        Reference(testDescription: "exp", lo: -5, hi: 5, op: { $0.exp() }, scalar: { Foundation.exp($0) }),
        Reference(testDescription: "log", lo: 0.01, hi: 10, op: { $0.log() }, scalar: { Foundation.log($0) }),
        Reference(testDescription: "log1p", lo: -0.99, hi: 10, op: { $0.log1p() }, scalar: { Foundation.log1p($0) }),
        Reference(testDescription: "tanh", lo: -5, hi: 5, op: { $0.tanh() }, scalar: { Foundation.tanh($0) }),
        Reference(testDescription: "sigmoid", lo: -40, hi: 40, op: { $0.sigmoid() }, scalar: { 1 / (1 + Foundation.exp(-$0)) }),
        Reference(testDescription: "softplus", lo: -40, hi: 40, op: { $0.softplus() },
                  scalar: { $0 > 30 ? $0 + Foundation.exp(-$0) : Foundation.log1p(Foundation.exp($0)) }),
        Reference(testDescription: "relu", lo: -3, hi: 3, op: { $0.relu() }, scalar: { Swift.max($0, 0) }),
        Reference(testDescription: "sqrt", lo: 0, hi: 9, op: { $0.sqrt() }, scalar: { $0.squareRoot() }),
        Reference(testDescription: "square", lo: -3, hi: 3, op: { $0.square() }, scalar: { $0 * $0 }),
        Reference(testDescription: "abs", lo: -3, hi: 3, op: { $0.abs() }, scalar: { Swift.abs($0) }),
        Reference(testDescription: "pow 2.5", lo: 0, hi: 4, op: { $0.pow(2.5) }, scalar: { Foundation.pow($0, 2.5) }),
        Reference(testDescription: "pow 2 (negative bases)", lo: -3, hi: 3, op: { $0.pow(2) }, scalar: { $0 * $0 }),
        Reference(testDescription: "pow 3 (negative bases)", lo: -3, hi: 3, op: { $0.pow(3) }, scalar: { $0 * $0 * $0 }),
        Reference(testDescription: "pow -1", lo: 0.1, hi: 3, op: { $0.pow(-1) }, scalar: { 1 / $0 }),
        Reference(testDescription: "clamped", lo: -3, hi: 3, op: { $0.clamped(min: -1, max: 0.5) },
                  scalar: { Swift.min(Swift.max($0, -1), 0.5) }),
        Reference(testDescription: "affine", lo: -3, hi: 3, op: { $0.affine(scale: 2, shift: -1) }, scalar: { 2 * $0 - 1 }),
        Reference(testDescription: "2 - x", lo: -3, hi: 3, op: { 2 - $0 }, scalar: { 2 - $0 }),
        Reference(testDescription: "x / 4", lo: -3, hi: 3, op: { $0 / 4 }, scalar: { $0 / 4 }),
    ]

    /// Float64 and Float32, small and large enough (2¹⁶ elements) for the threaded kernels.
    @Test(arguments: references)
    func unaryMatchesScalarDefinition(_ r: Reference) {
        for count in [7, 1 << 16] {
            let x64 = uniform([count], r.lo, r.hi, seed: 42)
            let expected = x64.doubles.map(r.scalar)
            expectClose(r.op(x64).doubles, expected, tolerance: 1e-13 * (1 + expected.map(Swift.abs).max()!))
            let x32 = x64.cast(to: .float32)
            let expected32 = x32.doubles.map(r.scalar)
            let y32 = r.op(x32)
            #expect(y32.dtype == .float32)
            expectClose(y32.doubles, expected32, tolerance: 1e-6 * (1 + expected32.map(Swift.abs).max()!))
        }
    }

    @Test func knownValues() {
        let x = Tensor([-30, -2.5, -0.5, 0, 0.75, 3, 30] as [Double], shape: [7])
        // reference: torch 2.15 softplus / sigmoid (float64) of the same inputs
        // (torch's softplus returns x above its threshold 20; 30 + e⁻³⁰ rounds to 30.000000000000092)
        expectClose(x.softplus(), [9.357622968839737e-14, 0.07888973429254963, 0.4740769841801067, 0.6931471805599453,
                                   1.1368710061148999, 3.048587351573742, 30.000000000000092], tolerance: 1e-15)
        expectClose(x.sigmoid(), [9.357622968839299e-14, 0.07585818002124355, 0.3775406687981454, 0.5,
                                  0.679178699175393, 0.9525741268224334, 0.9999999999999065], tolerance: 1e-15)
        // reference: torch 2.15 logsumexp([1, 2]) = 2.313261687518223 (float64), 2.3132617 (float32)
        expectClose(Tensor([1, 2] as [Double], shape: [2]).logSumExp(axis: 0), [2.313261687518223], tolerance: 1e-15)
        expectClose(Tensor([1, 2] as [Float], shape: [2]).logSumExp(axis: 0), [2.3132617473602295], tolerance: 1e-7)
        // reference: torch 2.15 logsumexp([1000, 1000]) = 1000.6931471805599 (no overflow)
        expectClose(Tensor([1000, 1000] as [Double], shape: [1, 2]).logSumExp(axis: 1), [1000.6931471805599], tolerance: 1e-12)
        // reference: torch 2.15 log_softmax([1, 2, 3]) = [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804]
        expectClose(Tensor([1, 2, 3] as [Double], shape: [1, 3]).logSoftmax(axis: 1),
                    [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804], shape: [1, 3], tolerance: 1e-15)
        // reference: population variance of [1, 2, 3, 4] = 1.25 (torch.var(unbiased=False))
        expectClose(Tensor([1, 2, 3, 4] as [Double], shape: [4]).variance(axes: [0]), [1.25], shape: [], tolerance: 1e-15)
        // Binary ops and NaN propagation in maximum/minimum.
        let a = Tensor([1, -2, .nan] as [Double], shape: [3]), b = Tensor([0.5, 3, 1] as [Double], shape: [3])
        let mx = a.maximum(b).doubles, mn = a.minimum(b).doubles
        #expect(mx[0] == 1 && mx[1] == 3 && mx[2].isNaN)
        #expect(mn[0] == 0.5 && mn[1] == -2 && mn[2].isNaN)
        #expect((a / b).doubles[0...1] == [2, -2.0 / 3])
    }

    @Test func softmaxRowsSumToOne() {
        let p = normal([4, 7], scale: 5, seed: 50).softmax(axis: 1)
        expectClose(p.sum(axes: [1]), [1, 1, 1, 1], tolerance: 1e-14)
        #expect(p.doubles.allSatisfy { $0 > 0 })
    }

    @Test func broadcastingBinaryValues() {
        // [4,1] * [3] -> [4,3]: outer product.
        let col = Tensor([1, 2, 3, 4] as [Double], shape: [4, 1]), row = Tensor([10, 20, 30] as [Double], shape: [3])
        expectClose(col * row, [10, 20, 30, 20, 40, 60, 30, 60, 90, 40, 80, 120], shape: [4, 3])
        expectClose(row - col, [9, 19, 29, 8, 18, 28, 7, 17, 27, 6, 16, 26], shape: [4, 3])
        expectClose(col / row, [0.1, 0.05, 1.0 / 30, 0.2, 0.1, 2.0 / 30, 0.3, 0.15, 0.1, 0.4, 0.2, 4.0 / 30], shape: [4, 3],
                    tolerance: 1e-16)
        // [2,3,4,5] + [1,3,1,1] against index arithmetic, Float32 and Float64, dense and strided.
        for dtype in DType.allCases {
            let x = Tensor((0..<120).map(Double.init), shape: [2, 3, 4, 5], dtype: dtype)
            let c = Tensor([1000, 2000, 3000], shape: [1, 3, 1, 1], dtype: dtype)
            var expected: [Double] = []
            for n in 0..<2 { for ch in 0..<3 { for i in 0..<20 { expected.append(Double(n * 60 + ch * 20 + i) + Double(1000 * (ch + 1))) } } }
            expectClose(x + c, expected, shape: [2, 3, 4, 5])
            expectClose(c + x, expected, shape: [2, 3, 4, 5])
            // Permuted operand: y[n, c, i, j] = x[n, c, j, i] over a [2,3,5,4] view.
            let xt = x.permuted([0, 1, 3, 2])
            var expectedT: [Double] = []
            for n in 0..<2 { for ch in 0..<3 { for j in 0..<5 { for i in 0..<4 {
                expectedT.append(Double(n * 60 + ch * 20 + i * 5 + j) + Double(1000 * (ch + 1)))
            } } } }
            expectClose(xt + c, expectedT, shape: [2, 3, 5, 4])
        }
        // Large broadcast (threaded path): [300, 257] - [257].
        let big = uniform([300, 257], -1, 1, seed: 51), bias = uniform([257], -1, 1, seed: 52)
        let bv = big.doubles, cv = bias.doubles
        expectClose(big - bias, bv.indices.map { bv[$0] - cv[$0 % 257] }, tolerance: 0)
        expectClose(big.cast(to: .float32) * bias.cast(to: .float32),
                    bv.indices.map { Double(Float(bv[$0]) * Float(cv[$0 % 257])) }, tolerance: 0)
    }

    /// Naive sum over `axes` of a row-major tensor of `shape` (keepDims layout).
    static func naiveSum(_ x: [Double], _ shape: [Int], _ axes: Set<Int>) -> [Double] {
        let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let keptStrides = Tensor.denseStrides(kept)
        var out = [Double](repeating: 0, count: kept.reduce(1, *))
        let strides = Tensor.denseStrides(shape)
        for flat in x.indices {
            var o = 0
            for d in shape.indices where !axes.contains(d) { o += (flat / strides[d]) % shape[d] * keptStrides[d] }
            out[o] += x[flat]
        }
        return out
    }

    @Test(arguments: [[2, 3, 4, 5], [2, 1, 3, 1]])
    func sumOverEveryAxisSubset(_ shape: [Int]) {
        for dtype in DType.allCases {
            let x = uniform(shape, -1, 1, seed: 53).cast(to: dtype)
            let xv = x.doubles
            for mask in 0..<16 {
                let axes = (0..<4).filter { mask & (1 << $0) != 0 }
                let expected = Self.naiveSum(xv, shape, Set(axes))
                let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
                let tol = dtype == .float32 ? 1e-5 : 1e-13
                expectClose(x.sum(axes: axes, keepDims: true), expected, shape: kept, tolerance: tol)
                expectClose(x.sum(axes: axes), expected, shape: shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element),
                            tolerance: tol)
                let n = Double(axes.reduce(1) { $0 * shape[$1] })
                expectClose(x.mean(axes: axes), expected.map { $0 / n }, tolerance: tol)
            }
            // Negative axes and non-contiguous views.
            expectClose(x.sum(axes: [-1, -3]), Self.naiveSum(xv, shape, [1, 3]), shape: [shape[0], shape[2]], tolerance: 1e-5)
            let p = x.permuted([3, 1, 0, 2])
            let pShape = [3, 1, 0, 2].map { shape[$0] }
            expectClose(p.sum(axes: [0, 3]), Self.naiveSum(p.doubles, pShape, [0, 3]), shape: [pShape[1], pShape[2]],
                        tolerance: 1e-5)
        }
    }

    @Test func largeSumsRunOnSeveralThreads() {
        // Large reductions run on several threads: rows (trailing axis) and columns (leading axis).
        let big = uniform([513, 300], 0, 1, seed: 54)
        let bv = big.doubles
        expectClose(big.sum(axes: [1]), Self.naiveSum(bv, [513, 300], [1]), tolerance: 1e-10)
        expectClose(big.sum(axes: [0]), Self.naiveSum(bv, [513, 300], [0]), tolerance: 1e-10)
        expectClose(big.sum(), [bv.reduce(0, +)], shape: [], tolerance: 1e-6)
    }

    @Test func maxAlongAxes() {
        let x = Tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8] as [Double], shape: [2, 2, 3])
        // By hand: rows [3,1,4] [1,5,9] [2,6,5] [3,5,8].
        expectClose(x.max(axis: 2), [4, 9, 6, 8], shape: [2, 2])
        expectClose(x.max(axis: -1, keepDims: true), [4, 9, 6, 8], shape: [2, 2, 1])
        expectClose(x.max(axis: 1), [3, 5, 9, 3, 6, 8], shape: [2, 3])
        expectClose(x.max(axis: 0), [3, 6, 5, 3, 5, 9], shape: [2, 3])
        let (values, indices) = x.maxWithIndices(axis: 2)
        expectClose(values, [4, 9, 6, 8], shape: [2, 2])
        #expect(indices == [2, 2, 1, 2])
        // Ties: the first maximal element gets the gradient.
        let t = Tensor([2, 7, 7, 1] as [Double], shape: [4]).requiringGrad()
        t.max(axis: 0).backward()
        #expect(t.grad?.doubles == [0, 1, 0, 0])
    }

    @Test func variance() {
        let x = normal([6, 4], seed: 55)
        let v = x.doubles
        for j in 0..<4 {
            let col = (0..<6).map { v[$0 * 4 + j] }
            let m = col.reduce(0, +) / 6
            let expected = col.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 6
            #expect(Swift.abs(x.variance(axes: [0]).doubles[j] - expected) < 1e-14)
        }
        #expect(x.variance(axes: [0, 1], keepDims: true).shape == [1, 1])
    }

    @Test func poolingValues() {
        let x = Tensor((1...16).map(Double.init), shape: [1, 1, 4, 4])
        // reference: torch 2.15 max_pool2d / avg_pool2d of arange(1, 17).view(1, 1, 4, 4)
        expectClose(x.maxPool2d(kernel: 2), [6, 8, 14, 16], shape: [1, 1, 2, 2])
        expectClose(x.avgPool2d(kernel: 2), [3.5, 5.5, 11.5, 13.5], shape: [1, 1, 2, 2])
        expectClose(x.maxPool2d(kernel: 3, stride: 1), [11, 12, 15, 16], shape: [1, 1, 2, 2])
        expectClose(x.avgPool2d(kernel: 3, stride: 1), [6, 7, 10, 11], shape: [1, 1, 2, 2])
        expectClose(x.globalAvgPool2d(), [8.5], shape: [1, 1])
        // Channels and batch are pooled independently.
        let values: [Double] = (0..<48).map { (i: Int) -> Double in
            let v = Double(i % 16)
            return i / 16 == 1 ? -v : v
        }
        let y = Tensor(values, shape: [3, 1, 4, 4], dtype: .float32)
        #expect(y.maxPool2d(kernel: 2).doubles == [5, 7, 13, 15, 0, -2, -8, -10, 5, 7, 13, 15])
        // Max-pooling a negative window: no implicit zero padding.
        #expect(Tensor([-3, -1, -2, -5] as [Float], shape: [1, 1, 2, 2]).maxPool2d(kernel: 2).doubles == [-1])
    }
}
