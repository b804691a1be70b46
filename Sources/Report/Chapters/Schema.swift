/// The type of a directive or enum-case parameter (docs/report-design.md, "The vocabulary").
public indirect enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case string
    /// A string from a fixed list (e.g. the tabular data sets).
    case choice([String])
    case int
    /// A floating value; integer literals are accepted and converted.
    case double
    case bool
    /// A string id naming a directive of one of the target's kinds anywhere in the book.
    case ref(RefTarget)
    case array(ValueType)
    /// A dictionary with string keys.
    case dictionary(ValueType)
    /// May be `nil` or omitted (then nil unless the parameter has another default).
    case optional(ValueType)
    /// An enum declared in the vocabulary, by name ("Model", "Data", ...).
    case enumeration(String)
    /// A string holding an inline-value key, as in `{{auroc:eval/msp/digits}}` without braces.
    case valueKey

    public var description: String {
        switch self {
        case .string: "String"
        case .choice(let options): "one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
        case .int: "Int"
        case .double: "Double"
        case .bool: "Bool"
        case .ref(let target): "the id (String) of \(target)"
        case .array(let element): "[\(element.shortDescription)]"
        case .dictionary(let value): "[String: \(value.shortDescription)]"
        case .optional(let wrapped): "\(wrapped.shortDescription)?"
        case .enumeration(let name): name
        case .valueKey: "an inline-value key (String)"
        }
    }

    /// The type as written in the vocabulary notation, `ref<Train flow>` style.
    var shortDescription: String {
        switch self {
        case .ref(let target): "ref<\(target.notation)>"
        case .valueKey: "String"
        case .choice: "String"
        default: description
        }
    }
}

/// What a model does, derived from the `@Train`'s `model:` case (see ``Vocabulary/modelRoles``).
public enum ModelRole: String, Sendable, Hashable {
    /// `.realNVP` only: coupling layers whose s and t can be shown.
    case flow, imageFlow, realNVP, classifier

    var phrase: String {
        switch self {
        case .flow: "a flow"
        case .imageFlow: "an image flow"
        case .realNVP: "an image RealNVP"
        case .classifier: "a classifier"
        }
    }
}

/// The directives an id may name, optionally constrained by the model a `@Train` trains.
public struct RefTarget: Sendable, Hashable, CustomStringConvertible {
    public var kinds: [String]
    public var role: ModelRole?

    public init(_ kinds: [String], role: ModelRole? = nil) {
        self.kinds = kinds
        self.role = role
    }

    /// "a @Train of a flow", "an @Evaluate", "a @Histogram or @ROC ...".
    public var description: String {
        let names = kinds.map { "@\($0)" }
        let list = names.count <= 2 ? names.joined(separator: " or ")
            : names.dropLast().joined(separator: ", ") + " or " + names.last!
        let article = kinds.first.map { "AEIOU".contains($0.first!) ? "an" : "a" } ?? "a"
        return "\(article) \(list)" + (role.map { " of \($0.phrase)" } ?? "")
    }

    var notation: String {
        kinds.joined(separator: "|") + (role.map { " \($0 == .imageFlow ? "flow image" : $0 == .realNVP ? "realNVP" : $0.rawValue)" } ?? "")
    }
}

/// How an omitted parameter is filled.
public enum ParameterDefault: Sendable, Hashable {
    /// Must be given (unless the type is optional: then it defaults to nil).
    case required
    /// A value written in directive syntax, e.g. `"1e-3"`, `".glowLatent()"`.
    case value(String)
    /// Depends on the directive the value appears in: the bare `.fashionMNIST` means the training
    /// split inside `@Train` and the test split elsewhere.
    case byDirective([String: String], otherwise: String)
}

/// A string (or data set) parameter whose values must belong to the `@Evaluate` named by another
/// parameter of the same directive (`label`).
public enum Membership: Sendable, Hashable {
    /// A detector key of the evaluation.
    case detector(of: String)
    /// The key of one of the evaluation's `ood` sets.
    case oodSet(of: String)
    /// The key of the evaluation's in-distribution set or one of its `ood` sets.
    case evaluatedSet(of: String)
    /// A dictionary key `"detector/ood-key"` of the evaluation.
    case publishedEntry(of: String)

    var evaluationLabel: String {
        switch self {
        case .detector(let label), .oodSet(let label), .evaluatedSet(let label), .publishedEntry(let label): label
        }
    }
}

/// One parameter of a directive or of an enum case.
public struct Parameter: Sendable, Hashable {
    /// The argument label; nil for a positional parameter (`.bottleneck(64)`).
    public var label: String?
    /// The name used in messages and by accessors: the label, or a descriptive name when positional.
    public var name: String
    public var type: ValueType
    public var defaultValue: ParameterDefault
    public var membership: Membership?

    /// A labelled parameter; `default` is directive syntax (`"1e-3"`, `".adam"`).
    public static func labelled(_ label: String, _ type: ValueType, _ default: String? = nil,
                                membership: Membership? = nil) -> Parameter {
        Parameter(label: label, name: label, type: type, defaultValue: `default`.map { .value($0) } ?? .required,
                  membership: membership)
    }

    /// A positional parameter known as `name` in messages and accessors.
    public static func positional(_ name: String, _ type: ValueType, _ default: ParameterDefault = .required) -> Parameter {
        Parameter(label: nil, name: name, type: type, defaultValue: `default`, membership: nil)
    }

    /// True when the parameter can be omitted.
    public var isOptional: Bool {
        if case .optional = type { return true }
        if case .required = defaultValue { return false }
        return true
    }

    /// `epochs: Int`, or `_ units: Int` for a positional parameter.
    var signature: String {
        "\(label ?? "_ \(name)"): \(type.shortDescription)"
    }
}

/// A case of a vocabulary enum with its own parameters.
public struct EnumCase: Sendable, Hashable {
    public var name: String
    public var parameters: [Parameter]

    public init(_ name: String, _ parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }
}

/// An enum of the vocabulary (`Model`, `Data`, `Detector`, ...).
public struct EnumType: Sendable, Hashable {
    public var name: String
    public var cases: [EnumCase]

    public init(_ name: String, _ cases: [EnumCase]) {
        self.name = name
        self.cases = cases
    }

    public func enumCase(named name: String) -> EnumCase? {
        cases.first { $0.name == name }
    }
}

/// What a directive's `id:` must look like.
public enum IdRule: Sendable, Hashable {
    /// `prefix` followed by `[a-z0-9-]+` ("fig:", "tab:", "claim:").
    case prefixed(String)
    /// Free-form `[a-z0-9-]+`.
    case plain
}

/// The schema of one directive.
public struct DirectiveSchema: Sendable, Hashable {
    public var name: String
    public var parameters: [Parameter]
    public var idRule: IdRule
    /// Whether a ` { ... }` body is allowed (caption, claim comment, abstract).
    public var takesBody: Bool
    /// Whether the directive must appear exactly once in the book.
    public var exactlyOnce: Bool
    /// Groups of labels of which exactly one group must be given, all of its labels together
    /// (`[["model"], ["evaluation", "detector"]]`). The labels' types must be optional.
    public var exactlyOneOf: [[String]]

    public init(_ name: String, _ parameters: [Parameter], id: IdRule = .plain, body: Bool = false,
                exactlyOnce: Bool = false, exactlyOneOf: [[String]] = []) {
        self.name = name
        self.parameters = parameters
        self.idRule = id
        self.takesBody = body
        self.exactlyOnce = exactlyOnce
        self.exactlyOneOf = exactlyOneOf
    }

    public func parameter(labelled label: String) -> Parameter? {
        parameters.first { $0.label == label }
    }
}
