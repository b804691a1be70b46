/// Why a figure could not be built, drawn or written; each case names the series or field at fault.
public enum PlotError: Error, Equatable, CustomStringConvertible {
    /// A series, dataset or grid has no data (`what` says which, e.g. `series 'MNIST'`).
    case empty(String)
    /// A value is NaN or infinite: `field` of `series` at `index`.
    case nonFinite(series: String, field: String, index: Int, value: Double)
    /// Two arrays of one series should have the same length.
    case lengthMismatch(series: String, field: String, expected: Int, actual: Int)
    /// A value must be positive to be shown on a logarithmic axis.
    case nonPositiveOnLogScale(series: String, field: String, index: Int, value: Double)
    /// A label is not valid Pango markup; `reason` is Pango's message.
    case invalidMarkup(String, reason: String)
    /// An option or a combination of inputs makes no sense (the message says which).
    case invalidArgument(String)
    /// Cairo reported an error while drawing or writing.
    case cairo(String)
    /// Writing an output file failed.
    case write(path: String, reason: String)

    public var description: String {
        switch self {
        case .empty(let what):
            "\(what) is empty"
        case .nonFinite(let series, let field, let index, let value):
            "\(series): \(field)[\(index)] is \(value); values must be finite"
        case .lengthMismatch(let series, let field, let expected, let actual):
            "\(series): \(field) has \(actual) values, expected \(expected)"
        case .nonPositiveOnLogScale(let series, let field, let index, let value):
            "\(series): \(field)[\(index)] is \(value), which a logarithmic axis cannot show"
        case .invalidMarkup(let markup, let reason):
            "invalid Pango markup '\(markup)': \(reason) (use Label.plain(_:) or interpolation for data strings)"
        case .invalidArgument(let message):
            message
        case .cairo(let message):
            "cairo: \(message)"
        case .write(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}

/// Checks that every value of `values` is finite.
///
/// - Throws: ``PlotError/nonFinite(series:field:index:value:)`` at the first bad value.
func requireFinite(_ values: [Double], series: String, field: String) throws {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
        throw PlotError.nonFinite(series: series, field: field, index: i, value: values[i])
    }
}

/// Checks that `values` has `count` elements.
///
/// - Throws: ``PlotError/lengthMismatch(series:field:expected:actual:)``.
func requireCount(_ values: [Double], _ count: Int, series: String, field: String) throws {
    if values.count != count {
        throw PlotError.lengthMismatch(series: series, field: field, expected: count, actual: values.count)
    }
}
