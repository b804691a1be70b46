import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct AffineCouplingTests {
    func coupling(channels c: Int, mask: Mask, seed: UInt64) -> AffineCoupling {
        let (cin, cout) = mask.isSpatial ? (c, 2 * c) : (c / 2, c)
        let layer = AffineCoupling(channels: c, mask: mask, network: randomisedST(cin: cin, cout: cout, seed: seed),
                                   dtype: .float64)
        layer.scale.assign(uniform(layer.scale.shape, 0.5, 1.5, seed: seed &+ 3))
        return layer
    }

    @Test(arguments: [Mask.checkerboard(parity: 0), .checkerboard(parity: 1)], [1, 2])
    func checkerboardIsInvertibleWithExactLogDet(mask: Mask, channels: Int) {
        let layer = coupling(channels: channels, mask: mask, seed: 11)
        let x = normal([2, channels, 4, 4], seed: 12)
        #expect(layer.forward(x).logDet.doubles.allSatisfy { $0 != 0 }, "s must be non-zero for a real test")
        expectFlowIsExact(layer, x, "\(mask), C = \(channels)")
    }

    @Test(arguments: [Mask.channel(parity: 0), .channel(parity: 1)])
    func channelIsInvertibleWithExactLogDet(mask: Mask) {
        let layer = coupling(channels: 4, mask: mask, seed: 21)
        expectFlowIsExact(layer, normal([2, 4, 2, 4], seed: 22), "\(mask)")
    }

    @Test func parityZeroTransformsTopLeftAndKeepsConditioningPixels() {
        let layer = coupling(channels: 1, mask: .checkerboard(parity: 0), seed: 31)
        let x = normal([1, 1, 4, 4], seed: 32)
        let y = layer.forward(x).z
        // m[i, j] = (i + j) mod 2 = 1 marks conditioning pixels, which pass through unchanged.
        for i in 0..<4 { for j in 0..<4 where (i + j) % 2 == 1 { #expect(y[0, 0, i, j] == x[0, 0, i, j]) } }
        #expect(y[0, 0, 0, 0] != x[0, 0, 0, 0])
        let other = coupling(channels: 1, mask: .checkerboard(parity: 1), seed: 31).forward(x).z
        #expect(other[0, 0, 0, 0] == x[0, 0, 0, 0])
        #expect(other[0, 0, 0, 1] != x[0, 0, 0, 1])
    }

    @Test func channelParityChoosesTheTransformedHalf() {
        let x = normal([1, 4, 2, 2], seed: 41)
        let y0 = coupling(channels: 4, mask: .channel(parity: 0), seed: 42).forward(x).z
        let y1 = coupling(channels: 4, mask: .channel(parity: 1), seed: 42).forward(x).z
        #expect(y0.slice(axis: 1, 2..<4).doubles == x.slice(axis: 1, 2..<4).doubles)  // B kept for parity 0
        #expect(y0.slice(axis: 1, 0..<2).doubles != x.slice(axis: 1, 0..<2).doubles)
        #expect(y1.slice(axis: 1, 0..<2).doubles == x.slice(axis: 1, 0..<2).doubles)  // A kept for parity 1
    }

    @Test func freshCouplingIsTheIdentity() {
        var rng = SeededGenerator(seed: 51)
        let net = STResNet(cin: 1, cout: 2, mid: 8, blocks: 1, dtype: .float64, using: &rng)
        let layer = AffineCoupling(channels: 1, mask: .checkerboard(parity: 0), network: net, dtype: .float64)
        let x = normal([2, 1, 4, 4], seed: 52)
        let (z, logDet) = layer.forward(x)
        #expect(z.doubles == x.doubles)
        #expect(logDet.doubles == [0, 0])
    }

    @Test(arguments: [Mask.checkerboard(parity: 1), .channel(parity: 0)])
    func gradientsMatchFiniteDifferences(mask: Mask) {
        // The s/t network is one 3×3 conv whose weight and bias are checked inputs, so the
        // check covers x, the network parameters and (through `scale`) the rescale below.
        let c = 2
        let (cin, cout) = mask == .checkerboard(parity: 1) ? (c, 2 * c) : (c / 2, c)
        let x = normal([2, c, 3, 4], seed: 61)
        let w = normal([cout, cin, 3, 3], scale: 0.3, seed: 62)
        let b = normal([cout], scale: 0.3, seed: 63)
        let scale = uniform([cin == c ? c : c / 2], 0.5, 1.5, seed: 64)
        expectGradientsMatchFiniteDifferences([x, w, b]) { args in
            let net = Function("st") { $0.conv2d(args[1], bias: args[2], padding: 1) }
            let layer = AffineCoupling(channels: c, mask: mask, network: net, dtype: .float64)
            layer.scale.assign(scale)
            let (z, logDet) = layer.forward(args[0])
            return Tensor.concat([z.flattenedBatch(), logDet.reshaped([2, 1])], axis: 1)
        }
        // `scale` is a Parameter of the layer: its gradient against central differences.
        let net = Function("st") { $0.conv2d(w, bias: b, padding: 1) }
        let layer = AffineCoupling(channels: c, mask: mask, network: net, dtype: .float64)
        let r = normal([2, c * 12], seed: 65)
        func loss() -> Tensor {
            let (z, logDet) = layer.forward(x)
            return (z.flattenedBatch() * r).sum() + logDet.sum()
        }
        layer.scale.assign(scale)
        loss().backward()
        let analytic = layer.scale.grad!.doubles
        var numeric: [Double] = []
        let h = 1e-6
        for k in 0..<scale.count {
            var plus = scale.doubles, minus = scale.doubles
            plus[k] += h
            minus[k] -= h
            layer.scale.assign(Tensor(plus, shape: scale.shape))
            let lp = withoutGrad { loss().item }
            layer.scale.assign(Tensor(minus, shape: scale.shape))
            let lm = withoutGrad { loss().item }
            numeric.append((lp - lm) / (2 * h))
        }
        expectClose(analytic, numeric, tolerance: 1e-6, relativeTolerance: 1e-6, "d loss / d scale")
    }

    @Test func referenceParameterCounts() {
        var rng = SeededGenerator(seed: 71)
        // reference: RESULTS.md (a), per-coupling counts 150,147 (C = 1 checkerboard) and 151,878.
        let checker = AffineCoupling(channels: 1, mask: .checkerboard(parity: 0),
                                     network: STResNet(cin: 1, cout: 2, using: &rng))
        #expect(checker.parameterCount == 150_147)
        let channel = AffineCoupling(channels: 4, mask: .channel(parity: 0),
                                     network: STResNet(cin: 2, cout: 4, using: &rng))
        #expect(channel.parameterCount == 151_878)
        let checker2 = AffineCoupling(channels: 2, mask: .checkerboard(parity: 1),
                                      network: STResNet(cin: 2, cout: 4, using: &rng))
        #expect(checker2.parameterCount == 151_878)
        // reference: RESULTS.md (a), BatchNorm contributes 640 per ST.
        let plain = AffineCoupling(channels: 1, mask: .checkerboard(parity: 0),
                                   network: STResNet(cin: 1, cout: 2, batchNorm: false, using: &rng))
        #expect(plain.parameterCount == 150_147 - 640)
    }
}
