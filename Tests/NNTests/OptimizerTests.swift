import Testing
import Tensor
import TestSupport
@testable import NN

/// Makes `gradient` the accumulated gradient of `p` (through L = Σ p ⊙ g, whose gradient is g exactly).
private func setGradient(_ p: Parameter, _ gradient: [Float]) {
    p.zeroGrad()
    (p.value * Tensor(gradient, shape: p.shape)).sum().backward()
}

// MARK: - Updates against PyTorch

// reference: torch 2.15, float32, 3 steps from a fixed parameter with fixed gradients:
//
//   import torch
//   p0 = [0.5, -1.0, 2.0, -0.25]
//   grads = [[0.1, -0.2, 0.3, 0.05], [-0.4, 0.1, 0.2, 0.0], [0.3, 0.3, -0.1, -0.2]]
//   def run(make, pre=None):
//       p = torch.nn.Parameter(torch.tensor(p0)); opt = make([p])
//       for g in grads:
//           p.grad = torch.tensor(g)
//           if pre: pre(p)
//           opt.step()
//       return p.detach().tolist()
//   run(lambda ps: torch.optim.Adam(ps, lr=0.1))
//   run(lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.5))
//   run(lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.5))
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01))
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01, weight_decay=0.5))
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.9))
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.9, weight_decay=0.5))
//   # torch's RMSprop has no decoupled decay: shrink p by (1 − lr·wd) before each plain step
//   def shrink(p):
//       with torch.no_grad(): p.mul_(1 - 0.01 * 0.5)
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01), pre=shrink)
private let startValues: [Float] = [0.5, -1.0, 2.0, -0.25]
private let stepGradients: [[Float]] = [[0.1, -0.2, 0.3, 0.05], [-0.4, 0.1, 0.2, 0.0], [0.3, 0.3, -0.1, -0.2]]

enum OptimizerCase: String, CaseIterable, Sendable {
    case adam, adamL2, adamW, rmsprop, rmspropL2, rmspropMomentum, rmspropMomentumL2, rmspropDecoupled

    func make(_ parameters: [Parameter]) -> any Optimizer {
        switch self {
        case .adam: Adam(parameters, learningRate: 0.1)
        case .adamL2: Adam(parameters, learningRate: 0.1, weightDecay: .l2(0.5))
        case .adamW: Adam(parameters, learningRate: 0.1, weightDecay: .decoupled(0.5))
        case .rmsprop: RMSprop(parameters, learningRate: 0.01)
        case .rmspropL2: RMSprop(parameters, learningRate: 0.01, weightDecay: .l2(0.5))
        case .rmspropMomentum: RMSprop(parameters, learningRate: 0.01, momentum: 0.9)
        case .rmspropMomentumL2: RMSprop(parameters, learningRate: 0.01, momentum: 0.9, weightDecay: .l2(0.5))
        case .rmspropDecoupled: RMSprop(parameters, learningRate: 0.01, weightDecay: .decoupled(0.5))
        }
    }

    /// The parameter after three steps, from the script above.
    var torchResult: [Double] {
        switch self {
        case .adam: [0.453318536, -0.912305295, 1.74777555, -0.367578596]
        case .adamL2: [0.319006622, -0.726972103, 1.70390713, 0.0407314375]
        case .adamW: [0.388958484, -0.780762017, 1.47712731, -0.318822056]
        case .rmsprop: [0.438003421, -1.02533746, 1.87127483, -0.252928793]
        case .rmspropL2: [0.370233476, -0.838871002, 1.79070258, 0.0124383494]
        case .rmspropMomentum: [0.354342103, -0.894748747, 1.65017796, -0.42392844]
        case .rmspropMomentumL2: [0.246774957, -0.633103788, 1.56185961, 0.243637741]
        case .rmspropDecoupled: [0.431053162, -1.01118541, 1.84270048, -0.248200014]
        }
    }
}

@Suite struct OptimizerUpdates {
    @Test(arguments: OptimizerCase.allCases)
    func threeStepsMatchTorch(_ c: OptimizerCase) {
        let p = Parameter(Tensor(startValues, shape: [2, 2]))
        let opt = c.make([p])
        for g in stepGradients {
            setGradient(p, g)
            opt.step()
        }
        expectClose(p.value.doubles, c.torchResult, tolerance: 2e-6, relativeTolerance: 2e-6, c.rawValue)
        #expect(p.value.requiresGrad, "the update is in place: the parameter stays an autodiff leaf")
    }

    @Test func adamCountsStepsAndSkipsParametersWithoutGradient() {
        let a = Parameter(Tensor(startValues, shape: [4]))
        let b = Parameter(Tensor([1, 2] as [Float], shape: [2]))
        let opt = Adam([a, b], learningRate: 0.1)
        setGradient(a, stepGradients[0])
        opt.step()
        #expect(opt.stepCount == 1)
        #expect(b.value.scalars == [1, 2])
        // By hand: the first Adam step has m̂ = g and v̂ = g², so each element moves by
        // lr · g/(|g| + eps) ≈ lr · sign(g): [0.5, −1, 2, −0.25] − 0.1 · [1, −1, 1, 1].
        expectClose(a.value.doubles, [0.4, -0.9, 1.9, -0.35], tolerance: 1e-6, relativeTolerance: 1e-6, "first step")
    }

    @Test func learningRateCanChangeBetweenSteps() {
        let p = Parameter(Tensor([1] as [Float], shape: [1]))
        let opt = RMSprop([p], learningRate: 0.1, alpha: 0)
        setGradient(p, [2])
        opt.learningRate = 0.5
        opt.step()
        // alpha = 0: square = g², update = g / (|g| + eps) = 1 (to 1e-8), so p = 1 − 0.5.
        expectClose(p.value.doubles, [0.5], tolerance: 1e-6, relativeTolerance: 1e-6, "p")
    }
}

// MARK: - Gradient clipping

@Suite struct GradientClipping {
    @Test func scalesToMaxNormAndReturnsThePreClipNorm() {
        // reference: torch 2.15
        //   a.grad = [3, 4]; b.grad = [[0, 12], [0, 0]]
        //   torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0) -> 13.0
        //   a.grad -> [0.230769217, 0.307692289], b.grad -> [[0, 0.923076868], [0, 0]]
        let a = Parameter(.zeros([2])), b = Parameter(.zeros([2, 2]))
        setGradient(a, [3, 4])
        setGradient(b, [0, 12, 0, 0])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(norm == 13)
        expectClose(a.grad!.doubles, [0.230769217, 0.307692289], tolerance: 1e-7, relativeTolerance: 1e-7, "a.grad")
        expectClose(b.grad!.doubles, [0, 0.923076868, 0, 0], tolerance: 1e-7, relativeTolerance: 1e-7, "b.grad")
    }

    @Test func leavesGradientsUnderTheLimitUntouched() {
        let a = Parameter(.zeros([3]))
        setGradient(a, [0.1, -0.2, 0.2])
        let before = bits(a.grad!)
        let norm = clipGradientNorm([a], maxNorm: 1)
        expectClose([norm], [0.3], tolerance: 1e-7, relativeTolerance: 1e-7, "norm")
        #expect(bits(a.grad!) == before)
    }

    @Test func ignoresParametersWithoutGradients() {
        let a = Parameter(.zeros([3])), b = Parameter(.ones([2]))
        setGradient(a, [0, 3, 4])
        #expect(clipGradientNorm([a, b], maxNorm: 10) == 5)
        #expect(b.grad == nil)
        #expect(clipGradientNorm([b], maxNorm: 1) == 0)
    }

    /// Gradients produced by real layers are not always dense private buffers: a Linear weight's
    /// gradient is a transposed view, and `a + b` hands both inputs the same gradient buffer.
    @Test func scalesEveryGradientProducedByBackward() throws {
        var rng = SeededGenerator(seed: 41)
        let layer = Linear(5, 3, using: &rng)
        let a = Parameter(.randn([3], using: &rng)), b = Parameter(.randn([3], using: &rng))
        let x = Tensor.randn([4, 5], using: &rng), r = Tensor.randn([4, 3], using: &rng)
        ((layer(x) + (a.value + b.value)) * r).sum().backward()
        let params = layer.trainableParameters + [a, b]
        let before = try params.map { try #require($0.grad).doubles }
        let norm = clipGradientNorm(params, maxNorm: 0.5)
        let expectedNorm = before.joined().map { $0 * $0 }.reduce(0, +).squareRoot()
        expectClose([norm], [expectedNorm], tolerance: 1e-6, relativeTolerance: 1e-6, "pre-clip norm")
        #expect(norm > 0.5)
        let f = 0.5 / (norm + 1e-6)
        for (i, p) in params.enumerated() {
            expectClose(try #require(p.grad).doubles, before[i].map { $0 * f }, tolerance: 1e-6, relativeTolerance: 1e-6, "grad \(i)")
        }
        let after = params.flatMap { $0.grad!.doubles }.map { $0 * $0 }.reduce(0, +).squareRoot()
        expectClose([after], [0.5], tolerance: 1e-5, relativeTolerance: 1e-5, "post-clip norm")
    }

    @Test func worksOnFloat64Gradients() {
        let p = Parameter(.zeros([2], dtype: .float64))
        (p.value * Tensor([6.0, 8.0], shape: [2])).sum().backward()
        #expect(clipGradientNorm([p], maxNorm: 5) == 10)
        expectClose(p.grad!.doubles, [3, 4], tolerance: 1e-6, relativeTolerance: 1e-6, "grad")
    }
}

// MARK: - Optimiser state

@Suite struct OptimizerState {
    private func parameters() -> [Parameter] {
        [Parameter(Tensor(startValues, shape: [2, 2])), Parameter(Tensor([0.1, 0.2, 0.3] as [Float], shape: [3]))]
    }

    /// Step `k`: parameter 0 gets stepGradients[k], parameter 1 the last three of stepGradients[k].
    private func step(_ opt: any Optimizer, _ ps: [Parameter], _ k: Int) {
        setGradient(ps[0], stepGradients[k])
        setGradient(ps[1], Array(stepGradients[k][1...]))
        opt.step()
    }

    @Test(arguments: [OptimizerCase.adamW, .rmspropMomentumL2])
    func stateRoundTripResumesIdentically(_ c: OptimizerCase) throws {
        let ps = parameters()
        let opt = c.make(ps)
        for k in 0..<2 { step(opt, ps, k) }
        // A second optimiser over an identical copy of the parameters, resumed from the state.
        let qs = ps.map { Parameter($0.value.detached) }
        let resumed = c.make(qs)
        let state = opt.stateTensors()
        try resumed.loadState(state)
        #expect(Set(resumed.stateTensors().keys) == Set(state.keys))
        for (k, t) in resumed.stateTensors() { #expect(bits(t) == bits(state[k]!), "\(k)") }
        if let adam = resumed as? Adam { #expect(adam.stepCount == 2) }
        step(opt, ps, 2)
        step(resumed, qs, 2)
        for (p, q) in zip(ps, qs) { #expect(bits(p.value) == bits(q.value)) }
    }

    @Test func adamStateNamesItsFields() {
        let opt = Adam(parameters())
        #expect(Set(opt.stateTensors().keys) == ["step", "m.0", "v.0", "m.1", "v.1"])
        #expect(Set(RMSprop(parameters()).stateTensors().keys) == ["square.0", "buffer.0", "square.1", "buffer.1"])
    }

    private func expectStateError(_ field: String, sourceLocation: SourceLocation = #_sourceLocation,
                                  _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("no error; expected one naming '\(field)'", sourceLocation: sourceLocation)
        } catch let e as OptimizerStateError {
            #expect(e.field == field, sourceLocation: sourceLocation)
            #expect("\(e)".contains("'\(field)'"), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func adamRejectsMissingOrMisshapenState() {
        let source = Adam(parameters())
        for k in 0..<2 { step(source, source.parameters, k) }
        let target = Adam(parameters())
        var state = source.stateTensors()
        state["m.1"] = nil
        expectStateError("m.1") { try target.loadState(state) }
        state = source.stateTensors()
        state["step"] = nil
        expectStateError("step") { try target.loadState(state) }
        state = source.stateTensors()
        state["v.0"] = .zeros([4])
        expectStateError("v.0") { try target.loadState(state) }
        do {
            try target.loadState(state)
        } catch let e as OptimizerStateError {
            #expect(e.problem.contains("[4]") && e.problem.contains("[2, 2]"), "\(e.problem)")
        } catch { Issue.record("\(error)") }
        // Nothing was half-loaded.
        #expect(target.stateTensors().values.allSatisfy { $0.doubles.allSatisfy { $0 == 0 } })
        #expect(target.stepCount == 0)
    }

    @Test func rmspropRejectsMissingOrMisshapenState() {
        let target = RMSprop(parameters(), momentum: 0.9)
        var state = RMSprop(parameters()).stateTensors()
        state["buffer.0"] = nil
        expectStateError("buffer.0") { try target.loadState(state) }
        state = RMSprop(parameters()).stateTensors()
        state["square.1"] = .zeros([3, 1])
        expectStateError("square.1") { try target.loadState(state) }
        expectStateError("square.0") { try target.loadState(Adam(parameters()).stateTensors()) }
    }
}
