/// The key of an inline value `{{metric:target}}` or of a claim's `value:` (docs/report-design.md,
/// "Inline values"):
///
/// - `auroc|fpr95|fpr95OODPositive|auprIn|auprOut|detectionError:EVAL/DETECTOR/OODKEY`, or
///   `...:DETECTOR/OODKEY` when exactly one `@Evaluate` of the book has that detector
/// - `bpd:EVAL/DETECTOR/DATAKEY`, `bpd:FLOWID/DATAKEY`
/// - `accuracy:CLASSIFIERID`, `params:TRAINID`, `seconds:NODEID`
///
/// Parsing checks the shape only; ``Book`` checks that the ids, detectors and data sets exist.
public enum InlineValueKey: Sendable, Hashable {
    /// A detection metric (a `Metric` case name) of one detector on one OOD set, mean over seeds.
    case metric(String, evaluation: String, detector: String, dataset: String)
    /// The same without the evaluation: the book must have exactly one `@Evaluate` with the detector.
    case detectorMetric(String, detector: String, dataset: String)
    /// Mean bits per dimension of a data set under an evaluation's (flow) detector.
    case evaluationBitsPerDim(evaluation: String, detector: String, dataset: String)
    /// Mean bits per dimension of a data set under a trained flow.
    case flowBitsPerDim(flow: String, dataset: String)
    /// Test accuracy of a trained classifier.
    case accuracy(classifier: String)
    /// Parameter count of a trained model.
    case params(train: String)
    /// Wall-clock seconds a node took.
    case seconds(node: String)

    /// Parses `metric:target`; on a malformed key returns a diagnostic at `location`.
    public static func parse(_ text: String, at location: SourceLocation,
                             vocabulary: Vocabulary = .standard) -> Result<InlineValueKey, Diagnostic> {
        guard let colon = text.firstIndex(of: ":") else {
            return .failure(Diagnostic("malformed value key '\(text)': expected 'metric:target', e.g. 'auroc:eval/msp/digits'",
                                       at: location))
        }
        let metric = String(text[..<colon])
        let parts = text[text.index(after: colon)...].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let metrics = vocabulary.inlineMetrics
        guard metrics.contains(metric) else {
            var diagnostic = Diagnostic("unknown metric '\(metric)' in value key '\(text)'", at: location,
                                        suggesting: metric, from: metrics)
            if diagnostic.notes.isEmpty { diagnostic.notes.append(.init("metrics: " + metrics.joined(separator: ", "))) }
            return .failure(diagnostic)
        }
        func shape(_ expected: String) -> Result<InlineValueKey, Diagnostic> {
            .failure(Diagnostic("value key '\(text)': '\(metric)' takes \(expected)", at: location))
        }
        guard parts.allSatisfy({ !$0.isEmpty }) else {
            return shape(Self.shapes[metric] ?? "EVAL/DETECTOR/OODKEY or DETECTOR/OODKEY")
        }
        switch (metric, parts.count) {
        case ("bpd", 3): return .success(.evaluationBitsPerDim(evaluation: parts[0], detector: parts[1], dataset: parts[2]))
        case ("bpd", 2): return .success(.flowBitsPerDim(flow: parts[0], dataset: parts[1]))
        case ("accuracy", 1): return .success(.accuracy(classifier: parts[0]))
        case ("params", 1): return .success(.params(train: parts[0]))
        case ("seconds", 1): return .success(.seconds(node: parts[0]))
        case (_, 3) where Self.shapes[metric] == nil:
            return .success(.metric(metric, evaluation: parts[0], detector: parts[1], dataset: parts[2]))
        case (_, 2) where Self.shapes[metric] == nil:
            return .success(.detectorMetric(metric, detector: parts[0], dataset: parts[1]))
        default: return shape(Self.shapes[metric] ?? "EVAL/DETECTOR/OODKEY or DETECTOR/OODKEY")
        }
    }

    private static let shapes = [
        "bpd": "EVAL/DETECTOR/DATAKEY or FLOWID/DATAKEY", "accuracy": "CLASSIFIERID", "params": "TRAINID",
        "seconds": "NODEID",
    ]
}
