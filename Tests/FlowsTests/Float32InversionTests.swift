import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

// MARK: - x ≈ inverse(forward(x)) to 1e-4 in Float32, for every layer and model

/// A Float32 copy of a Double tensor.
private func f32(_ t: Tensor) -> Tensor { t.cast(to: .float32) }

/// Replaces a parameter's value by `value + N(0, std²)` (cast to the parameter's dtype).
private func perturb(_ p: Parameter?, std: Double, seed: UInt64) {
    guard let p else { return }
    p.assign(p.value.detached + normal(p.shape, scale: std, seed: seed).cast(to: p.value.dtype))
}

/// Gives a coupling network's zero-initialised output layer N(0, std²) weights and bias.
private func randomiseOutput(_ network: any Layer, std: Double, seed: UInt64) {
    let net = network as! any CouplingNetwork
    perturb(net.outputConv.weight, std: std, seed: seed)
    perturb(net.outputConv.bias, std: std, seed: seed &+ 1)
}

/// A Float32 image coupling with a small s/t network of the given kind, output layer randomised.
private func coupling(_ mask: Mask, _ kind: STNet = .resnet, channels c: Int = 2, seed: UInt64) -> AffineCoupling {
    var rng = SeededGenerator(seed: seed)
    let (cin, cout) = mask.isSpatial ? (c, 2 * c) : (c / 2, c)
    let net = kind.makeNetwork(cin: cin, cout: cout, height: 6, width: 6, mid: 4, blocks: 2, batchNorm: true,
                               dtype: .float32, using: &rng)
    randomiseOutput(net, std: 0.3, seed: seed &+ 1)
    return AffineCoupling(channels: c, mask: mask, network: net, dtype: .float32)
}

/// Every layer type, by name: the layer and an input for it (Float32).
private let layerCases: [String] = [
    "logit preprocessing", "actnorm image", "actnorm vector", "invertible linear", "1x1 conv full", "1x1 conv lu",
    "squeeze", "coupling checkerboard 0 resnet", "coupling checkerboard 1 resnet-no-bn", "coupling channel 0 highway",
    "coupling channel 1 bottleneck", "coupling horizontal 0", "coupling vertical 1", "coupling quadrant 2→3",
    "vector coupling first", "vector coupling second", "glow step lu", "glow step full highway", "residual block",
]

private func layer(named name: String) -> (layer: any FlowLayer, input: Tensor) {
    let image = f32(uniform([3, 2, 6, 6], -2, 2, seed: 1))
    let vector = f32(normal([5, 8], scale: 1.5, seed: 2))
    var rng = SeededGenerator(seed: 3)
    switch name {
    case "logit preprocessing":
        var g = SeededGenerator(seed: 4)
        return (LogitPreprocessing(alpha: 0.05, dequantization: .none, using: &g), f32(uniform([3, 1, 6, 6], 0, 1, seed: 5)))
    case "actnorm image", "actnorm vector":
        let x = name == "actnorm image" ? image : vector
        let a = ActNorm(x.shape[1])
        a.initialize(from: x * 3 + 1)
        return (a, x)
    case "invertible linear":
        let l = InvertibleLinear(8, using: &rng)
        perturb(l.weight, std: 0.2, seed: 6)
        return (l, vector)
    case "1x1 conv full", "1x1 conv lu":
        let conv = InvertibleConv1x1(2, parameterization: name.hasSuffix("lu") ? .lu : .full, using: &rng)
        for (k, p) in [conv.weight, conv.lower, conv.upper, conv.logAbsScale].enumerated() { perturb(p, std: 0.2, seed: 7 + UInt64(k)) }
        return (conv, image)
    case "squeeze":
        return (Squeeze(), image)
    case "coupling checkerboard 0 resnet": return (coupling(.checkerboard(parity: 0), seed: 10), image)
    case "coupling checkerboard 1 resnet-no-bn": return (coupling(.checkerboard(parity: 1), .resnetNoBatchNorm, seed: 11), image)
    case "coupling channel 0 highway": return (coupling(.channel(parity: 0), .highway, seed: 12), image)
    case "coupling channel 1 bottleneck": return (coupling(.channel(parity: 1), .bottleneck(3), seed: 13), image)
    case "coupling horizontal 0": return (coupling(.horizontal(parity: 0), seed: 14), image)
    case "coupling vertical 1": return (coupling(.vertical(parity: 1), seed: 15), image)
    case "coupling quadrant 2→3": return (coupling(.quadrant(from: 2, to: 3), seed: 16), image)
    case "vector coupling first", "vector coupling second":
        let c = VectorAffineCoupling(features: 8, hidden: 6, conditionOn: name.hasSuffix("first") ? .first : .second, using: &rng)
        perturb(c.outputLayer.weight, std: 0.3, seed: 17)
        perturb(c.outputLayer.bias, std: 0.3, seed: 18)
        return (c, vector)
    case "glow step lu", "glow step full highway":
        let lu = name == "glow step lu"
        let step = GlowStep(channels: 2, hidden: 4, parameterization: lu ? .lu : .full,
                            network: lu ? .convNet : .highway(blocks: 2), using: &rng)
        randomiseOutput(step.coupling.network, std: 0.3, seed: 19)
        for (k, p) in [step.invConv.weight, step.invConv.lower, step.invConv.upper].enumerated() {
            perturb(p, std: 0.2, seed: 20 + UInt64(k))
        }
        step.actNorm.initialize(from: image * 2 - 0.5)
        return (step, image)
    default:  // "residual block"
        let flow = ResidualFlow(config: ResidualFlowConfig(features: 8, blocks: 1, hidden: 16, actNorm: false, seed: 21))
        flow.convergeSpectralNorms()
        return (flow, vector)
    }
}

@Suite struct Float32InversionTests {
    @Test(arguments: layerCases)
    func layerInvertsToOneInTenThousand(_ name: String) {
        let (layer, x) = layer(named: name)
        layer.setTraining(false)
        #expect(x.dtype == .float32)
        let (z, logDet) = layer.forward(x)
        #expect(z.dtype == .float32 && logDet.shape == [x.shape[0]] && logDet.doubles.allSatisfy { $0.isFinite }, "\(name)")
        // The layer is not the identity (apart from the squeeze's pure rearrangement) ...
        if name != "squeeze" && z.shape == x.shape {
            #expect(zip(z.doubles, x.doubles).contains { abs($0 - $1) > 1e-2 }, "\(name): forward is the identity")
        }
        // ... and its inverse undoes it to 1e-4 (the logit preprocessing returns v = 255x/256).
        let expected = name == "logit preprocessing" ? x.doubles.map { $0 * 255 / 256 } : x.doubles
        expectClose(layer.inverse(z), expected, tolerance: 1e-4, "\(name): inverse(forward(x))")
    }

    @Test func dequantisingPreprocessingInvertsIntoTheBin() {
        // With uniform noise, inverse(forward(x)) = v = (255x + u)/256 ∈ [255x/256, (255x + 1)/256).
        var g = SeededGenerator(seed: 30)
        let layer = LogitPreprocessing(alpha: 0.05, dequantization: .uniform, using: &g)
        let pixels = (0..<64).map { Double(($0 * 37) % 256) / 255 }
        let x = Tensor(pixels, shape: [1, 1, 8, 8], dtype: .float32)
        let v = layer.inverse(layer.forward(x).z).doubles
        for (p, value) in zip(pixels, v) {
            let low = 255 * p / 256
            #expect(value > low - 1e-4 && value < low + 1.0 / 256 + 1e-4, "pixel \(p): v = \(value)")
        }
    }

    @Test func glowLatentInverts() {
        var rng = SeededGenerator(seed: 31)
        let flow = VectorFlows.glowLatent(features: 8, blocks: 3, hidden: 16, using: &rng)
        for (k, layer) in flow.layers.enumerated() {
            if let c = layer as? VectorAffineCoupling {
                perturb(c.outputLayer.weight, std: 0.3, seed: 32 + UInt64(k))
                perturb(c.outputLayer.bias, std: 0.3, seed: 33 + UInt64(k))
            }
        }
        _ = flow.forward(f32(normal([32, 8], scale: 2, seed: 34) + 0.5))  // ActNorms initialise
        flow.setTraining(false)
        let x = f32(normal([6, 8], scale: 2, seed: 35))
        let z = flow.forward(x).z
        #expect(zip(z.doubles, x.doubles).contains { abs($0 - $1) > 0.1 })
        expectClose(flow.inverse(z), x.doubles, tolerance: 1e-4, "glow-latent(8, 3, 16)")
    }

    @Test func realNVPVectorInverts() {
        var rng = SeededGenerator(seed: 36)
        let flow = VectorFlows.realNVPVector(features: 7, couplings: 4, hidden: 16, using: &rng)
        for (k, layer) in flow.layers.enumerated() {
            let c = layer as! VectorAffineCoupling
            perturb(c.outputLayer.weight, std: 0.3, seed: 37 + UInt64(k))
            perturb(c.outputLayer.bias, std: 0.3, seed: 38 + UInt64(k))
        }
        let x = f32(normal([6, 7], scale: 2, seed: 39))
        let z = flow.forward(x).z
        #expect(zip(z.doubles, x.doubles).contains { abs($0 - $1) > 0.1 })
        expectClose(flow.inverse(z), x.doubles, tolerance: 1e-4, "realnvp-vector(7, 4, 16)")
    }

    @Test func referenceRealNVPInvertsInEvaluationMode() {
        // The default 1×28×28 model with BatchNorm (1,513,587 parameters), on its running
        // statistics after one training batch, couplings randomised.
        let model = RealNVP(dequantization: .none)
        randomiseFloatCouplings(model.couplings, std: 0.01, seed: 40)
        _ = model.forward(f32(uniform([2, 1, 28, 28], 0, 1, seed: 41)))  // training: running statistics move
        model.setTraining(false)
        let x = f32(uniform([2, 1, 28, 28], 0, 1, seed: 42))
        let (z, logDet) = model.forward(x)
        #expect(logDet.doubles.allSatisfy { $0.isFinite })
        expectClose(model.inverse(z), x.doubles.map { $0 * 255 / 256 }, tolerance: 1e-4, "reference RealNVP")
    }
}

/// Randomises every Float32 coupling: output layers N(0, std²), `scale` in [0.5, 1.5].
private func randomiseFloatCouplings(_ couplings: [AffineCoupling], std: Double, seed: UInt64) {
    for (k, c) in couplings.enumerated() {
        let s = seed &+ UInt64(10 * k)
        randomiseOutput(c.network, std: std, seed: s)
        c.scale.assign(uniform(c.scale.shape, 0.5, 1.5, seed: s &+ 2).cast(to: .float32))
    }
}
