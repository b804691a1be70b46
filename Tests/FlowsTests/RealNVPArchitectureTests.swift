import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct RealNVPArchitectureTests {
    static let schemes = MaskScheme.allCases
    static let kinds: [STNet] = [.resnet, .resnetNoBatchNorm, .highway, .bottleneck(3)]

    /// An 8×8 model with tiny s/t networks in Double precision, couplings randomised.
    func smallModel(_ scheme: MaskScheme, _ kind: STNet = .resnet, scales: Int = 2, channels: Int = 1,
                    randomised: Bool = true, seed: UInt64 = 1) -> RealNVP {
        let config = RealNVPConfig(channels: channels, height: 8, width: 8, mid: 4, blocks: 2, stNet: kind,
                                   maskScheme: scheme, scales: scales, seed: seed)
        let model = RealNVP(config: config, dequantization: .none, dtype: .float64)
        if randomised { randomiseCouplings(model.couplings, std: 0.3, seed: seed &+ 100) }
        return model
    }

    @Test func defaultModelKeepsTheReferenceLayout() {
        let model = RealNVP()
        // reference: RESULTS.md (a), 1,513,587 parameters.
        #expect(model.parameterCount == 1_513_587)
        #expect(model.namedCouplings.map(\.name) == [
            "scale1.checkerboard.0", "scale1.checkerboard.1", "scale1.checkerboard.2",
            "scale1.channel.0", "scale1.channel.1", "scale1.channel.2",
            "scale2.checkerboard.0", "scale2.checkerboard.1", "scale2.checkerboard.2", "scale2.checkerboard.3",
        ])
        #expect(model.couplings.map(\.mask) == [
            .checkerboard(parity: 0), .checkerboard(parity: 1), .checkerboard(parity: 0),
            .channel(parity: 0), .channel(parity: 1), .channel(parity: 0),
            .checkerboard(parity: 0), .checkerboard(parity: 1), .checkerboard(parity: 0), .checkerboard(parity: 1),
        ])
        #expect(model.couplings.map(\.channels) == [1, 1, 1, 4, 4, 4, 2, 2, 2, 2])
        let names = model.namedParameters().map(\.0)
        #expect(names.first == "scale1.checkerboard.0.scale")
        #expect(names.contains("scale1.checkerboard.0.st.in_conv.weight"))
        #expect(names.contains("scale1.channel.2.st.blocks.1.bn2.running_var"))
        #expect(names.last == "scale2.checkerboard.3.st.out_conv.bias")
        #expect(model.latentShapes == [[2, 14, 14], [2, 14, 14]])
    }

    @Test func variantParameterCounts() {
        // The half masks replace checkerboards one for one: same shapes, same count.
        #expect(RealNVP(config: RealNVPConfig(maskScheme: .horizontal)).parameterCount == 1_513_587)
        // Cycle: 8 couplings on 1×28×28, each 150,147 (RESULTS.md (a), C = 1 checkerboard coupling).
        #expect(RealNVP(config: RealNVPConfig(maskScheme: .cycle)).parameterCount == 8 * 150_147)
        // One scale: the 4 last-scale couplings on the image.
        #expect(RealNVP(config: RealNVPConfig(scales: 1)).parameterCount == 4 * 150_147)
    }

    @Test func cycleModelCyclesThroughTheQuadrantsTwice() {
        let model = smallModel(.cycle, randomised: false)
        #expect(model.couplings.map(\.mask) == (0..<8).map { Mask.quadrant(from: $0 % 4, to: ($0 + 1) % 4) })
        #expect(model.namedCouplings.map(\.name) == (0..<8).map { "scale1.quadrant.\($0)" })
        #expect(model.latentShapes == [[1, 8, 8]])
        #expect(smallModel(.cycle, scales: 3, randomised: false).couplings.count == 8)  // scales ignored
    }

    @Test func halfMaskModelsAlternateParities() {
        let model = smallModel(.vertical, randomised: false)
        #expect(model.couplings.map(\.mask) == [
            .vertical(parity: 0), .vertical(parity: 1), .vertical(parity: 0),
            .channel(parity: 0), .channel(parity: 1), .channel(parity: 0),
            .vertical(parity: 0), .vertical(parity: 1), .vertical(parity: 0), .vertical(parity: 1),
        ])
        #expect(smallModel(.horizontal, randomised: false).namedCouplings.first?.name == "scale1.horizontal.0")
    }

    @Test func lastScaleCouplingsBuildFlowsOODsSingleScaleModels() {
        // flows_ood's RealNVPMaskHorizontal: one scale, 8 half-mask couplings, parity 0, 1, 0, …
        let config = RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, maskScheme: .horizontal, scales: 1,
                                   lastScaleCouplings: 8)
        let model = RealNVP(config: config, dequantization: .none, dtype: .float64)
        #expect(model.couplings.map(\.mask) == (0..<8).map { Mask.horizontal(parity: $0 % 2) })
        #expect(model.namedCouplings.map(\.name) == (0..<8).map { "scale1.horizontal.\($0)" })
        #expect(model.latentShapes == [[1, 8, 8]])
        // Eight couplings of the same shape: twice the default single-scale model's four.
        let four = RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, maskScheme: .horizontal, scales: 1))
        #expect(model.parameterCount == 2 * four.parameterCount)
        // On a two-scale model only the last scale changes: 3 + 3 + 2 couplings.
        let two = RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, lastScaleCouplings: 2))
        #expect(two.namedCouplings.map(\.name).suffix(3) == ["scale1.channel.2", "scale2.checkerboard.0", "scale2.checkerboard.1"])
        // Cycle masks keep their fixed 8 quadrant couplings.
        #expect(RealNVP(config: RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, maskScheme: .cycle,
                                              lastScaleCouplings: 3)).couplings.count == 8)
    }

    @Test func eightHorizontalCouplingsAreInvertibleWithExactLogDet() {
        let config = RealNVPConfig(height: 8, width: 8, mid: 4, blocks: 1, maskScheme: .horizontal, scales: 1,
                                   lastScaleCouplings: 8, seed: 3)
        let model = RealNVP(config: config, dequantization: .none, dtype: .float64)
        randomiseCouplings(model.couplings, std: 0.3, seed: 30)
        model.setTraining(false)
        let h = normal([1, 1, 8, 8], seed: 31)
        let body = model.forwardBody(h)
        #expect(abs(body.logDet.item) > 0.1)
        expectClose(model.inverseBody(body.z), h.doubles, tolerance: 1e-9, "inverseBody(forwardBody(h))")
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "log|det|")
    }

    @Test(arguments: [1, 2, 3])
    func scalesGeneraliseTheLayout(scales: Int) {
        let model = smallModel(.checkerboard, scales: scales, channels: 2, randomised: false)
        // Per non-last scale: 3 spatial, 3 channel; last scale: 4 spatial.
        #expect(model.couplings.count == 6 * (scales - 1) + 4)
        let expectedShapes: [[Int]] = switch scales {
        case 1: [[2, 8, 8]]
        case 2: [[4, 4, 4], [4, 4, 4]]
        default: [[4, 4, 4], [8, 2, 2], [8, 2, 2]]
        }
        #expect(model.latentShapes == expectedShapes)
        #expect(model.couplings.last!.channels == expectedShapes.last![0])
    }

    @Test(arguments: schemes, kinds)
    func modelIsInvertibleWithExactLogDet(scheme: MaskScheme, kind: STNet) {
        let model = smallModel(scheme, kind)
        model.setTraining(false)
        let h = normal([1, 1, 8, 8], seed: 2)
        let body = model.forwardBody(h)
        #expect(body.logDet.item != 0 && body.logDet.item.isFinite)
        expectClose(model.inverseBody(body.z), h.doubles, tolerance: 1e-9, "\(scheme), \(kind): inverseBody(forwardBody(h))")
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "\(scheme), \(kind): log|det|")
    }

    @Test(arguments: [1, 3])
    func otherScaleCountsAreInvertibleWithExactLogDet(scales: Int) {
        let model = smallModel(.checkerboard, scales: scales)
        model.setTraining(true)  // BatchNorm on batch statistics: still a bijection per batch of 1
        let h = normal([1, 1, 8, 8], seed: 3)
        let body = model.forwardBody(h)
        expectClose(model.inverseBody(body.z), h.doubles, tolerance: 1e-9, "scales \(scales): inverse")
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "scales \(scales): log|det|")
    }

    @Test(arguments: schemes)
    func float32ModelInvertsWithinTolerance(scheme: MaskScheme) {
        // The brief's bound: inverse(forward(x)) ≈ x to 1e-4 in the training precision.
        let config = RealNVPConfig(height: 8, width: 8, mid: 8, blocks: 1, stNet: .highway, maskScheme: scheme, seed: 4)
        let model = RealNVP(config: config, dequantization: .none)
        for (k, coupling) in model.couplings.enumerated() {
            let net = coupling.network as! any CouplingNetwork
            var rng = SeededGenerator(seed: 40 &+ UInt64(k))
            net.outputConv.weight.assign(.randn(net.outputConv.weight.shape, std: 0.1, using: &rng))
            net.outputConv.bias!.assign(.randn(net.outputConv.bias!.shape, std: 0.1, using: &rng))
        }
        var rng = SeededGenerator(seed: 5)
        let x = Tensor.uniform([3, 1, 8, 8], lo: 0, hi: 1, using: &rng)
        let (z, logDet) = model.forward(x)
        #expect(logDet.scalars.allSatisfy { $0.isFinite })
        expectClose(model.inverse(z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-4, "\(scheme): inverse(forward(x))")
    }

    @Test(arguments: schemes, [1, 2, 3])
    func latentImageUndoesTheRearrangementOfAFreshModel(scheme: MaskScheme, scales: Int) {
        // Fresh couplings are the identity, so forwardBody is the pure rearrangement and
        // latentImage must undo it exactly.
        let model = smallModel(scheme, scales: scales, channels: 2, randomised: false)
        let h = normal([2, 2, 8, 8], seed: 6)
        let z = model.forwardBody(h).z
        #expect(model.latentImage(z).doubles == h.doubles)
        #expect(model.latentImage(z).shape == [2, 2, 8, 8])
    }

    @Test func configDecodesOlderJSONWithDefaults() throws {
        let old = #"{"channels":1,"height":28,"width":28,"mid":64,"blocks":2,"batchNorm":false,"seed":3}"#
        let decoded = try JSONDecoder().decode(RealNVPConfig.self, from: Data(old.utf8))
        #expect(decoded == RealNVPConfig(batchNorm: false, seed: 3))
        #expect(decoded.maskScheme == .checkerboard && decoded.stNet == .resnet && decoded.scales == 2)
        #expect(decoded.lastScaleCouplings == 4)
        let config = RealNVPConfig(channels: 3, height: 16, width: 8, mid: 4, blocks: 1, batchNorm: false,
                                   stNet: .bottleneck(7), maskScheme: .vertical, scales: 3, lastScaleCouplings: 6, seed: 9)
        #expect(try JSONDecoder().decode(RealNVPConfig.self, from: JSONEncoder().encode(config)) == config)
        let json = String(decoding: try JSONEncoder().encode(RealNVPConfig(maskScheme: .cycle)), as: UTF8.self)
        #expect(json.contains(#""maskScheme":"cycle""#))
    }

    @Test func invalidConfigsNameTheField() {
        func field(_ config: RealNVPConfig) -> String? {
            do { try config.validate(); return nil } catch { return error.field }
        }
        #expect(field(RealNVPConfig()) == nil)
        #expect(field(RealNVPConfig(scales: 0)) == "scales")
        #expect(field(RealNVPConfig(scales: 4)) == "height")  // 28 is not a multiple of 8
        #expect(field(RealNVPConfig(height: 28, width: 27, scales: 1)) == nil)
        #expect(field(RealNVPConfig(height: 28, width: 1, maskScheme: .vertical, scales: 1)) == "width")
        #expect(field(RealNVPConfig(stNet: .bottleneck(0))) == "stNet")
        #expect(field(RealNVPConfig(mid: 0)) == "mid")
        #expect(field(RealNVPConfig(lastScaleCouplings: 0)) == "lastScaleCouplings")
        #expect(field(RealNVPConfig(maskScheme: .cycle, lastScaleCouplings: 0)) == nil)  // ignored by cycle
        #expect(field(RealNVPConfig(height: 30, maskScheme: .cycle, scales: 5)) == nil)
        #expect(RealNVPConfigError(field: "scales", message: "x").description.contains("'scales'"))
    }
}
