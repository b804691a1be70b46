/// Checks parsed directives against the ``Vocabulary``: names, labels, types, enum cases,
/// required arguments, exactly-one-of groups, id shapes and bodies. Fills defaults and records
/// references and evaluation keys for the book-level checks. Diagnostics accumulate across calls.
struct Validator {
    let vocabulary: Vocabulary
    var diagnostics: [Diagnostic] = []
    /// The directive being validated (contextual defaults depend on it).
    private var directiveName = ""
    private var references: [Reference] = []
    private var valueKeys: [(key: String, location: SourceLocation)] = []
    private var dataKeys: [String] = []

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
    }

    private mutating func error(_ message: String, at location: SourceLocation, notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(message, at: location, notes: notes))
    }

    /// The checked directive, or nil when it has errors (then they are in `diagnostics`).
    mutating func validate(_ parsed: ParsedDirective) -> Directive? {
        guard let schema = vocabulary.schema(named: parsed.name) else {
            var diagnostic = Diagnostic("unknown directive '@\(parsed.name)'", at: parsed.location,
                                        suggesting: parsed.name, from: vocabulary.directives.map(\.name),
                                        quote: { "'@\($0)'" })
            if parsed.name == "Value" {
                diagnostic.notes.append(.init("a value is written inline in prose: {{metric:target}}, e.g. {{auroc:eval/msp/digits}}"))
            }
            diagnostics.append(diagnostic)
            return nil
        }
        directiveName = schema.name
        references = []
        valueKeys = []
        dataKeys = []
        let errorsBefore = diagnostics.count
        let owner = "@\(schema.name)"
        let arguments = bind(parsed.arguments, to: schema.parameters, owner: owner, caseName: nil, at: parsed.location)
        checkExactlyOneOf(schema, parsed)
        if parsed.raw.body != nil, !schema.takesBody {
            error("\(owner) does not take a body ('{' ... '}')", at: parsed.location)
        }
        let idArgument = parsed.arguments.first { $0.label == "id" }
        if let idArgument, case .string(let id) = idArgument.value.kind {
            checkIdShape(id, rule: schema.idRule, owner: owner, at: idArgument.value.location)
        }
        guard diagnostics.count == errorsBefore, let arguments else { return nil }

        var directive = Directive(
            name: schema.name, id: arguments.first { $0.name == "id" }?.value.string,
            idLocation: idArgument?.value.location ?? parsed.location, arguments: arguments,
            body: parsed.raw.body, bodyLocation: parsed.raw.bodyLocation, location: parsed.location,
            source: parsed.raw.source, references: references)
        directive.valueKeys = valueKeys
        directive.dataKeys = dataKeys
        directive.keyUses = keyUses(schema, directive)
        return directive
    }

    // MARK: - Arguments

    /// Matches arguments to parameters (labels by name, positional ones in order), checks each
    /// and fills omitted ones. `caseName` is nil for a directive's own arguments.
    private mutating func bind(_ arguments: [DirectiveArgument], to parameters: [Parameter], owner: String,
                               caseName: String?, at location: SourceLocation) -> [Value.Argument]? {
        var given: [Int: DirectiveArgument] = [:]
        let positional = parameters.indices.filter { parameters[$0].label == nil }
        var nextPositional = 0
        var ok = true
        // Labels suggested for misspelled ones are not reported missing as well.
        var suggested: Set<String> = []
        for argument in arguments {
            if let label = argument.label {
                guard let index = parameters.firstIndex(where: { $0.label == label }) else {
                    let labels = parameters.compactMap(\.label)
                    var diagnostic = Diagnostic("unknown argument '\(label)' for \(owner)", at: argument.location,
                                                suggesting: label, from: labels)
                    if let match = closestMatch(to: label, in: labels) {
                        suggested.insert(match)
                    } else {
                        diagnostic.notes.append(.init(Self.takes(owner, parameters)))
                    }
                    diagnostics.append(diagnostic)
                    ok = false
                    continue
                }
                if let prior = given[index] {
                    error("argument '\(label)' is given twice", at: argument.location,
                          notes: [.init("first given here", at: prior.location)])
                    ok = false
                    continue
                }
                given[index] = argument
            } else {
                while nextPositional < positional.count, given[positional[nextPositional]] != nil { nextPositional += 1 }
                guard nextPositional < positional.count else {
                    let message = positional.isEmpty ? "missing argument label for \(owner)"
                        : "too many positional arguments for \(owner)"
                    error(message, at: argument.location, notes: [.init(Self.takes(owner, parameters))])
                    ok = false
                    continue
                }
                given[positional[nextPositional]] = argument
                nextPositional += 1
            }
        }

        var result: [Value.Argument] = []
        var missing: [Parameter] = []
        for (index, parameter) in parameters.enumerated() {
            let context = caseName.map { "'\(parameter.name)' of '.\($0)'" } ?? "'\(parameter.name)'"
            let value: Value?
            if let argument = given[index] {
                value = check(argument.value, as: parameter.type, context: context)
            } else if !parameter.isOptional {
                if !suggested.contains(parameter.name) { missing.append(parameter) }
                value = nil
            } else {
                value = defaultValue(of: parameter, context: context, at: location)
            }
            if let value { result.append(Value.Argument(name: parameter.name, value: value)) } else { ok = false }
        }
        if !missing.isEmpty {
            let items = missing.map { parameter in
                parameter.label == nil ? "'\(parameter.name): \(parameter.type.shortDescription)' (unlabelled)"
                    : "'\(parameter.signature)'"
            }
            let list = items.count == 1 ? items[0] : items.dropLast().joined(separator: ", ") + " and " + items.last!
            error("missing argument\(items.count == 1 ? "" : "s") \(list) for \(owner)", at: location)
        }
        return ok ? result : nil
    }

    /// "@Train takes: id: String, model: Model, ..." for notes.
    private static func takes(_ owner: String, _ parameters: [Parameter]) -> String {
        parameters.isEmpty ? "\(owner) takes no arguments"
            : "\(owner) takes: " + parameters.map(\.signature).joined(separator: ", ")
    }

    /// The default of an omitted optional parameter (nil for an optional without one).
    private mutating func defaultValue(of parameter: Parameter, context: String, at location: SourceLocation) -> Value? {
        let text: String
        switch parameter.defaultValue {
        case .required:
            return Value(.null, at: location, isDefault: true)
        case .value(let written):
            text = written
        case .byDirective(let table, let otherwise):
            text = table[directiveName] ?? otherwise
        }
        let (parsed, problems) = DirectiveParser.parseValue(text, at: location)
        guard let parsed, problems.isEmpty else {
            preconditionFailure("vocabulary: default '\(text)' of \(context) does not parse: \(problems)")
        }
        let errorsBefore = diagnostics.count
        guard var value = check(parsed, as: parameter.type, context: context), diagnostics.count == errorsBefore else {
            preconditionFailure("vocabulary: default '\(text)' of \(context) is not a \(parameter.type): \(diagnostics.last!)")
        }
        value.isDefault = true
        return value
    }

    // MARK: - Types

    private mutating func check(_ value: DirectiveValue, as type: ValueType, context: String) -> Value? {
        let at = value.location
        switch (type, value.kind) {
        case (.optional, .null):
            return Value(.null, at: at)
        case (.optional(let wrapped), _):
            return check(value, as: wrapped, context: context)
        case (.string, .string(let s)):
            return Value(.string(s), at: at)
        case (.choice(let options), .string(let s)):
            guard options.contains(s) else {
                diagnostics.append(Diagnostic(
                    "\(context) must be \(type), found \"\(s)\"", at: at, suggesting: s, from: options,
                    quote: { "\"\($0)\"" }))
                return nil
            }
            return Value(.string(s), at: at)
        case (.int, .int(let i)):
            return Value(.int(i), at: at)
        case (.double, .int(let i)):
            return Value(.double(Double(i)), at: at)
        case (.double, .double(let d)):
            return Value(.double(d), at: at)
        case (.bool, .bool(let b)):
            return Value(.bool(b), at: at)
        case (.ref(let target), .string(let id)):
            references.append(Reference(id: id, target: target, location: at, parameter: context))
            return Value(.string(id), at: at)
        case (.valueKey, .string(let key)):
            valueKeys.append((key, at))
            return Value(.string(key), at: at)
        case (.array(let element), .array(let items)):
            var values: [Value] = []
            var ok = true
            for item in items {
                if let checked = check(item, as: element, context: "element of \(context)") {
                    values.append(checked)
                } else {
                    ok = false
                }
            }
            return ok ? Value(.array(values), at: at) : nil
        case (.dictionary(let valueType), .dictionary(let entries)):
            var checked: [Value.Entry] = []
            var firstUse: [String: SourceLocation] = [:]
            var ok = true
            for entry in entries {
                guard case .string(let key) = entry.key.kind else {
                    error("keys of \(context) must be strings, found \(entry.key.summary)", at: entry.key.location)
                    ok = false
                    continue
                }
                if let prior = firstUse[key] {
                    error("key \"\(key)\" appears twice in \(context)", at: entry.key.location,
                          notes: [.init("first used here", at: prior)])
                    ok = false
                    continue
                }
                firstUse[key] = entry.key.location
                if let value = check(entry.value, as: valueType, context: "\"\(key)\" of \(context)") {
                    checked.append(Value.Entry(key: key, keyLocation: entry.key.location, value: value))
                } else {
                    ok = false
                }
            }
            return ok ? Value(.dictionary(checked), at: at) : nil
        case (.enumeration(let name), .enumCase(let caseName, let arguments)):
            guard let enumType = vocabulary.enums[name] else {
                preconditionFailure("vocabulary: unknown enum '\(name)' used by \(context)")
            }
            guard let enumCase = enumType.enumCase(named: caseName) else {
                var diagnostic = Diagnostic("unknown \(name) case '.\(caseName)' for \(context)", at: at,
                                            suggesting: caseName, from: enumType.cases.map(\.name),
                                            quote: { "'.\($0)'" })
                if diagnostic.notes.isEmpty {
                    diagnostic.notes.append(.init("\(name) cases: " + enumType.cases.map { ".\($0.name)" }.joined(separator: ", ")))
                }
                diagnostics.append(diagnostic)
                return nil
            }
            guard let bound = bind(arguments, to: enumCase.parameters, owner: "'.\(caseName)'", caseName: caseName,
                                   at: at) else { return nil }
            let checked = Value(.enumCase(caseName, bound), at: at)
            if name == "Data" { dataKeys.append(vocabulary.dataKey(checked)) }
            return checked
        default:
            var notes: [Diagnostic.Note] = []
            if case .enumeration(let name) = type, case .string(let s) = value.kind,
               vocabulary.enums[name]?.enumCase(named: s) != nil {
                notes.append(.init("enum cases start with '.': write '.\(s)'"))
            }
            error("\(context) expects \(type), found \(value.summary)", at: at, notes: notes)
            return nil
        }
    }

    // MARK: - Directive-level rules

    private mutating func checkExactlyOneOf(_ schema: DirectiveSchema, _ parsed: ParsedDirective) {
        guard !schema.exactlyOneOf.isEmpty else { return }
        let given = parsed.arguments.compactMap(\.label)
        let groups = schema.exactlyOneOf
        let describe = groups.map { $0.map { "'\($0)'" }.joined(separator: " + ") }.joined(separator: " or ")
        let present = groups.filter { group in group.contains { given.contains($0) } }
        if present.isEmpty {
            error("@\(schema.name) needs exactly one of \(describe)", at: parsed.location)
        } else if present.count > 1 {
            let second = present[1]
            let argument = parsed.arguments.first { $0.label.map(second.contains) ?? false }!
            error("'\(argument.label!)' cannot be combined with '\(present[0].first { given.contains($0) }!)': "
                  + "@\(schema.name) takes exactly one of \(describe)", at: argument.location)
        } else if let missing = present[0].first(where: { !given.contains($0) }) {
            let have = present[0].first { given.contains($0) }!
            error("'\(have)' needs '\(missing)' too", at: parsed.arguments.first { $0.label == have }!.location)
        }
    }

    private mutating func checkIdShape(_ id: String, rule: IdRule, owner: String, at location: SourceLocation) {
        func isName(_ s: Substring) -> Bool {
            !s.isEmpty && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
        switch rule {
        case .prefixed(let prefix):
            if !id.hasPrefix(prefix) {
                error("the id of \(owner) must start with '\(prefix)', found \"\(id)\"", at: location)
            } else if !isName(id.dropFirst(prefix.count)) {
                error("id \"\(id)\": after '\(prefix)' use lower-case letters, digits and '-'", at: location)
            }
        case .plain:
            if !isName(Substring(id)) {
                error("id \"\(id)\" of \(owner): use lower-case letters, digits and '-'", at: location)
            }
        }
    }

    /// The keys of membership parameters, paired with the evaluation they must belong to.
    private func keyUses(_ schema: DirectiveSchema, _ directive: Directive) -> [KeyUse] {
        var uses: [KeyUse] = []
        for parameter in schema.parameters {
            guard let membership = parameter.membership, let value = directive[parameter.name], !value.isNull,
                  let evaluation = directive[membership.evaluationLabel]?.string else { continue }
            let elements: [(String, SourceLocation)]
            switch value.kind {
            case .string(let s): elements = [(s, value.location)]
            case .array(let items):
                elements = items.map { item in (item.string ?? vocabulary.dataKey(item), item.location) }
            case .dictionary(let entries): elements = entries.map { ($0.key, $0.keyLocation) }
            default: elements = []
            }
            for (key, location) in elements {
                uses.append(KeyUse(membership: membership, evaluation: evaluation, key: key, location: location))
            }
        }
        return uses
    }
}
