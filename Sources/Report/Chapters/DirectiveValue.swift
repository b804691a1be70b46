/// A directive argument as written (docs/report-design.md, "Directive values"): a literal, an
/// array, a dictionary or an enum-like case, with the chapter location of its first character.
/// The schema (``Vocabulary``) has not been applied yet; see ``Value`` for the checked form.
public struct DirectiveValue: Sendable, Hashable {
    public indirect enum Kind: Sendable, Hashable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case null
        case array([DirectiveValue])
        /// Entries in source order; keys are values too (the schema says they are strings).
        case dictionary([DictionaryEntry])
        /// `.name` (no arguments) or `.name(args)`.
        case enumCase(String, [DirectiveArgument])
    }

    public var kind: Kind
    public var location: SourceLocation

    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// How the value reads in a message: `string "x"`, `integer 3`, `case '.adam'`, ...
    public var summary: String {
        switch kind {
        case .string(let s): "string \"\(s)\""
        case .int(let i): "integer \(i)"
        case .double(let d): "number \(d)"
        case .bool(let b): "\(b)"
        case .null: "nil"
        case .array: "an array"
        case .dictionary: "a dictionary"
        case .enumCase(let name, _): "case '.\(name)'"
        }
    }
}

/// `key: value` inside a dictionary literal.
public struct DictionaryEntry: Sendable, Hashable {
    public var key: DirectiveValue
    public var value: DirectiveValue

    public init(key: DirectiveValue, value: DirectiveValue) {
        self.key = key
        self.value = value
    }
}

/// One argument of a directive or an enum case, `label: value` or a positional `value`.
public struct DirectiveArgument: Sendable, Hashable {
    public var label: String?
    /// Where the label starts (nil for a positional argument).
    public var labelLocation: SourceLocation?
    public var value: DirectiveValue

    public init(label: String?, labelLocation: SourceLocation?, value: DirectiveValue) {
        self.label = label
        self.labelLocation = labelLocation
        self.value = value
    }

    /// The label's location, or the value's for a positional argument.
    public var location: SourceLocation { labelLocation ?? value.location }
}

/// A directive whose arguments have been parsed into value trees (not yet schema-checked).
public struct ParsedDirective: Sendable, Hashable {
    public var raw: RawDirective
    public var arguments: [DirectiveArgument]

    public init(raw: RawDirective, arguments: [DirectiveArgument]) {
        self.raw = raw
        self.arguments = arguments
    }

    public var name: String { raw.name }
    public var location: SourceLocation { raw.location }
}
