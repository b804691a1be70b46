import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct SequentialFlowTests {
    func composed() -> SequentialFlow {
        var rng = SeededGenerator(seed: 1)
        let actNorm = ActNorm(2, dtype: .float64)
        actNorm.initialize(from: normal([4, 2, 4, 4], scale: 2, seed: 2))
        let couplingA = AffineCoupling(channels: 2, mask: .checkerboard(parity: 0),
                                       network: randomisedST(cin: 2, cout: 4, seed: 3), dtype: .float64)
        let couplingB = AffineCoupling(channels: 2, mask: .channel(parity: 1),
                                       network: randomisedST(cin: 1, cout: 2, seed: 4), dtype: .float64)
        return SequentialFlow([
            actNorm,
            InvertibleConv1x1(2, parameterization: .lu, dtype: .float64, using: &rng),
            couplingA,
            InvertibleConv1x1(2, parameterization: .full, dtype: .float64, using: &rng),
            couplingB,
        ])
    }

    @Test func logDetsAddUpAndInverseRunsInReverse() {
        let flow = composed()
        let x = normal([2, 2, 4, 4], seed: 5)
        let (z, logDet) = flow.forward(x)
        var h = x, sum = [0.0, 0.0]
        for layer in flow.layers {
            let (next, ld) = layer.forward(h)
            h = next
            sum = zip(sum, ld.doubles).map { $0 + $1 }
        }
        #expect(z.doubles == h.doubles)
        expectClose(logDet, sum, tolerance: 1e-12)
        expectFlowIsExact(flow, x, "composed flow")
    }

    @Test func emptyFlowIsTheIdentity() {
        let (z, logDet) = SequentialFlow([]).forward(normal([3, 4], seed: 6))
        #expect(z.doubles == normal([3, 4], seed: 6).doubles)
        #expect(logDet.doubles == [0, 0, 0])
    }

    @Test func parametersAreNamedByPosition() {
        let names = composed().namedParameters().map(\.0)
        #expect(names.contains("0.initialized"))
        #expect(names.contains("2.scale"))
        #expect(names.contains("3.weight"))
    }
}
