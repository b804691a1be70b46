import Foundation
import Tensor
import Flows
import OOD

/// The data-set names `train-flow` and `score` accept: every key of the `DataSpec` catalog
/// (images, tabular sets and held-out-class sets alike).
struct FlowDatasetNames {
    /// Whether `name` is a catalog key.
    func contains(_ name: String) -> Bool { (try? DataSpec(key: name)) != nil }

    /// The accepted names for help texts and errors: the simple keys, then the parameterised forms.
    func joined(separator: String) -> String {
        (DataSpec.simpleKeys + [
            "fashion-mnist-classes-<c>-…-<train|test>",
            "tabular-<\(TabularDataset.allCases.map(\.rawValue).joined(separator: "|"))>-<class>-<train|test>",
        ]).joined(separator: separator)
    }
}

/// The names `train-flow` and `score` accept (catalog keys).
let flowDatasetNames = FlowDatasetNames()

/// How many examples the generated sets (noise, constant, texture and photo crops) have without --subset.
let generatedSetSize = 2000

/// A catalog data set as `train-flow` and `score` see it.
struct FlowDataset {
    /// The loaded set, with the provenance of every example (`LoadedDataset.sources`).
    let data: LoadedDataset
    var count: Int { data.count }
    /// Image height and width; a vector set of D features counts as a 1 × D image here (the
    /// vector models flatten their input anyway).
    var height: Int { data.images?.height ?? 1 }
    var width: Int { data.images?.width ?? data.exampleShape.reduce(1, *) }
}

/// Loads a data set by catalog key through `DataSpec.load`: every source file's SHA-256 is
/// verified, `subset` draws a seeded random subset of that many examples (kept in file order;
/// generated sets get exactly `subset` examples, default `generatedSetSize`), and the same
/// (name, subset, seed) always gives the same examples.
///
/// - Parameters:
///   - name: a catalog key (`DataSpec(key:)`): images, `fashion-mnist-classes-…` or `tabular-…`.
///   - subset: at most this many examples; nil for all (generated sets: `generatedSetSize`).
///   - dataDir: a data root like FLOWOOD_DATA (with fashion-mnist/, sklearn-digits/, sklearn/,
///     skimage/ subfolders, or the FashionMNIST files themselves); nil for FLOWOOD_DATA, then
///     the installed packages.
///   - seed: seeds the subset and the generated sets.
///   - standardizeLike: a tabular set is standardised with the training statistics of this
///     spec's class (default: its own class; see `DataSpec.load`).
/// - Throws: `UserError` for an unknown name; the catalog's `DataError` (naming the file and
///   the package to install), `ChecksumError` and format errors.
func loadFlowDataset(named name: String, subset: Int?, dataDir: String?, seed: UInt64,
                     standardizeLike: DataSpec? = nil) throws -> FlowDataset {
    let spec: DataSpec
    do { spec = try DataSpec(key: name) } catch { throw UserError(error.description) }
    let count = subset ?? (spec.isGenerated ? generatedSetSize : nil)
    return FlowDataset(data: try spec.load(count: count, seed: seed, dataDir: dataDir, standardizeLike: standardizeLike))
}

/// The examples as samples for a flow of `kind`: (1, H, W) images, the flattened pixels for a
/// vector model, or the feature vectors of a tabular set.
/// - Throws: `UserError` when the set does not fit the model (vectors for an image flow, or a
///   different number of values per example).
func flowData(_ set: FlowDataset, for kind: FlowDataKind, name: String) throws -> FlowData {
    let source = set.data
    let data = FlowData(count: source.count, sampleShape: source.exampleShape) { source.tensor(indices: $0) }
    if source.images == nil, case .image = kind {
        throw UserError("\(name) holds \(source.exampleShape[0])-feature vectors, which an image flow cannot model; "
            + "use a vector model (--model realnvp-vector or glow-latent)")
    }
    guard data.sampleShape.reduce(1, *) == kind.dimensions else {
        throw UserError("\(name): examples of shape \(data.sampleShape) do not fit a model of \(kind.sampleShape) samples")
    }
    return data.sampleShape == kind.sampleShape ? data : data.reshaped(to: kind.sampleShape)
}

/// The catalog spec of the data a flow run was trained on, read from the first word of its
/// `dataName` ("tabular-wine-0-train (first 100)" → `.tabular(.wine, class: 0, .train)`); nil
/// when that is not a catalog key.
func trainingDataSpec(of run: FlowRun) -> DataSpec? {
    let first = run.config.options.dataName.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
    let key = first.hasSuffix(",") ? String(first.dropLast()) : first
    return try? DataSpec(key: key)
}
