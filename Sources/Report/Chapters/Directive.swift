/// A schema-checked directive: every parameter of its schema present (defaults filled, omitted
/// optionals `.null`), with the source it came from. This is what the runner consumes.
///
/// ```swift
/// let epochs = train.int("epochs")
/// let model = train.value("model")          // model.caseName == "realNVP", model["scales"]?.int
/// let clip = train.optionalDouble("clip")
/// ```
/// Accessors trap on a name the schema does not declare or a value of another type: after
/// validation that is a programmer error, not a chapter error.
public struct Directive: Sendable {
    public var name: String
    /// The `id:` argument, if the directive has one.
    public var id: String?
    /// Where the id's string literal is (or the directive's location without an id).
    public var idLocation: SourceLocation
    /// All parameters in schema order.
    public var arguments: [Value.Argument]
    /// The body's Markdown (caption, claim comment, abstract), nil without ` { }`.
    public var body: String?
    public var bodyLocation: SourceLocation?
    /// Where the `@` is.
    public var location: SourceLocation
    /// The directive verbatim from `@` to the closing `)`.
    public var source: String
    /// Every id this directive refers to (`ref<...>` parameters, also inside enum cases and
    /// arrays), in source order: the edges of the experiment graph.
    public var references: [Reference]
    /// Values whose keys must belong to a referenced `@Evaluate` (checked by the book).
    var keyUses: [KeyUse] = []
    /// Inline-value keys given as strings (claims), checked by the book.
    var valueKeys: [(key: String, location: SourceLocation)] = []
    /// The keys of every `Data` value in the arguments (including defaults and nested ones).
    var dataKeys: [String] = []

    /// An argument by parameter name; nil only for a name the schema does not declare.
    public subscript(name: String) -> Value? {
        arguments.first { $0.name == name }?.value
    }

    /// An argument by parameter name (the schema must declare it).
    public func value(_ name: String) -> Value {
        guard let value = self[name] else { preconditionFailure("@\(self.name) has no parameter '\(name)'") }
        return value
    }

    public func string(_ name: String) -> String { typed(name, \.string, "String") }
    public func int(_ name: String) -> Int { typed(name, \.int, "Int") }
    public func double(_ name: String) -> Double { typed(name, \.double, "Double") }
    public func bool(_ name: String) -> Bool { typed(name, \.bool, "Bool") }
    public func optionalString(_ name: String) -> String? { optional(name, \.string, "String") }
    public func optionalInt(_ name: String) -> Int? { optional(name, \.int, "Int") }
    public func optionalDouble(_ name: String) -> Double? { optional(name, \.double, "Double") }
    /// The elements of an array argument (empty for an omitted optional array).
    public func values(_ name: String) -> [Value] { optional(name, \.array, "array") ?? [] }
    public func ints(_ name: String) -> [Int] { values(name).map { $0.int! } }
    public func strings(_ name: String) -> [String] { values(name).map { $0.string! } }

    private func typed<T>(_ name: String, _ get: (Value) -> T?, _ type: String) -> T {
        let value = value(name)
        guard let result = get(value) else { preconditionFailure("@\(self.name) '\(name)' is \(value), not \(type)") }
        return result
    }

    private func optional<T>(_ name: String, _ get: (Value) -> T?, _ type: String) -> T? {
        let value = value(name)
        if value.isNull { return nil }
        guard let result = get(value) else { preconditionFailure("@\(self.name) '\(name)' is \(value), not \(type)") }
        return result
    }
}

/// A `ref<...>` argument: the id, what it must name, and where it is written.
public struct Reference: Sendable, Hashable {
    public var id: String
    public var target: RefTarget
    public var location: SourceLocation
    /// How the argument is called in messages: `'model'`, `'classifier' of '.msp'`.
    public var parameter: String
}

/// A string or data value of a ``Membership`` parameter, checked against the evaluation it names.
struct KeyUse: Sendable {
    var membership: Membership
    /// The evaluation id (the value of the membership's evaluation parameter).
    var evaluation: String
    /// A detector key, a data key or a `"detector/ood"` entry.
    var key: String
    var location: SourceLocation
}
