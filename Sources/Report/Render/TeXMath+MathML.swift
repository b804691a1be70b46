/// Writes ``MathNode`` trees as MathML Core (what Chromium and Firefox render natively).
enum MathMLWriter {
    static func math(_ node: MathNode, source: String, display: Bool) -> String {
        let body = write(node, display: display)
        let annotation = "<annotation encoding=\"application/x-tex\">\(HTML.escape(source))</annotation>"
        return "<math display=\"\(display ? "block" : "inline")\"><semantics>\(body)\(annotation)</semantics></math>"
    }

    static func write(_ node: MathNode, display: Bool = true) -> String {
        switch node {
        case .identifier(let s, let style):
            return identifier(s, style)
        case .number(let digits):
            return "<mn>\(HTML.escape(digits))</mn>"
        case .symbol(let s, let mathClass):
            switch mathClass {
            case .ord:
                if s == "∂" || s == "∇" { return "<mo>\(s)</mo>" }
                if s.unicodeScalars.first.map({ $0.properties.isAlphabetic }) == true {
                    return "<mi mathvariant=\"normal\">\(HTML.escape(s))</mi>"
                }
                if s == "/" || s == "|" || s == "‖" || s == "′" || s == "!" || s == "." {
                    return "<mo stretchy=\"false\">\(HTML.escape(s))</mo>"
                }
                return "<mi>\(HTML.escape(s))</mi>"
            case .open, .close:
                return "<mo stretchy=\"false\">\(HTML.escape(s))</mo>"
            case .bin, .rel, .punct, .op:
                return "<mo>\(HTML.escape(s))</mo>"
            }
        case .largeOperator(let s, _):
            return "<mo largeop=\"true\">\(s)</mo>"
        case .function(let name, _):
            return "<mi>\(HTML.escape(name))</mi>"
        case .row(let nodes):
            return "<mrow>\(row(nodes, display: display))</mrow>"
        case .fraction(let a, let b):
            return "<mfrac>\(wrapped(a, display))\(wrapped(b, display))</mfrac>"
        case .root(let a):
            return "<msqrt>\(wrapped(a, display))</msqrt>"
        case .scripts(let base, let sub, let sup):
            let limits: Bool
            switch base {
            case .largeOperator(_, let l): limits = l
            // In inline math `\\min_x` takes its limit as a subscript, as in TeX's text style.
            case .function(_, let l): limits = l && display
            default: limits = false
            }
            let b = write(base, display: display)
            switch (sub, sup) {
            case (let s?, let p?):
                return limits ? "<munderover>\(b)\(wrapped(s, display))\(wrapped(p, display))</munderover>"
                    : "<msubsup>\(b)\(wrapped(s, display))\(wrapped(p, display))</msubsup>"
            case (let s?, nil):
                return limits ? "<munder>\(b)\(wrapped(s, display))</munder>" : "<msub>\(b)\(wrapped(s, display))</msub>"
            case (nil, let p?):
                return limits ? "<mover>\(b)\(wrapped(p, display))</mover>" : "<msup>\(b)\(wrapped(p, display))</msup>"
            case (nil, nil):
                return b
            }
        case .fenced(let open, let close, let body):
            let o = open.isEmpty ? "" : "<mo fence=\"true\" form=\"prefix\">\(HTML.escape(open))</mo>"
            let c = close.isEmpty ? "" : "<mo fence=\"true\" form=\"postfix\">\(HTML.escape(close))</mo>"
            return "<mrow>\(o)\(write(body, display: display))\(c)</mrow>"
        case .text(let s):
            return "<mtext>\(HTML.escape(s))</mtext>"
        case .space(let em):
            return "<mspace width=\"\(formatEm(em))em\"/>"
        case .accent(let base, let accent):
            return "<mover accent=\"true\">\(wrapped(base, display))<mo stretchy=\"false\">\(HTML.escape(accent))</mo></mover>"
        }
    }

    /// Children of a row; a thin space follows an operator name unless a bracket does.
    private static func row(_ nodes: [MathNode], display: Bool) -> String {
        var out = ""
        for (i, node) in nodes.enumerated() {
            out += write(node, display: display)
            if isFunction(node), i + 1 < nodes.count, nodes[i + 1].mathClass != .open {
                if case .fenced = nodes[i + 1] { continue }
                out += "<mspace width=\"0.1667em\"/>"
            }
        }
        return out
    }

    private static func isFunction(_ node: MathNode) -> Bool {
        switch node {
        case .function: true
        case .scripts(let base, _, _): isFunction(base)
        default: false
        }
    }

    /// One element: rows are already one `<mrow>`.
    private static func wrapped(_ node: MathNode, _ display: Bool) -> String {
        write(node, display: display)
    }

    private static func identifier(_ s: String, _ style: MathStyle) -> String {
        let escaped = HTML.escape(s)
        let single = s.unicodeScalars.count == 1
        switch style {
        case .italic:
            return single ? "<mi>\(escaped)</mi>" : "<mi>\(HTML.escape(MathAlphabet.styled(s, .italic)))</mi>"
        case .upright:
            return single ? "<mi mathvariant=\"normal\">\(escaped)</mi>" : "<mi>\(escaped)</mi>"
        case .bold, .boldItalic, .doubleStruck, .script:
            // MathML Core honours only mathvariant="normal": use the styled code points themselves.
            return "<mi>\(HTML.escape(MathAlphabet.styled(s, style)))</mi>"
        }
    }

    private static func formatEm(_ em: Double) -> String {
        let rounded = (em * 10000).rounded() / 10000
        var text = "\(rounded)"
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}
