import Testing
import Tensor
import TestSupport

@Suite("Shapes, views and layout")
struct ShapeTests {
    @Test func squeeze2x2Layout() {
        // Output channel 4c + 2·dy + dx holds pixel (2i + dy, 2j + dx) of input channel c.
        let (b, c, h, w) = (2, 3, 4, 6)
        let x = Tensor.arange(b * c * h * w, dtype: .float64).reshaped([b, c, h, w])
        let y = x.squeezed2x2()
        #expect(y.shape == [b, 4 * c, h / 2, w / 2])
        for n in 0..<b { for ch in 0..<c { for i in 0..<(h / 2) { for j in 0..<(w / 2) {
            for dy in 0..<2 { for dx in 0..<2 {
                #expect(y[n, 4 * ch + 2 * dy + dx, i, j] == x[n, ch, 2 * i + dy, 2 * j + dx])
            } }
        } } } }
        // By hand for a 1×1×2×2 image [[a, b], [c, d]]: channels (a, b, c, d).
        #expect(Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2]).squeezed2x2().scalars == [1, 2, 3, 4])
        #expect(Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2]).squeezed2x2().shape == [1, 4, 1, 1])
    }

    @Test func unsqueezeInvertsSqueeze() {
        let x = normal([2, 3, 4, 6], seed: 1)
        #expect(x.squeezed2x2().unsqueezed2x2().shape == x.shape)
        #expect(x.squeezed2x2().unsqueezed2x2().doubles == x.doubles)
        let z = normal([2, 8, 3, 5], seed: 2)
        #expect(z.unsqueezed2x2().shape == [2, 2, 6, 10])
        #expect(z.unsqueezed2x2().squeezed2x2().doubles == z.doubles)
        // From a non-contiguous view.
        let v = normal([2, 4, 6, 3], seed: 3).permuted([0, 3, 1, 2])
        #expect(v.squeezed2x2().unsqueezed2x2().doubles == v.doubles)
    }

    @Test func broadcastShapes() {
        #expect(broadcastShape([2, 3, 4, 5], [1, 3, 1, 1]) == [2, 3, 4, 5])
        #expect(broadcastShape([4, 1], [3]) == [4, 3])
        #expect(broadcastShape([3], [4, 1]) == [4, 3])
        #expect(broadcastShape([5, 1, 3], [4, 1]) == [5, 4, 3])
        #expect(broadcastShape([], [2, 3]) == [2, 3])
        #expect(broadcastShape([1], [1]) == [1])
        #expect(broadcastShape([2, 1], [1, 0]) == [2, 0])
        #expect((Tensor.zeros([4, 1]) + Tensor.zeros([3])).shape == [4, 3])
        #expect((Tensor.zeros([1, 3, 1, 1]) * Tensor.zeros([2, 3, 4, 5])).shape == [2, 3, 4, 5])
    }

    @Test func reshapeWithInferredDimension() {
        let x = Tensor.arange(24).reshaped([2, 3, 4])
        #expect(x.reshaped([-1, 4]).shape == [6, 4])
        #expect(x.reshaped([4, -1]).shape == [4, 6])
        #expect(x.reshaped([2, -1, 2]).shape == [2, 6, 2])
        #expect(x.reshaped([-1]).shape == [24])
        #expect(x.reshaped([-1]).scalars == (0..<24).map(Float.init))
        #expect(x.flattenedBatch().shape == [2, 12])
        // Reshaping a permuted view reads it in its own row-major order.
        let t = Tensor.arange(6).reshaped([2, 3]).transposed()
        #expect(!t.isContiguous)
        #expect(t.reshaped([-1]).scalars == [0, 3, 1, 4, 2, 5])
        // A contiguous reshape is a view on the same storage.
        #expect(x.reshaped([6, 4]).storage === x.storage)
    }

    @Test func viewsShareStorageAndIndexCorrectly() {
        let x = Tensor.arange(24, dtype: .float64).reshaped([2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p.storage === x.storage)
        #expect(p[3, 1, 2] == x[1, 2, 3])
        let s = x.slice(axis: 2, 1..<3)
        #expect(s.shape == [2, 3, 2])
        #expect(s.doubles == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        #expect(x.slice(axis: -2, 2..<3).doubles == [8, 9, 10, 11, 20, 21, 22, 23])
        let parts = x.split(axis: 1, sizes: [1, 2])
        #expect(parts.map(\.shape) == [[2, 1, 4], [2, 2, 4]])
        #expect(Tensor.concat(parts, axis: 1).doubles == x.doubles)
        let chunks = x.chunked(2, axis: 2)
        #expect(chunks[1].doubles == [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23])
        #expect(Tensor.concat([chunks[1], chunks[0]], axis: -1).shape == [2, 3, 4])
        let e = Tensor([1, 2, 3] as [Double], shape: [3, 1]).expanded(to: [2, 3, 4])
        #expect(e.strides == [0, 1, 0])
        let expanded: [Double] = (0..<24).map { (i: Int) -> Double in Double((i / 4) % 3 + 1) }
        #expect(e.doubles == expanded)
        #expect(p.contiguous().isContiguous)
        #expect(p.contiguous().doubles == p.doubles)
    }

    @Test func sumToShape() {
        let x = Tensor.arange(24, dtype: .float64).reshaped([2, 3, 4])
        // By index arithmetic: x[n, c, i] = 12n + 4c + i.
        // To [3, 1]: Σ over n and i of (12n + 4c + i) = 2·4·4c + 4·12 + 2·6 = 32c + 60.
        expectClose(x.sumToShape([3, 1]), [60, 92, 124], shape: [3, 1])
        // To [1, 3, 1]: same sums, leading dimension kept.
        expectClose(x.sumToShape([1, 3, 1]), [60, 92, 124], shape: [1, 3, 1])
        // To [4]: Σ over n and c of (12n + 4c + i) = 3·12 + 2·12 + 6i = 60 + 6i.
        expectClose(x.sumToShape([4]), [60, 66, 72, 78], shape: [4])
        // To [] (a scalar): 0 + 1 + … + 23 = 276.
        expectClose(x.sumToShape([]), [276], shape: [])
        // Same shape: unchanged.
        #expect(x.sumToShape([2, 3, 4]).doubles == x.doubles)
        // To [2, 1, 4]: Σ over c of (12n + 4c + i) = 36n + 12 + 3i.
        expectClose(x.sumToShape([2, 1, 4]), [12, 15, 18, 21, 48, 51, 54, 57], shape: [2, 1, 4])
    }

    @Test func castAndCopy() {
        let x = Tensor([1.5, -2.25, 3] as [Double], shape: [3])
        let f = x.cast(to: .float32)
        #expect(f.dtype == .float32)
        #expect(f.scalars == [1.5, -2.25, 3])
        #expect(f.cast(to: .float64).doubles == [1.5, -2.25, 3])
        let c = x.copy()
        #expect(c.storage !== x.storage)
        #expect(c.doubles == x.doubles)
        #expect(Tensor(scalar: 2.5).item == 2.5)
        #expect(Tensor.full(0.5, shape: [2, 2], dtype: .float64).doubles == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func withoutGradRecordsNothing() {
        let x = normal([3], seed: 4).requiringGrad()
        #expect((x * 2).requiresGrad)
        #expect(!withoutGrad { x * 2 }.requiresGrad)
        #expect(!withoutGrad { x.exp().sum() }.requiresGrad)
        #expect(!(Tensor.ones([3]) * 2).requiresGrad)
    }

    @Test func gradientsAccumulateAcrossBackwardPasses() {
        // d/dx Σ 3x = 3 per pass; two passes accumulate 6; zeroGrad clears.
        let x = Tensor([1, 2] as [Double], shape: [2]).requiringGrad()
        (x * 3).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad?.doubles == [6, 6])
        x.node?.zeroGrad()
        #expect(x.grad == nil)
    }
}
