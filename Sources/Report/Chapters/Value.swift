/// A schema-checked argument value: integers given for `Double` parameters are converted, enum
/// cases carry every parameter by name (positional ones under their schema name, omitted ones
/// filled with defaults), and omitted optionals are `.null`.
///
/// Equality and hashing look at the value only, not at its location.
public struct Value: Sendable, Hashable, CustomStringConvertible {
    public indirect enum Kind: Sendable, Hashable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case null
        case array([Value])
        /// Entries in source order.
        case dictionary([Entry])
        /// A case with all of its parameters in schema order.
        case enumCase(String, [Argument])
    }

    /// A dictionary entry (equality ignores the key's location).
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: Value

        public static func == (a: Entry, b: Entry) -> Bool { a.key == b.key && a.value == b.value }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
        }
    }

    /// A named argument of a directive or enum case.
    public struct Argument: Sendable, Hashable {
        /// The parameter's label, or its schema name for a positional parameter.
        public var name: String
        public var value: Value
    }

    public var kind: Kind
    /// Where the value is written; for a filled-in default, where its directive or case is.
    public var location: SourceLocation
    /// True when the value was filled in from the schema's default.
    public var isDefault: Bool

    public init(_ kind: Kind, at location: SourceLocation, isDefault: Bool = false) {
        self.kind = kind
        self.location = location
        self.isDefault = isDefault
    }

    public static func == (a: Value, b: Value) -> Bool { a.kind == b.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    // MARK: Accessors

    public var string: String? { if case .string(let s) = kind { s } else { nil } }
    public var int: Int? { if case .int(let i) = kind { i } else { nil } }
    /// The number, also for an `.int`.
    public var double: Double? {
        switch kind {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
    public var bool: Bool? { if case .bool(let b) = kind { b } else { nil } }
    public var isNull: Bool { kind == .null }
    public var array: [Value]? { if case .array(let a) = kind { a } else { nil } }
    public var entries: [Entry]? { if case .dictionary(let d) = kind { d } else { nil } }
    /// "adam" for `.adam`, "realNVP" for `.realNVP(...)`.
    public var caseName: String? { if case .enumCase(let name, _) = kind { name } else { nil } }
    /// The arguments of an enum case, in schema order.
    public var arguments: [Argument] { if case .enumCase(_, let args) = kind { args } else { [] } }

    /// An enum case's argument by parameter name (nil if not a case or no such parameter; an
    /// omitted optional is present as `.null`).
    public subscript(name: String) -> Value? {
        arguments.first { $0.name == name }?.value
    }

    /// A canonical rendering in directive syntax, with every default filled and enum-case
    /// arguments sorted by name: equal values render identically (cache keys use it).
    public var description: String {
        switch kind {
        case .string(let s): return Self.quoted(s)
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .bool(let b): return String(b)
        case .null: return "nil"
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .dictionary(let entries):
            if entries.isEmpty { return "[:]" }
            return "[" + entries.sorted { $0.key < $1.key }
                .map { "\(Self.quoted($0.key)): \($0.value)" }.joined(separator: ", ") + "]"
        case .enumCase(let name, let arguments):
            if arguments.isEmpty { return ".\(name)" }
            return ".\(name)(" + arguments.sorted { $0.name < $1.name }
                .map { "\($0.name): \($0.value)" }.joined(separator: ", ") + ")"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
