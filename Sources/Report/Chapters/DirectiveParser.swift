import SwiftParser
import SwiftSyntax

/// Parses a directive's arguments with swift-syntax into ``DirectiveValue`` trees.
///
/// The directive `@Name(args)` is parsed as the Swift call expression `Name(args)`; every node's
/// UTF-8 position is mapped back to the chapter's line and column (Unicode scalars), also for
/// directives that span lines. Only the value forms of docs/report-design.md are accepted:
/// string literals without interpolation, integer and floating literals (optionally with a unary
/// minus), `true`/`false`, `nil`, arrays, dictionaries and `.case` / `.case(args)`. Anything else
/// (identifiers, operators, closures, interpolation, member access on a type) is a diagnostic.
public enum DirectiveParser {
    /// The parsed directive, or nil with at least one diagnostic.
    public static func parse(_ raw: RawDirective) -> (ParsedDirective?, [Diagnostic]) {
        // The text after '@' starts at column 2 of the directive's line.
        let start = SourceLocation(file: raw.location.file, line: raw.location.line,
                                   column: raw.location.column + 1)
        var converter = Converter(text: String(raw.source.unicodeScalars.dropFirst()), start: start)
        let arguments = converter.directive()
        if converter.diagnostics.isEmpty, let arguments {
            return (ParsedDirective(raw: raw, arguments: arguments), [])
        }
        return (nil, converter.diagnostics)
    }

    /// Parses a value written in Swift syntax on its own (the vocabulary's defaults), with every
    /// location set to `location`. Returns nil with diagnostics when the text is not a value.
    static func parseValue(_ text: String, at location: SourceLocation) -> (DirectiveValue?, [Diagnostic]) {
        var converter = Converter(text: text, start: location, fixedLocation: true)
        let value = converter.standaloneValue()
        return (converter.diagnostics.isEmpty ? value : nil, converter.diagnostics)
    }
}

/// Walks a swift-syntax tree and builds ``DirectiveValue``s, collecting diagnostics.
private struct Converter {
    let text: String
    /// Chapter location of each UTF-8 offset that starts a Unicode scalar (and of the end).
    let positions: [Int: SourceLocation]
    let start: SourceLocation
    let fixedLocation: Bool
    var diagnostics: [Diagnostic] = []

    init(text: String, start: SourceLocation, fixedLocation: Bool = false) {
        self.text = text
        self.start = start
        self.fixedLocation = fixedLocation
        var positions: [Int: SourceLocation] = [:]
        var offset = 0
        var line = start.line, column = start.column
        for scalar in text.unicodeScalars {
            positions[offset] = SourceLocation(file: start.file, line: line, column: column)
            offset += String(scalar).utf8.count
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        positions[offset] = SourceLocation(file: start.file, line: line, column: column)
        self.positions = positions
    }

    func location(_ node: some SyntaxProtocol) -> SourceLocation {
        location(utf8Offset: node.positionAfterSkippingLeadingTrivia.utf8Offset)
    }

    func location(utf8Offset offset: Int) -> SourceLocation {
        if fixedLocation { return start }
        var offset = offset
        while offset > 0, positions[offset] == nil { offset -= 1 }
        return positions[offset] ?? start
    }

    mutating func error(_ message: String, at node: some SyntaxProtocol) {
        diagnostics.append(Diagnostic(message, at: location(node)))
    }

    /// Parses `text` as one expression statement; reports the first syntax error if any.
    mutating func expression() -> ExprSyntax? {
        let file = Parser.parse(source: text)
        if file.hasError {
            let finder = FirstSyntaxError(viewMode: .all)
            finder.walk(file)
            let (offset, message) = finder.found ?? (0, "malformed directive")
            diagnostics.append(Diagnostic(message, at: location(utf8Offset: offset)))
            return nil
        }
        guard file.statements.count == 1, let statement = file.statements.first,
              case .expr(let expression) = statement.item else {
            diagnostics.append(Diagnostic("expected a single directive call", at: start))
            return nil
        }
        return expression
    }

    mutating func directive() -> [DirectiveArgument]? {
        guard let expression = expression() else { return nil }
        if let reference = expression.as(DeclReferenceExprSyntax.self), missingValue(reference) { return nil }
        guard let call = expression.as(FunctionCallExprSyntax.self),
              call.calledExpression.is(DeclReferenceExprSyntax.self) else {
            error("expected a directive call '@Name(...)'", at: expression)
            return nil
        }
        if let closure = call.trailingClosure {
            error("a directive's body starts with ' {' at the end of its last line and ends at a line '}'", at: closure)
            return nil
        }
        return arguments(call.arguments)
    }

    mutating func standaloneValue() -> DirectiveValue? {
        guard let expression = expression() else { return nil }
        return value(expression)
    }

    mutating func arguments(_ list: LabeledExprListSyntax) -> [DirectiveArgument] {
        list.compactMap { element -> DirectiveArgument? in
            guard let value = value(element.expression) else { return nil }
            return DirectiveArgument(label: element.label?.text, labelLocation: element.label.map { location($0) },
                                     value: value)
        }
    }

    mutating func value(_ expression: ExprSyntax) -> DirectiveValue? {
        let at = location(expression)
        if let string = expression.as(StringLiteralExprSyntax.self) {
            if let segment = string.segments.first(where: { $0.is(ExpressionSegmentSyntax.self) }) {
                error("string interpolation is not allowed in directive arguments", at: segment)
                return nil
            }
            guard let literal = string.representedLiteralValue else {
                error("malformed string literal", at: string)
                return nil
            }
            return DirectiveValue(.string(literal), at: at)
        }
        if let integer = expression.as(IntegerLiteralExprSyntax.self) {
            guard let value = integer.representedLiteralValue else {
                error("integer literal '\(integer.literal.text)' does not fit in an Int", at: integer)
                return nil
            }
            return DirectiveValue(.int(value), at: at)
        }
        if let float = expression.as(FloatLiteralExprSyntax.self) {
            guard let value = float.representedLiteralValue else {
                error("malformed number '\(float.literal.text)'", at: float)
                return nil
            }
            return DirectiveValue(.double(value), at: at)
        }
        if let prefix = expression.as(PrefixOperatorExprSyntax.self) {
            guard prefix.operator.text == "-" else {
                error("operator '\(prefix.operator.text)' is not allowed in directive arguments", at: prefix)
                return nil
            }
            guard let operand = value(prefix.expression) else { return nil }
            switch operand.kind {
            case .int(let i): return DirectiveValue(.int(-i), at: at)
            case .double(let d): return DirectiveValue(.double(-d), at: at)
            default:
                error("unary minus applies only to numbers", at: prefix)
                return nil
            }
        }
        if let boolean = expression.as(BooleanLiteralExprSyntax.self) {
            return DirectiveValue(.bool(boolean.literal.tokenKind == .keyword(.true)), at: at)
        }
        if expression.is(NilLiteralExprSyntax.self) {
            return DirectiveValue(.null, at: at)
        }
        if let array = expression.as(ArrayExprSyntax.self) {
            var elements: [DirectiveValue] = []
            var failed = false
            for element in array.elements {
                if let value = value(element.expression) { elements.append(value) } else { failed = true }
            }
            return failed ? nil : DirectiveValue(.array(elements), at: at)
        }
        if let dictionary = expression.as(DictionaryExprSyntax.self) {
            guard case .elements(let list) = dictionary.content else {
                return DirectiveValue(.dictionary([]), at: at)
            }
            var entries: [DictionaryEntry] = []
            var failed = false
            for element in list {
                if let key = value(element.key), let value = value(element.value) {
                    entries.append(DictionaryEntry(key: key, value: value))
                } else {
                    failed = true
                }
            }
            return failed ? nil : DirectiveValue(.dictionary(entries), at: at)
        }
        if let member = expression.as(MemberAccessExprSyntax.self) {
            guard let name = caseName(member) else { return nil }
            return DirectiveValue(.enumCase(name, []), at: at)
        }
        if let call = expression.as(FunctionCallExprSyntax.self) {
            guard let member = call.calledExpression.as(MemberAccessExprSyntax.self) else {
                error("only enum cases can take arguments here: write '.\(call.calledExpression.trimmedDescription)(...)'",
                      at: call.calledExpression)
                return nil
            }
            if let closure = call.trailingClosure {
                error("closures are not allowed in directive arguments", at: closure)
                return nil
            }
            guard let name = caseName(member) else { return nil }
            let count = diagnostics.count
            let arguments = arguments(call.arguments)
            return diagnostics.count == count ? DirectiveValue(.enumCase(name, arguments), at: at) : nil
        }
        if let reference = expression.as(DeclReferenceExprSyntax.self) {
            let name = reference.baseName.text
            error("'\(name)' is not a value: strings are quoted (\"\(name)\") and enum cases start with '.' (.\(name))",
                  at: reference)
            return nil
        }
        if let tuple = expression.as(TupleExprSyntax.self) {
            error("parentheses and tuples are not allowed in directive arguments", at: tuple)
            return nil
        }
        if expression.is(SequenceExprSyntax.self) || expression.is(InfixOperatorExprSyntax.self) {
            error("operators are not allowed in directive arguments (only a unary minus on a number)", at: expression)
            return nil
        }
        error("unsupported expression '\(expression.trimmedDescription)' in a directive argument", at: expression)
        return nil
    }

    /// The name of `.name`; a member access on a base (`Optimizer.adam`) is an error.
    /// `f(label: )` parses as the function reference `f(label:)`: reports the missing value.
    mutating func missingValue(_ reference: DeclReferenceExprSyntax) -> Bool {
        guard let label = reference.argumentNames?.arguments.first else { return false }
        error("missing value after '\(label.trimmedDescription)'", at: label)
        return true
    }

    mutating func caseName(_ member: MemberAccessExprSyntax) -> String? {
        if missingValue(member.declName) { return nil }
        if let base = member.base {
            error("write enum cases without a type name: '.\(member.declName.baseName.text)' instead of '\(member.trimmedDescription)'",
                  at: base)
            return nil
        }
        return member.declName.baseName.text
    }
}

/// Finds the first syntax error in source order: a missing token or node, unexpected text, or a
/// token the lexer rejected.
private final class FirstSyntaxError: SyntaxAnyVisitor {
    var found: (offset: Int, message: String)?

    override func visitAny(_ node: Syntax) -> SyntaxVisitorContinueKind {
        guard found == nil, node.hasError else { return .skipChildren }
        if let unexpected = node.as(UnexpectedNodesSyntax.self) {
            found = (unexpected.positionAfterSkippingLeadingTrivia.utf8Offset,
                     "unexpected '\(unexpected.trimmedDescription)'")
            return .skipChildren
        }
        if let token = node.as(TokenSyntax.self) {
            if token.presence == .missing {
                found = (token.positionAfterSkippingLeadingTrivia.utf8Offset,
                         token.text.isEmpty ? "expected a value" : "expected '\(token.text)'")
            } else if let diagnostic = token.tokenDiagnostic, let message = Self.message(for: diagnostic.kind, token) {
                found = (token.position.utf8Offset + Int(diagnostic.byteOffset), message)
            }
            return .skipChildren
        }
        if node.is(MissingExprSyntax.self) || node.is(MissingSyntax.self) {
            found = (node.positionAfterSkippingLeadingTrivia.utf8Offset, "expected a value")
            return .skipChildren
        }
        return .visitChildren
    }

    /// A readable message for a lexer error; nil for the lexer's warnings.
    static func message(for kind: TokenDiagnostic.Kind, _ token: TokenSyntax) -> String? {
        switch kind {
        case .nonBreakingSpace, .nulCharacter, .extraneousLeadingWhitespaceWarning, .extraneousTrailingWhitespaceWarning:
            return nil
        case .invalidEscapeSequenceInStringLiteral:
            return "invalid escape sequence in a string literal (use \\\\ for a backslash)"
        case .unicodeCurlyQuote:
            return "curly quote: strings in directives use straight quotes \"...\""
        default:
            return "malformed '\(token.text)'"
        }
    }
}
