import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct STNetTests {
    static let kinds: [STNet] = [.resnet, .resnetNoBatchNorm, .highway, .bottleneck(3)]

    func network(_ kind: STNet, cin: Int = 2, cout: Int = 4, height: Int = 4, width: Int = 4, mid: Int = 4,
                 blocks: Int = 2, seed: UInt64 = 1) -> any CouplingNetwork {
        var rng = SeededGenerator(seed: seed)
        return kind.makeNetwork(cin: cin, cout: cout, height: height, width: width, mid: mid, blocks: blocks,
                                batchNorm: true, dtype: .float64, using: &rng)
    }

    @Test(arguments: kinds)
    func freshCouplingIsTheIdentity(kind: STNet) {
        let layer = AffineCoupling(channels: 2, mask: .checkerboard(parity: 0), network: network(kind), dtype: .float64)
        let x = normal([2, 2, 4, 4], seed: 2)
        let (z, logDet) = layer.forward(x)
        #expect(z.doubles == x.doubles)
        #expect(logDet.doubles == [0, 0])
    }

    @Test(arguments: kinds, [Mask.checkerboard(parity: 1), .channel(parity: 0), .quadrant(from: 2, to: 1)])
    func couplingIsInvertibleWithExactLogDet(kind: STNet, mask: Mask) {
        let c = 2
        let layer = randomisedCoupling(channels: c, height: 4, width: 4, mask: mask, stNet: kind, seed: 3)
        let x = normal([2, c, 4, 4], seed: 4)
        #expect(layer.forward(x).logDet.doubles.allSatisfy { $0 != 0 }, "s must be non-zero for a real test")
        expectFlowIsExact(layer, x, "\(kind), \(mask)")
    }

    @Test func batchNormFollowsTheKind() {
        func norms(_ kind: STNet) -> Int {
            network(kind).namedParameters().filter { $0.0.contains("running_mean") }.count
        }
        #expect(norms(.resnet) == 5)  // two per block and one before the output conv
        #expect(norms(.resnetNoBatchNorm) == 0)
        #expect(norms(.highway) == 0)
        #expect(norms(.bottleneck(3)) == 5)
    }

    @Test func parameterCountsFollowTheFormulas() {
        let (cin, cout, mid, blocks, h, w, k) = (2, 4, 4, 2, 4, 6, 3)
        let resnetNoBN = 9 * mid * cin + mid + blocks * 2 * (9 * mid * mid + mid) + 9 * mid * cout + cout
        let bn = blocks * 4 * mid + 2 * mid
        func count(_ kind: STNet) -> Int {
            network(kind, cin: cin, cout: cout, height: h, width: w, mid: mid, blocks: blocks).parameterCount
        }
        #expect(count(.resnet) == resnetNoBN + bn)
        #expect(count(.resnetNoBatchNorm) == resnetNoBN)
        // Highway: 3×3 input conv, two 3×3 convs per layer, 1×1 output conv.
        #expect(count(.highway) == 9 * mid * cin + mid + blocks * 2 * (9 * mid * mid + mid) + mid * cout + cout)
        // Bottleneck: Linear(mid·H·W → k) and Linear(k → mid·H·W) on top of the ResNet.
        #expect(count(.bottleneck(k)) == resnetNoBN + bn + (mid * h * w * k + k) + (k * mid * h * w + mid * h * w))
    }

    @Test func bottleneckSitsInTheMiddleWithNoSkipAroundIt() {
        let net = network(.bottleneck(3), blocks: 2) as! STResNet
        #expect(net.bottleneckPosition == 1)
        let names = net.namedParameters().map(\.0)
        let encode = names.firstIndex(of: "bottleneck.encode.weight")!
        #expect(names.firstIndex(of: "blocks.0.conv2.bias")! < encode)
        #expect(encode < names.firstIndex(of: "blocks.1.conv1.weight")!)
        randomiseOutput(of: net, std: 0.3, seed: 5)
        net.setTraining(false)
        let a = normal([1, 2, 4, 4], seed: 6), b = normal([1, 2, 4, 4], seed: 7)
        #expect(net(a).doubles != net(b).doubles)
        // With the decoder at zero everything after the bottleneck starts from 0: without a skip
        // around it the output no longer depends on the input.
        net.bottleneck!.decode.weight.assign(.zeros(net.bottleneck!.decode.weight.shape, dtype: .float64))
        net.bottleneck!.decode.bias!.assign(.zeros(net.bottleneck!.decode.bias!.shape, dtype: .float64))
        #expect(net(a).doubles == net(b).doubles)
    }

    @Test func highwayGatesChooseBetweenTransformAndCarry() {
        let net = network(.highway, blocks: 1) as! STHighway
        randomiseOutput(of: net, std: 0.3, seed: 8)
        let x = normal([1, 2, 4, 4], seed: 9)
        let layer = net.layers[0]
        layer.gate.weight.assign(.zeros(layer.gate.weight.shape, dtype: .float64))
        // Gate bias −60: σ ≈ 1e-26, the layer carries h through.
        layer.gate.bias!.assign(.full(-60, shape: layer.gate.bias!.shape, dtype: .float64))
        expectClose(net(x), net.outputConv(net.inputConv(x)).doubles, tolerance: 1e-12, "carry")
        // Gate bias +60: the layer is Conv_h.
        layer.gate.bias!.assign(.full(60, shape: layer.gate.bias!.shape, dtype: .float64))
        expectClose(net(x), net.outputConv(layer.transform(net.inputConv(x))).doubles, tolerance: 1e-12, "transform")
        // Gate bias 0: the average of both.
        layer.gate.bias!.assign(.zeros(layer.gate.bias!.shape, dtype: .float64))
        let h = net.inputConv(x)
        expectClose(net(x), net.outputConv((layer.transform(h) + h) * 0.5).doubles, tolerance: 1e-12, "half")
    }

    @Test func kindsRoundTripThroughJSON() throws {
        for kind in Self.kinds {
            let decoded = try JSONDecoder().decode(STNet.self, from: JSONEncoder().encode(kind))
            #expect(decoded == kind)
        }
        #expect(Self.kinds.map(\.name) == ["resnet", "resnet-no-bn", "highway", "bottleneck-3"])
    }
}
