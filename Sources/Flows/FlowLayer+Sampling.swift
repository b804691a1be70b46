import Tensor
import NN

extension FlowLayer {
    /// Draws `count` samples from the model: x = f⁻¹(T·ε), ε ~ N(0, I_D), with T the
    /// temperature (it scales the prior's standard deviation; T = 1 samples the model itself,
    /// T < 1 the "reduced-temperature" samples of Glow §5).
    ///
    /// The latents are exactly `StandardNormal.sample([count, D], dtype:, using: &rng) · T`, with
    /// D = `latentDimensions` and the dtype of the model's parameters (Float32 for a model
    /// without parameters), so a caller can redraw them from the same seed. The inverse runs
    /// without autodiff in evaluation mode (BatchNorm on its running statistics; ActNorm does
    /// not initialise) and the model's mode is restored afterwards. Image flows return
    /// (count, C, H, W) on the dequantised scale v = (sigmoid(h) − α)/(1 − 2α) of
    /// `LogitPreprocessing` (pixel/255 up to the 255/256 factor), which lies in
    /// (−α/(1 − 2α), (1 − α)/(1 − 2α)) ≈ (−0.056, 1.056) for α = 0.05: clamp to [0, 1] for
    /// display. Vector flows return (count, D).
    ///
    /// - Parameters:
    ///   - count: number of samples, ≥ 1.
    ///   - temperature: T ≥ 0, finite.
    ///   - rng: the source of ε; advanced by count·D normal draws.
    /// - Precondition: the flow is a whole model (`latentDimensions` is not nil).
    public func sample(count: Int, temperature: Double = 1, using rng: inout some RandomNumberGenerator) -> Tensor {
        guard let d = latentDimensions else {
            preconditionFailure("sample: \(type(of: self)) is a layer, not a model with a fixed latent size")
        }
        precondition(count >= 1, "sample: count \(count) must be ≥ 1")
        precondition(temperature >= 0 && temperature.isFinite, "sample: temperature \(temperature) must be finite and ≥ 0")
        let dtype = namedParameters().first?.1.value.dtype ?? .float32
        let z = StandardNormal.sample([count, d], dtype: dtype, using: &rng) * temperature
        return inverseInEvaluationMode(z)
    }

    /// f⁻¹(z) without autodiff, in evaluation mode; the model's mode is restored afterwards.
    public func inverseInEvaluationMode(_ z: Tensor) -> Tensor {
        let wasTraining = isTraining
        setTraining(false)
        defer { setTraining(wasTraining) }
        return withoutGrad { inverse(z.detached) }
    }
}
