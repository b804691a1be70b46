import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct InvertibleLinearTests {
    @Test func initIsOrthogonal() {
        var rng = SeededGenerator(seed: 1)
        let layer = InvertibleLinear(5, dtype: .float64, using: &rng)
        let w = layer.weight.value
        var eye = [Double](repeating: 0, count: 25)
        for i in 0..<5 { eye[i * 5 + i] = 1 }
        expectClose(w.matmul(w.transposed()), eye, tolerance: 1e-12)
        expectClose(layer.forward(normal([3, 5], seed: 2)).logDet, [0, 0, 0], tolerance: 1e-12)
    }

    @Test func evaluationReusesLogDetOnlyWhileWeightIsUnchanged() {
        var rng = SeededGenerator(seed: 30)
        let layer = InvertibleLinear(6, dtype: .float64, using: &rng)
        let x = normal([2, 6], seed: 31)
        func evalLogDet() -> Double { withoutGrad { layer.forward(x).logDet.doubles[0] } }
        func fresh() -> Double { withoutGrad { layer.weight.value.logAbsDeterminant().item } }
        layer.weight.assign(wellConditioned(6, seed: 32))
        let first = evalLogDet()
        #expect(first == fresh())
        #expect(evalLogDet() == first)
        // A new weight (assign), then an in-place update as an optimiser makes: recomputed.
        layer.weight.assign(wellConditioned(6, diagonal: 3, seed: 33))
        #expect(evalLogDet() == fresh())
        #expect(evalLogDet() != first)
        layer.weight.value.withUnsafeMutablePointer(as: Double.self) { $0[7] += 0.25 }
        #expect(evalLogDet() == fresh())
        // Training mode records the gradient, so it always factorises (and agrees).
        let (_, logDet) = layer.forward(x.requiringGrad())
        #expect(logDet.requiresGrad)
        #expect(logDet.doubles[0] == fresh())
    }

    @Test func isInvertibleWithExactLogDet() {
        var rng = SeededGenerator(seed: 3)
        let layer = InvertibleLinear(6, dtype: .float64, using: &rng)
        layer.weight.assign(wellConditioned(6, seed: 4))
        expectFlowIsExact(layer, normal([3, 6], seed: 5), "InvertibleLinear")
    }
}

@Suite struct InvertibleConv1x1Tests {
    @Test(arguments: [InvertibleConv1x1.Parameterization.full, .lu])
    func initIsOrthogonalAndLogDetZero(form: InvertibleConv1x1.Parameterization) {
        var rng = SeededGenerator(seed: 6)
        let layer = InvertibleConv1x1(4, parameterization: form, dtype: .float64, using: &rng)
        let w = layer.matrix().w
        var eye = [Double](repeating: 0, count: 16)
        for i in 0..<4 { eye[i * 4 + i] = 1 }
        expectClose(w.matmul(w.transposed()), eye, tolerance: 1e-12, "\(form)")
        expectClose(layer.forward(normal([2, 4, 2, 2], seed: 7)).logDet, [0, 0], tolerance: 1e-12)
    }

    @Test func luAndFullStartFromTheSameMatrix() {
        var a = SeededGenerator(seed: 8), b = SeededGenerator(seed: 8)
        let full = InvertibleConv1x1(5, parameterization: .full, dtype: .float64, using: &a)
        let lu = InvertibleConv1x1(5, parameterization: .lu, dtype: .float64, using: &b)
        expectClose(lu.matrix().w, full.matrix().w.doubles, tolerance: 1e-12)
    }

    @Test(arguments: [InvertibleConv1x1.Parameterization.full, .lu])
    func isInvertibleWithExactLogDet(form: InvertibleConv1x1.Parameterization) {
        var rng = SeededGenerator(seed: 9)
        let layer = InvertibleConv1x1(3, parameterization: form, dtype: .float64, using: &rng)
        // Move away from the orthogonal init so log|det| ≠ 0.
        for (i, (_, p)) in layer.namedParameters().enumerated() where p.isTrainable {
            p.assign(p.value + normal(p.shape, scale: 0.3, seed: 10 + UInt64(i)))
        }
        #expect(Swift.abs(layer.matrix().logAbsDet.item) > 0.01)
        expectFlowIsExact(layer, normal([2, 3, 2, 3], seed: 20), "InvertibleConv1x1 \(form)")
    }

    @Test func luGradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 21)
        let layer = InvertibleConv1x1(3, parameterization: .lu, dtype: .float64, using: &rng)
        let x = normal([2, 3, 2, 2], seed: 22)
        let r = normal([2, 12], seed: 23)
        func loss() -> Double {
            let (z, logDet) = layer.forward(x)
            return ((z.flattenedBatch() * r).sum() + logDet.sum()).item
        }
        for p in layer.trainableParameters {
            layer.zeroGrad()
            let (z, logDet) = layer.forward(x)
            ((z.flattenedBatch() * r).sum() + logDet.sum()).backward()
            let analytic = p.grad!.doubles
            let base = p.value.doubles
            var numeric: [Double] = []
            for k in base.indices {
                var plus = base, minus = base
                plus[k] += 1e-6
                minus[k] -= 1e-6
                p.assign(Tensor(plus, shape: p.shape))
                let lp = withoutGrad { loss() }
                p.assign(Tensor(minus, shape: p.shape))
                let lm = withoutGrad { loss() }
                p.assign(Tensor(base, shape: p.shape))
                numeric.append((lp - lm) / 2e-6)
            }
            // Masked entries of L and U get no gradient: both sides are 0 there.
            expectClose(analytic, numeric, tolerance: 1e-6, relativeTolerance: 1e-6)
        }
    }
}
