import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct GlowTests {
    /// Replaces every coupling's zero-initialised output conv with N(0, std²) values, each
    /// coupling `scale` with values in [0.5, 1.5], so s and t are non-zero; and moves every 1×1
    /// convolution away from its orthogonal init (|det W| ≠ 1), so its log-det term is non-zero.
    func randomise(_ model: Glow, std: Double, seed: UInt64) {
        for (k, step) in model.steps.joined().enumerated() {
            let net = step.coupling.network as! any CouplingNetwork
            let s = seed &+ UInt64(10 * k)
            net.outputConv.weight.assign(normal(net.outputConv.weight.shape, scale: std, seed: s))
            net.outputConv.bias!.assign(normal(net.outputConv.bias!.shape, scale: std, seed: s &+ 1))
            step.coupling.scale.assign(uniform(step.coupling.scale.shape, 0.5, 1.5, seed: s &+ 2))
            let conv = step.invConv
            func perturb(_ p: Parameter?, _ scale: Double, _ seed: UInt64) {
                guard let p else { return }
                p.assign(p.value.detached + normal(p.shape, scale: scale, seed: seed).cast(to: p.value.dtype))
            }
            perturb(conv.weight, 0.2, s &+ 3)
            perturb(conv.lower, 0.2, s &+ 4)
            perturb(conv.upper, 0.2, s &+ 5)
            perturb(conv.logAbsScale, 0.3, s &+ 6)
        }
    }

    /// A small Glow (2 levels, 2 steps, hidden 8) with random couplings whose ActNorms were
    /// initialised from one training batch.
    func smallModel(height: Int = 8, width: Int = 8, lu: Bool, stNet: GlowCouplingNetwork = .convNet, dtype: DType,
                    seed: UInt64) -> Glow {
        let model = Glow(config: GlowConfig(channels: 1, height: height, width: width, levels: 2, depth: 2, hidden: 8,
                                            lu: lu, stNet: stNet, seed: seed),
                         dequantization: .none, dtype: dtype)
        randomise(model, std: 0.3, seed: seed &+ 100)
        var rng = SeededGenerator(seed: seed &+ 200)
        _ = model.forward(Tensor.uniform([4, 1, height, width], lo: 0, hi: 1, dtype: dtype, using: &rng))
        return model
    }

    @Test func configRoundTripsThroughJSON() throws {
        let config = GlowConfig(channels: 3, height: 16, width: 8, levels: 3, depth: 4, hidden: 32, lu: false, seed: 5)
        let decoded = try JSONDecoder().decode(GlowConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
        #expect(GlowConfig() == GlowConfig(channels: 1, height: 28, width: 28, levels: 2, depth: 8, hidden: 64, lu: true,
                                           stNet: .convNet, seed: 0))
        let highway = GlowConfig(levels: 1, stNet: .highway(blocks: 3))
        #expect(try JSONDecoder().decode(GlowConfig.self, from: JSONEncoder().encode(highway)) == highway)
    }

    @Test func configWrittenBeforeTheSTNetOptionDecodesWithGlowsNetwork() throws {
        let old = #"{"channels":1,"height":28,"width":28,"levels":2,"depth":8,"hidden":64,"lu":true,"seed":3}"#
        #expect(try JSONDecoder().decode(GlowConfig.self, from: Data(old.utf8)) == GlowConfig(seed: 3))
        let spec = #"{"glow":{"config":{"channels":1,"height":8,"width":8,"levels":1,"depth":2,"hidden":4,"lu":false,"seed":0}}}"#
        #expect(try JSONDecoder().decode(FlowSpec.self, from: Data(spec.utf8))
            == .glow(GlowConfig(height: 8, width: 8, levels: 1, depth: 2, hidden: 4, lu: false)))
    }

    @Test func invalidConfigsNameTheField() {
        func field(_ config: GlowConfig) -> String? {
            do { try config.validate(); return nil } catch { return error.field }
        }
        #expect(field(GlowConfig()) == nil)
        #expect(field(GlowConfig(levels: 3)) == "height")  // 28 is not a multiple of 8
        #expect(field(GlowConfig(height: 8, width: 6, levels: 2)) == "width")
        #expect(field(GlowConfig(depth: 0)) == "depth")
        #expect(field(GlowConfig(hidden: 0)) == "hidden")
        #expect(field(GlowConfig(stNet: .highway(blocks: -1))) == "stNet")
        #expect(FlowConfigError(model: "Glow", field: "levels", message: "x").description == "Glow configuration, field 'levels': x")
    }

    @Test func highwayNetworkReplacesGlowsConvNet() {
        let model = Glow(config: GlowConfig(height: 4, width: 4, levels: 1, depth: 2, hidden: 4, stNet: .highway(blocks: 2)),
                         dtype: .float64)
        #expect(model.steps.joined().allSatisfy { $0.coupling.network is STHighway })
        let names = model.namedParameters().map(\.0)
        for name in ["level0.step0.coupling.st.in_conv.weight", "level0.step1.coupling.st.layers.1.conv_gate.bias",
                     "level0.step1.coupling.st.out_conv.weight"] {
            #expect(names.contains(name), "missing \(name)")
        }
        // c = 4: each highway net maps 2 → 4 channels with 4 hidden:
        // 9·4·2 + 4 + 2·2·(9·16 + 4) + 4·4 + 4 = 72 + 4 + 592 + 16 + 4 = 688.
        #expect(STHighway.parameterCount(cin: 2, cout: 4, mid: 4, blocks: 2) == 688)
        #expect((model.steps[0][0].coupling.network as! STHighway).parameterCount == 688)
        // A fresh highway coupling is the identity, as Glow's.
        let h = normal([2, 4, 2, 2], seed: 1)
        #expect(model.steps[0][0].coupling.forward(h).z.doubles == h.doubles)
    }

    @Test(arguments: [
        GlowConfig(channels: 1, height: 28, width: 28),
        GlowConfig(channels: 1, height: 28, width: 28, lu: false),
        GlowConfig(channels: 3, height: 8, width: 8, levels: 3, depth: 2, hidden: 16),
        GlowConfig(channels: 2, height: 4, width: 12, levels: 1, depth: 3, hidden: 5, lu: false),
        GlowConfig(channels: 1, height: 28, width: 28, depth: 2, stNet: .highway(blocks: 2)),
        GlowConfig(channels: 3, height: 8, width: 8, levels: 3, depth: 2, hidden: 6, lu: false, stNet: .highway(blocks: 0)),
    ])
    func parameterCountFormulaMatchesTheModel(config: GlowConfig) {
        #expect(Glow(config: config).parameterCount == config.parameterCount)
    }

    @Test func defaultParameterCountByHand() {
        // Worked by hand from the formula for 1×28×28, L = 2, K = 8, h = 64, LU:
        // level 0, c = 4:  8·(2·4 + (2·16 + 4) + 2 + (9·2·64 + 64 + 4096 + 64 + 9·64·4 + 4)) = 8·7,730 = 61,840
        // level 1, c = 8:  8·(2·8 + (2·64 + 8) + 4 + (9·4·64 + 64 + 4096 + 64 + 9·64·8 + 8)) = 8·11,300 = 90,400
        #expect(GlowConfig().parameterCount == 152_240)
    }

    @Test func parameterNamesAreReadableAndTheActNormFlagIsABuffer() {
        let model = Glow(config: GlowConfig(height: 4, width: 4, levels: 2, depth: 2, hidden: 4), dtype: .float64)
        let names = model.namedParameters().map(\.0)
        for name in ["level0.step0.actnorm.bias", "level0.step0.actnorm.logs", "level0.step1.actnorm.initialized",
                     "level1.step1.invconv.lower", "level1.step1.invconv.log_abs_scale", "level0.step0.coupling.scale",
                     "level0.step0.coupling.st.conv1.weight", "level1.step0.coupling.st.conv3.bias"] {
            #expect(names.contains(name), "missing \(name)")
        }
        let flag = model.namedParameters().first { $0.0 == "level1.step1.actnorm.initialized" }!.1
        #expect(!flag.isTrainable && flag.value.item == 0)
        model.setTraining(true)
        _ = model.forward(uniform([2, 1, 4, 4], 0, 1, seed: 1))
        #expect(flag.value.item == 1)
    }

    @Test func latentLayout() {
        let model = Glow(config: GlowConfig(channels: 1, height: 8, width: 8, levels: 3, depth: 1, hidden: 4),
                         dequantization: .none, dtype: .float64)
        // z_0: (2, 4, 4) = 32, z_1: (4, 2, 2) = 16, final h: (16, 1, 1) = 16; D/2, D/4, D/4.
        #expect(model.latentShapes == [[2, 4, 4], [4, 2, 2], [16, 1, 1]])
        model.setTraining(false)
        let (z, logDet) = model.forward(uniform([3, 1, 8, 8], 0, 1, seed: 2))
        #expect(z.shape == [3, 64] && logDet.shape == [3])
    }

    @Test func freshModelInEvaluationIsVolumePreserving() {
        // ActNorm uninitialised (identity), orthogonal 1×1 convs (|det| = 1), zero-init couplings:
        // the body's log|det| is 0 up to rounding.
        let model = Glow(config: GlowConfig(height: 8, width: 8, levels: 2, depth: 3, hidden: 4, seed: 3),
                         dequantization: .none, dtype: .float64)
        model.setTraining(false)
        let body = model.forwardBody(normal([2, 1, 8, 8], seed: 4))
        expectClose(body.logDet.doubles, [0, 0], tolerance: 1e-10, "fresh body log|det|")
    }

    @Test(arguments: [true, false])
    func invertibleInDouble(lu: Bool) {
        let model = smallModel(lu: lu, dtype: .float64, seed: 10)
        let x = uniform([3, 1, 8, 8], 0, 1, seed: 11)
        let (z, _) = model.forward(x)
        // The body is not the identity: z differs from the pure reshaping of h by O(1).
        let h = model.preprocessing.forward(x).z
        #expect(zip(z.doubles, h.doubles).contains { abs($0 - $1) > 0.1 })
        expectClose(model.inverse(z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-10, "inverse(forward(x))")
    }

    @Test(arguments: [GlowCouplingNetwork.convNet, .highway(blocks: 2)])
    func highwayGlowIsInvertibleWithExactLogDet(stNet: GlowCouplingNetwork) {
        let model = smallModel(height: 4, width: 4, lu: true, stNet: stNet, dtype: .float64, seed: 50)
        let h = normal([1, 1, 4, 4], seed: 51)
        let body = model.forwardBody(h)
        #expect(abs(body.logDet.item) > 0.1, "body log|det| \(body.logDet.item)")
        expectClose(model.inverseBody(body.z), h.doubles, tolerance: 1e-10, "\(stNet): inverseBody(forwardBody(h))")
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "\(stNet): body log|det|")
        // Float32: inverse(forward(x)) to 1e-4.
        let small = smallModel(lu: true, stNet: stNet, dtype: .float32, seed: 52)
        let x = uniform([2, 1, 8, 8], 0, 1, seed: 53).cast(to: .float32)
        expectClose(small.inverse(small.forward(x).z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-4,
                    "\(stNet): float32 inverse(forward(x))")
    }

    @Test func highwayStepGradientsMatchFiniteDifferences() {
        // Double, central differences along random directions, through a whole Glow step with a
        // highway s/t network (ActNorm, LU 1×1 conv, gated coupling): z and log|det| in x.
        var rng = SeededGenerator(seed: 60)
        let step = GlowStep(channels: 4, hidden: 3, parameterization: .lu, network: .highway(blocks: 2), dtype: .float64,
                            using: &rng)
        let net = step.coupling.network as! any CouplingNetwork
        net.outputConv.weight.assign(normal(net.outputConv.weight.shape, scale: 0.3, seed: 61))
        net.outputConv.bias!.assign(normal(net.outputConv.bias!.shape, scale: 0.3, seed: 62))
        step.actNorm.initialize(from: normal([4, 4, 3, 3], scale: 2, seed: 63))
        expectGradientsMatchFiniteDifferences(normal([2, 4, 3, 3], seed: 64)) { x in
            let (z, logDet) = step.forward(x)
            return Tensor.concat([z.flattenedBatch(), logDet.reshaped([2, 1])], axis: 1)
        }
    }

    @Test(arguments: [true, false])
    func invertibleInFloat(lu: Bool) {
        let model = smallModel(lu: lu, dtype: .float32, seed: 20)
        let x = uniform([3, 1, 8, 8], 0, 1, seed: 21).cast(to: .float32)
        let (z, _) = model.forward(x)
        expectClose(model.inverse(z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-4, "inverse(forward(x))")
    }

    @Test(arguments: [(true, 8), (false, 8), (true, 4)])
    func logDetMatchesBruteForceJacobian(lu: Bool, size: Int) {
        let model = smallModel(height: size, width: size, lu: lu, dtype: .float64, seed: 30)
        let h = normal([1, 1, size, size], seed: 31)
        let body = model.forwardBody(h)
        #expect(abs(body.logDet.item) > 0.1, "the steps contribute: body log|det| \(body.logDet.item)")
        // Each kind of layer contributes on its own, so dropping any one term would fail below.
        let convTerm = model.steps.joined().map { $0.invConv.matrix().logAbsDet.item }.reduce(0, +)
        let actNormTerm = model.steps.joined().map { $0.actNorm.logScale.value.doubles.reduce(0, +) }.reduce(0, +)
        #expect(abs(convTerm) > 0.05 && abs(actNormTerm) > 0.05, "1×1 conv Σ \(convTerm), ActNorm Σ \(actNormTerm)")
        let brute = bruteForceLogAbsDet(h) { model.forwardBody($0).z }
        expectClose(body.logDet.doubles, [brute], tolerance: 1e-9, relativeTolerance: 1e-9, "body log|det|")
        // The whole model: log|det| of v ↦ z, so the Jacobian in x adds D·log(255/256).
        let d = Double(size * size)
        let x = uniform([1, 1, size, size], 0, 1, seed: 32)
        let full = model.forward(x).logDet.item
        let bruteX = bruteForceLogAbsDet(x) { model.forward($0).z }
        expectClose([full + d * Foundation.log(255.0 / 256.0)], [bruteX], tolerance: 1e-8, relativeTolerance: 1e-9,
                    "full log|det|")
    }

    @Test func trainingStepReducesTheLoss() {
        // A few Adam steps on a fixed batch must lower the NLL: the gradients reach the parameters.
        let model = Glow(config: GlowConfig(height: 4, width: 4, levels: 2, depth: 2, hidden: 8, seed: 40),
                         dequantization: .none)
        let x = uniform([8, 1, 4, 4], 0, 1, seed: 41).cast(to: .float32)
        let optimizer = Adam(model.trainableParameters, learningRate: 1e-2)
        func loss() -> Tensor { -model.logLikelihood(of: x).mean() }
        var first = 0.0, last = 0.0
        for i in 0..<10 {
            model.zeroGrad()
            let l = loss()
            l.backward()
            optimizer.step()
            if i == 0 { first = l.item }
            last = l.item
        }
        #expect(last < first - 0.1, "NLL \(first) → \(last)")
    }
}
