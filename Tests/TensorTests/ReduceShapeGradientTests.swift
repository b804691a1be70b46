import Testing
import Tensor
import TestSupport

@Suite("Reduction gradients")
struct ReduceGradientTests {
    static let cases: [UnaryCase] = [
        UnaryCase("sum all", { normal([2, 3, 4], seed: 301) }) { $0.sum() },
        UnaryCase("sum axis 1", { normal([2, 3, 4], seed: 302) }) { $0.sum(axes: [1]) },
        UnaryCase("sum axis 0 (leading)", { normal([2, 3, 4], seed: 303) }) { $0.sum(axes: [0]) },
        UnaryCase("sum axis -1 (trailing)", { normal([2, 3, 4], seed: 304) }) { $0.sum(axes: [-1]) },
        UnaryCase("sum axes [0,2] keepDims", { normal([2, 3, 4], seed: 305) }) { $0.sum(axes: [0, 2], keepDims: true) },
        UnaryCase("sum axes [1,3] of rank 4", { normal([2, 3, 4, 5], seed: 306) }) { $0.sum(axes: [1, 3]) },
        UnaryCase("sum of a permuted view", { normal([2, 3, 4], seed: 307) }) { $0.permuted([2, 0, 1]).sum(axes: [1]) },
        UnaryCase("mean all", { normal([2, 3, 4], seed: 308) }) { $0.mean() },
        UnaryCase("mean axes [1,2]", { normal([2, 3, 4], seed: 309) }) { $0.mean(axes: [1, 2]) },
        UnaryCase("mean axis 0 keepDims", { normal([2, 3, 4], seed: 310) }) { $0.mean(axes: [0], keepDims: true) },
        UnaryCase("variance axis 0", { normal([5, 3], seed: 311) }) { $0.variance(axes: [0]) },
        UnaryCase("variance axes [0,2,3] keepDims", { normal([2, 3, 2, 2], seed: 312) }) {
            $0.variance(axes: [0, 2, 3], keepDims: true)
        },
        UnaryCase("max axis 1", { distinct([2, 5, 3], seed: 313) }) { $0.max(axis: 1) },
        UnaryCase("max axis -1 keepDims", { distinct([2, 3, 4], seed: 314) }) { $0.max(axis: -1, keepDims: true) },
        UnaryCase("max axis 0", { distinct([4, 3], seed: 315) }) { $0.max(axis: 0) },
        UnaryCase("max of a sliced view", { distinct([3, 6], seed: 316) }) { $0.slice(axis: 1, 1..<5).max(axis: 1) },
        UnaryCase("logSumExp axis 1", { normal([3, 5], scale: 2, seed: 317) }) { $0.logSumExp(axis: 1) },
        UnaryCase("logSumExp axis -1", { normal([2, 3, 4], seed: 325) }) { $0.logSumExp(axis: -1) },
        UnaryCase("sum over size-1 axes", { normal([2, 1, 3, 1], seed: 326) }) { $0.sum(axes: [1, 2]) },
        UnaryCase("logSumExp axis 0 keepDims", { normal([3, 5], scale: 2, seed: 318) }) {
            $0.logSumExp(axis: 0, keepDims: true)
        },
        UnaryCase("logSumExp of large values", { normal([2, 4], scale: 2, seed: 319) + 500 }) { $0.logSumExp(axis: 1) },
        UnaryCase("logSoftmax axis 1", { normal([3, 5], scale: 2, seed: 320) }) { $0.logSoftmax(axis: 1) },
        UnaryCase("logSoftmax axis -1 of rank 3", { normal([2, 3, 4], seed: 321) }) { $0.logSoftmax(axis: -1) },
        UnaryCase("logSoftmax axis 0 of a transposed view", { normal([5, 3], seed: 322) }) {
            $0.transposed().logSoftmax(axis: 0)
        },
        UnaryCase("softmax axis 1", { normal([3, 5], seed: 323) }) { $0.softmax(axis: 1) },
        UnaryCase("globalAvgPool2d", { normal([2, 3, 4, 5], seed: 324) }) { $0.globalAvgPool2d() },
    ]

    @Test(arguments: cases)
    func reduction(_ c: UnaryCase) {
        expectGradientsMatchFiniteDifferences(c.input(), c.f)
    }
}

@Suite("Shape-op gradients")
struct ShapeGradientTests {
    static let cases: [UnaryCase] = [
        UnaryCase("reshaped [-1, 4]", { normal([2, 3, 4], seed: 401) }) { $0.reshaped([-1, 4]) * 1.5 },
        UnaryCase("reshaped of a permuted view", { normal([2, 3, 4], seed: 402) }) {
            $0.permuted([2, 1, 0]).reshaped([4, 6])
        },
        UnaryCase("flattenedBatch", { normal([2, 3, 2, 2], seed: 403) }) { $0.flattenedBatch() },
        UnaryCase("permuted", { normal([2, 3, 4], seed: 404) }) { $0.permuted([2, 0, 1]) },
        UnaryCase("transposed", { normal([3, 5], seed: 405) }) { $0.transposed() },
        UnaryCase("slice axis 1", { normal([2, 5, 3], seed: 406) }) { $0.slice(axis: 1, 1..<4) },
        UnaryCase("slice axis -1", { normal([2, 5, 3], seed: 407) }) { $0.slice(axis: -1, 2..<3) },
        UnaryCase("slice of a permuted view", { normal([2, 5, 3], seed: 408) }) {
            $0.permuted([1, 2, 0]).slice(axis: 0, 1..<3)
        },
        UnaryCase("split reordered", { normal([2, 6, 3], seed: 409) }) { x in
            let p = x.split(axis: 1, sizes: [1, 3, 2])
            return Tensor.concat([p[2], p[0].exp(), p[1]], axis: 1)
        },
        UnaryCase("split, one piece used", { normal([2, 6], seed: 410) }) { $0.split(axis: 1, sizes: [2, 4])[1] },
        UnaryCase("chunked", { normal([4, 3], seed: 411) }) { x in
            let c = x.chunked(2, axis: 0)
            return c[0] * c[1]
        },
        UnaryCase("expanded [3,1] to [2,3,4]", { normal([3, 1], seed: 412) }) { $0.expanded(to: [2, 3, 4]) },
        UnaryCase("expanded [1,4] to [3,4]", { normal([1, 4], seed: 413) }) { $0.expanded(to: [3, 4]) },
        UnaryCase("squeezed2x2", { normal([2, 3, 4, 6], seed: 414) }) { $0.squeezed2x2() },
        UnaryCase("unsqueezed2x2", { normal([2, 8, 3, 2], seed: 415) }) { $0.unsqueezed2x2() },
        UnaryCase("squeezed2x2 of a permuted view", { normal([2, 4, 6, 3], seed: 416) }) {
            $0.permuted([0, 3, 1, 2]).squeezed2x2()
        },
    ]

    @Test(arguments: cases)
    func shapeOp(_ c: UnaryCase) {
        expectGradientsMatchFiniteDifferences(c.input(), c.f)
    }

    @Test func concatGradientsReachEveryPart() {
        let a = normal([2, 1, 3], seed: 420), b = normal([2, 4, 3], seed: 421), c = normal([2, 2, 3], seed: 422)
        expectGradientsMatchFiniteDifferences([a, b, c]) { Tensor.concat($0, axis: 1) }
        expectGradientsMatchFiniteDifferences([a, b, c]) { Tensor.concat($0, axis: -2).tanh() }
        let d = normal([3, 3], seed: 423), e = normal([3, 1], seed: 424)
        expectGradientsMatchFiniteDifferences(d, e) { Tensor.concat([$0, $1.transposed()], axis: 0) }
        // The same tensor as several parts: the slices' gradients accumulate.
        expectGradientsMatchFiniteDifferences(d) { Tensor.concat([$0, $0.exp(), $0], axis: 1) }
        // Non-contiguous parts.
        expectGradientsMatchFiniteDifferences(d, normal([3, 5], seed: 425)) {
            Tensor.concat([$0.transposed(), $1.slice(axis: 1, 1..<4)], axis: 1)
        }
    }
}
