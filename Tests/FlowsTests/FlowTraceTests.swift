import Foundation
import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct FlowTraceTests {
    /// A 1×28×28 model with small s/t networks and randomised couplings.
    func model(_ scheme: MaskScheme = .checkerboard, seed: UInt64 = 1) -> RealNVP {
        let config = RealNVPConfig(mid: 4, blocks: 1, maskScheme: scheme, seed: seed)
        let model = RealNVP(config: config, dequantization: .none, dtype: .float64)
        randomiseCouplings(model.couplings, std: 0.3, seed: seed &+ 7)
        return model
    }

    func image(seed: UInt64) -> Tensor { uniform([1, 1, 28, 28], 0, 1, seed: seed) }

    /// Whether the coupling transforms pixel (r, c) of the 28×28 image (reference layout,
    /// written out independently of the model's bookkeeping).
    func transforms(_ k: Int, row r: Int, column c: Int) -> Bool {
        switch k {
        case 0, 2: return (r + c) % 2 == 0  // checkerboard parity 0: top-left pixel transformed
        case 1: return (r + c) % 2 == 1
        // After the squeeze, channel 2·dy + dx holds pixel (2i + dy, 2j + dx); the channel
        // couplings transform channels 0, 1 (dy = 0, parity 0) or 2, 3 (dy = 1, parity 1).
        case 3, 5: return r % 2 == 0
        case 4: return r % 2 == 1
        // Scale 2 keeps channels 0, 1 (dy = 0) and runs checkerboards on the 14×14 grid (i, j).
        default:
            let parity = (k - 6) % 2
            return r % 2 == 0 && (r / 2 + c / 2 + parity) % 2 == 0
        }
    }

    @Test func traceHasOneImageLayoutEntryPerCoupling() {
        let model = model()
        let x = image(seed: 2)
        let trace = model.trace(x)
        #expect((trace.channels, trace.height, trace.width) == (1, 28, 28))
        #expect(trace.input == x.doubles)
        let noiseless = model.preprocessing.forward(x).z  // `.none` dequantisation
        #expect(trace.preprocessed == noiseless.doubles)
        #expect(trace.couplings.map(\.name) == model.namedCouplings.map(\.name))
        #expect(trace.couplings.map(\.mask) == model.couplings.map(\.mask))
        for c in trace.couplings {
            #expect(c.output.count == 784 && c.scale.count == 784 && c.shift.count == 784, "\(c.name)")
        }
        #expect(trace.latent.count == 784)
        #expect(trace.plane(trace.latent, channel: 0) == trace.latent)
    }

    @Test func scaleIsOneAndShiftZeroOutsideTheTransformedPixels() {
        let trace = model().trace(image(seed: 3))
        for (k, c) in trace.couplings.enumerated() {
            var inside = 0
            for r in 0..<28 {
                for col in 0..<28 {
                    let i = r * 28 + col
                    if transforms(k, row: r, column: col) {
                        inside += 1
                        #expect(c.scale[i] != 1 && c.scale[i] > 0, "\(c.name): scale at (\(r), \(col))")
                    } else {
                        #expect(c.scale[i] == 1 && c.shift[i] == 0, "\(c.name): padding at (\(r), \(col))")
                    }
                }
            }
            // Half of the 784 entries at scale 1; half of the 392 kept entries at scale 2.
            #expect(inside == (k < 6 ? 392 : 196), "\(c.name): transformed pixels")
            expectClose([c.scale.map { Foundation.log($0) }.reduce(0, +)], [c.logDet], tolerance: 1e-9, "\(c.name): Σ s")
        }
    }

    @Test func cycleTraceTransformsOneQuadrantPerCoupling() {
        let trace = model(.cycle).trace(image(seed: 4))
        #expect(trace.couplings.count == 8)
        for (k, c) in trace.couplings.enumerated() {
            let to = (k + 1) % 4
            for r in 0..<28 {
                for col in 0..<28 where Mask.quadrant(row: r, column: col, height: 28, width: 28) != to {
                    #expect(c.scale[r * 28 + col] == 1 && c.shift[r * 28 + col] == 0, "\(c.name) at (\(r), \(col))")
                }
            }
        }
    }

    @Test(arguments: [MaskScheme.checkerboard, .cycle, .horizontal])
    func latentIsForwardsZRearranged(scheme: MaskScheme) {
        let model = model(scheme)
        let x = image(seed: 5)
        let trace = model.trace(x)
        model.setTraining(false)
        let z = model.forward(x).z
        expectClose(trace.latent, model.latentImage(z).doubles, tolerance: 1e-12, "\(scheme): latent")
        // The last coupling's output with the factored-out parts put back is z in image layout.
        expectClose(trace.couplings.last!.output, trace.latent, tolerance: 1e-12, "\(scheme): last output")
    }

    @Test func scaleTwoOutputsKeepTheFactoredOutHalf() {
        let model = model()
        let trace = model.trace(image(seed: 6))
        // Odd rows are factored out after scale 1 (squeezed channels 2, 3): from then on every
        // coupling's output holds their final values there.
        let afterScale1 = trace.couplings[5].output
        for k in 6..<10 {
            for r in stride(from: 1, to: 28, by: 2) {
                for col in 0..<28 { #expect(trace.couplings[k].output[r * 28 + col] == afterScale1[r * 28 + col]) }
            }
        }
    }

    @Test func traceLeavesTheModelAsItWas() {
        let model = model()
        model.setTraining(true)
        let x = image(seed: 7)
        let before = model.couplings[0].network.namedParameters().first { $0.0.contains("running_mean") }!.1.value.doubles
        let first = model.trace(x)
        #expect(model.isTraining && model.couplings[3].network.isTraining)
        let after = model.couplings[0].network.namedParameters().first { $0.0.contains("running_mean") }!.1.value.doubles
        #expect(before == after, "evaluation mode: BatchNorm statistics untouched")
        #expect(model.trace(x) == first, "deterministic")
        // A model with dequantisation noise gives the same trace: no noise is drawn.
        let noisy = RealNVP(config: model.config, dequantization: .uniform, dtype: .float64)
        for ((_, a), (_, b)) in zip(noisy.namedParameters(), model.namedParameters()) { a.assign(b.value) }
        #expect(noisy.trace(x) == first)
    }
}
