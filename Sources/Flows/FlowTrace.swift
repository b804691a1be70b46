import Tensor
import NN

/// What one coupling layer does to one image, in image layout (C × H × W, row-major, channel
/// planes one after another), for the coupling-layer figure of Kirichenko et al. 2020 §6
/// (Figures 4–5: "what do the couplings learn").
///
/// Entries the coupling leaves alone get the neutral values: scale 1 and shift 0 on the
/// conditioning and pass-through entries, and on everything factored out at earlier scales.
/// The squeezes are undone, so entry (c, i, j) always refers to pixel (i, j) of input channel c.
public struct CouplingTrace: Sendable, Hashable {
    /// The coupling's name in the model (`scale1.checkerboard.0`, …; see `RealNVP`).
    public var name: String
    /// The coupling's mask in the layout where it acts (after any squeezes).
    public var mask: Mask
    /// The activations after this coupling (logit space); the entries factored out at earlier
    /// scales hold their (final) values.
    public var output: [Double]
    /// exp(s), with s = scale·tanh(s_raw) the coupling's bounded log-scale; 1 where s = 0.
    public var scale: [Double]
    /// t; 0 on the entries that are not transformed.
    public var shift: [Double]
    /// Σ s, this coupling's contribution to log|det|.
    public var logDet: Double
}

/// A flow's activations on one image, every array in image layout C × H × W (see
/// `CouplingTrace`).
public struct FlowTrace: Sendable, Hashable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// The image x ∈ [0, 1] as given.
    public var input: [Double]
    /// h = logit(α + (1 − 2α)·255x/256), the input of the first coupling.
    public var preprocessed: [Double]
    /// One entry per coupling, in the order `forward` applies them.
    public var couplings: [CouplingTrace]
    /// The latent z rearranged into image layout (`RealNVP.latentImage`).
    public var latent: [Double]

    /// Channel `c` of an image-layout array: H·W values, row-major.
    public func plane(_ values: [Double], channel c: Int) -> [Double] {
        precondition(values.count == channels * height * width && (0..<channels).contains(c),
                     "FlowTrace.plane: \(values.count) values for \(channels)×\(height)×\(width), channel \(c)")
        return Array(values[(c * height * width)..<((c + 1) * height * width)])
    }
}

extension RealNVP {
    /// Runs the model on one image and records every coupling's output, exp(s) and t in image
    /// layout, and the final latent in image layout.
    ///
    /// Deterministic inspection, not scoring: the model is switched to evaluation mode
    /// (BatchNorm running statistics) for the call and set back to its previous mode afterwards
    /// (`setTraining`, so a model with mixed modes comes back uniform); there is no
    /// dequantisation noise (v = 255x/256 as with `.none`) and the model's noise generator does
    /// not advance; no gradients are recorded.
    ///
    /// For couplings after a factor-out, the factored-out half is put back (its values in
    /// `output`, s = 0 and t = 0) and the squeezes are undone, so every array has C·H·W entries.
    ///
    /// - Parameter image: x ∈ [0, 1] of shape (1, C, H, W) or (C, H, W).
    public func trace(_ image: Tensor) -> FlowTrace {
        let shape = [config.channels, config.height, config.width]
        let x = image.rank == 3 ? image.reshaped([1] + image.shape) : image
        precondition(x.rank == 4 && x.shape[0] == 1 && Array(x.shape.dropFirst()) == shape,
                     "RealNVP.trace: expects one image (1, \(shape.map(String.init).joined(separator: ", "))), got \(image.shape)")
        let wasTraining = isTraining
        setTraining(false)
        defer { setTraining(wasTraining) }
        return withoutGrad {
            var unused = SeededGenerator(seed: 0)
            let noiseless = LogitPreprocessing(alpha: preprocessing.alpha, dequantization: .none, using: &unused)
            var h = noiseless.forward(x).z
            let preprocessed = h.doubles
            var history: [Step] = []
            var factored: [Tensor] = []
            var traces: [CouplingTrace] = []
            for step in steps {
                switch step {
                case .coupling(let name, let layer):
                    let out = layer.forwardDetailed(h)
                    h = out.z
                    let zeros = factored.map { Tensor.zeros($0.shape, dtype: $0.dtype) }
                    traces.append(CouplingTrace(
                        name: name, mask: layer.mask,
                        output: Self.imageLayout(h, undoing: history, factored: factored).doubles,
                        scale: Self.imageLayout(out.logScale, undoing: history, factored: zeros).exp().doubles,
                        shift: Self.imageLayout(out.shift, undoing: history, factored: zeros).doubles,
                        logDet: out.logDet.item))
                case .squeeze:
                    h = h.squeezed2x2()
                    history.append(step)
                case .factorOut(let keep):
                    factored.append(h.slice(axis: 1, keep..<h.shape[1]))
                    h = h.slice(axis: 1, 0..<keep)
                    history.append(step)
                }
            }
            let z = Tensor.concat((factored + [h]).map { $0.flattenedBatch() }, axis: 1)
            return FlowTrace(channels: shape[0], height: shape[1], width: shape[2], input: x.doubles,
                             preprocessed: preprocessed, couplings: traces, latent: latentImage(z).doubles)
        }
    }

    /// Undoes the squeezes and factor-outs in `history` (newest last) on a state-layout tensor,
    /// filling each factored-out part from `factored` (oldest first).
    private static func imageLayout(_ state: Tensor, undoing history: [Step], factored: [Tensor]) -> Tensor {
        var h = state
        var factored = factored
        for step in history.reversed() {
            switch step {
            case .squeeze: h = h.unsqueezed2x2()
            case .factorOut: h = Tensor.concat([h, factored.removeLast()], axis: 1)
            case .coupling: break
            }
        }
        return h
    }
}
