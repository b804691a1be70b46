import Foundation
import Tensor
import Flows
import OOD

extension Backend {
    static let flowCurveVersion = "flow-curve-1"

    /// `@Curve(vary: .epochs([...]))` of a `.likelihood` or `.typicality` detector: trains the
    /// flow of its `@Train` (same data, seed and options) for max(epochs) epochs, keeping a
    /// checkpoint after every epoch, then evaluates the detector on the evaluation's sets with
    /// the checkpoint of each listed epoch (epoch 0 = the flow at its initialisation).
    ///
    /// Training runs in the cache's work directory of `key`, so an interrupted curve resumes
    /// from its last checkpoint. The loss per epoch is the trainer's mean training bits/dim of
    /// that epoch; at epoch 0 it is the mean bits/dim of the training data under the initial flow.
    func flowCurve(evaluation: EvaluateSpec, detector: DetectorSpec, train: TrainSpec, epochs: [Int],
                   metric curveMetric: MetricKind, ood: [DataRef]?, seed: Int, key: String,
                   inputModels: [String: URL], trains: [String: TrainSpec], into out: URL) throws {
        switch detector.kind {
        case .likelihood, .typicality: break
        default: throw BackendError("a flow curve needs a .likelihood or .typicality detector; '\(detector.key)' is neither")
        }
        guard let last = epochs.max(), epochs.allSatisfy({ $0 >= 0 }) else {
            throw BackendError("@Curve epochs must be 0 or more, got \(epochs)")
        }
        let trainSeed = train.seed(for: seed)
        var setup = try flowTraining(train, seed: trainSeed, inputModels: inputModels)
        setup.options.epochs = max(last, 1)
        setup.options.keepSnapshots = true
        setup.options.checkpointEvery = 1
        let work = try cache.workDirectory(for: key)
        var trainer = FlowTrainer(spec: setup.spec, options: setup.options, directory: work)
        trainer.log = log
        let (state, _) = try trainer.run(train: setup.train, validation: setup.validation, negative: setup.negative)
        let run = try FlowRun(directory: work)

        let sets = ood ?? evaluation.ood
        let (inInput, oodInputs) = try evaluationInputs(evaluation, ood: sets, seed: seed)
        let fitInput = DetectorInput(try fitData(for: detector, trains: trains, seed: seed))
        var metric: [String: [Double]] = [:]
        var loss: [Double] = []
        for epoch in epochs {
            log("  epoch \(epoch)")
            let flow: any FlowLayer
            if epoch == 0 {
                flow = setup.spec.makeFlow()
                flow.setTraining(false)
                let scorer = FlowScorer(flow: flow, spec: setup.spec, seed: 0)
                loss.append(try scorer.score(setup.train, name: "training data").meanBitsPerDimension)
            } else {
                flow = try run.loadFlow(epoch: epoch)
                loss.append(state.history[epoch - 1].trainBitsPerDim)
            }
            let scorer = flowDetector(detector, flow: flow, spec: setup.spec)
            var rng = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 13)
            try scorer.fit(fitInput, using: &rng)
            let inScores = try checkedScores(try scorer.scores(inInput), detector: detector.key, dataset: evaluation.inDistribution.key)
            for (ref, input) in zip(sets, oodInputs) {
                let outScores = try checkedScores(try scorer.scores(input), detector: detector.key, dataset: ref.key)
                let m = MetricRecord(metrics: try OODMetrics(inScores: inScores, outScores: outScores), intervals: nil)
                metric[ref.key, default: []].append(m.value(curveMetric))
            }
        }
        let result = CurveResult(parameter: "training epochs", values: epochs, metric: metric,
                                 displayNames: Dictionary(sets.map { ($0.key, $0.displayName) }, uniquingKeysWith: { a, _ in a }),
                                 loss: loss)
        try writeJSON(result, to: out.appendingPathComponent("curve.json"))
        try? FileManager.default.removeItem(at: work)
    }
}
