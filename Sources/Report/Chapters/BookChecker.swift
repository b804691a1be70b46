/// The checks that need the whole book: unique ids, `@Title` exactly once, references to
/// existing directives of the right kind, no dependency cycles, detector and data-set keys that
/// belong to the referenced `@Evaluate`, inline-value keys, cross-references and citations.
struct BookChecker {
    /// What an id names.
    enum Definition {
        case directive(Directive)
        case heading(SourceLocation)

        var location: SourceLocation {
            switch self {
            case .directive(let d): d.idLocation
            case .heading(let at): at
            }
        }
    }

    /// The keys an `@Evaluate` offers to figures, tables and inline values.
    struct EvaluationKeys {
        var detectors: [String]
        var inDistribution: String
        var ood: [String]
        var all: [String] { [inDistribution] + ood }
    }

    let vocabulary: Vocabulary
    let directives: [Directive]
    let prose: ProseScanner
    /// Ids of directives that failed validation: references to them are not reported again.
    let brokenIDs: Set<String>
    var diagnostics: [Diagnostic] = []
    var ids: [String: Definition] = [:]
    var dataKeysInBook: Set<String> = []
    /// Ids of directives on a dependency cycle (their other problems are not reported on top).
    var cyclic: Set<String> = []

    init(vocabulary: Vocabulary, directives: [Directive], prose: ProseScanner, brokenIDs: Set<String>) {
        self.vocabulary = vocabulary
        self.directives = directives
        self.prose = prose
        self.brokenIDs = brokenIDs
        dataKeysInBook = Set(directives.flatMap(\.dataKeys))
    }

    /// Runs every check; `titleAttempted` suppresses "no @Title" when one failed validation, and
    /// `firstChapter` is where that error points.
    mutating func run(titleAttempted: Bool, firstChapter: String?) {
        collectIDs()
        checkTitle(attempted: titleAttempted, firstChapter: firstChapter)
        for directive in directives {
            checkReferences(of: directive)
        }
        checkCycles()
        for directive in directives where !cyclic.contains(directive.id ?? "") {
            checkRunnability(of: directive)
        }
        for directive in directives {
            if directive.name == "Evaluate" { checkEvaluationKeys(directive) }
            checkKeyUses(of: directive)
            for (key, location) in directive.valueKeys { checkValueKey(key, at: location) }
        }
        checkProse()
    }

    // MARK: - Ids

    private mutating func collectIDs() {
        var definitions: [(String, Definition)] = directives.compactMap { d in d.id.map { ($0, .directive(d)) } }
        definitions += prose.headingLabels.map { ($0.text, .heading($0.location)) }
        for (id, definition) in definitions {
            if let first = ids[id] {
                diagnostics.append(Diagnostic("duplicate id '\(id)'", at: definition.location,
                                              notes: [.init("'\(id)' is first defined here", at: first.location)]))
            } else {
                ids[id] = definition
            }
        }
    }

    private mutating func checkTitle(attempted: Bool, firstChapter: String?) {
        let titles = directives.filter { $0.name == "Title" }
        if titles.isEmpty, !attempted, let firstChapter {
            diagnostics.append(Diagnostic("the book has no @Title; put '@Title(title: \"...\") { abstract }' in the first chapter",
                                          at: SourceLocation(file: firstChapter, line: 1, column: 1)))
        }
        for extra in titles.dropFirst() {
            diagnostics.append(Diagnostic("@Title appears more than once", at: extra.location,
                                          notes: [.init("the first @Title is here", at: titles[0].location)]))
        }
    }

    // MARK: - References

    /// "a @Train of a classifier", "a @Histogram", "a section heading".
    /// With `naming` (a RealNVP is wanted), a flow's model case is named too: "a @Train of an
    /// image flow ('.glow')".
    private func describe(_ definition: Definition, naming: Bool = false) -> String {
        guard case .directive(let d) = definition else { return "a section heading" }
        let article = "AEIOU".contains(d.name.first!) ? "an" : "a"
        if d.name == "Train", let model = d["model"]?.caseName, let roles = vocabulary.modelRoles[model] {
            let what = roles.contains(.classifier) ? "a classifier" : roles.contains(.imageFlow) ? "an image flow" : "a vector flow"
            return "a @Train of \(what)" + (naming && !roles.contains(.classifier) ? " ('.\(model)')" : "")
        }
        return "\(article) @\(d.name)"
    }

    /// The directive `id` names if it satisfies `target`; otherwise reports why (unless the id
    /// belongs to a directive that already failed) and returns nil.
    private mutating func resolve(_ id: String, as target: RefTarget, at location: SourceLocation, in what: String) -> Directive? {
        guard let definition = ids[id] else {
            if !brokenIDs.contains(id) {
                let fitting = directives.filter { target.kinds.contains($0.name) }.compactMap(\.id)
                let candidates = fitting + ids.keys.sorted().filter { !fitting.contains($0) }
                diagnostics.append(Diagnostic("unknown id '\(id)' in \(what)", at: location, suggesting: id, from: candidates))
            }
            return nil
        }
        guard case .directive(let directive) = definition, target.kinds.contains(directive.name) else {
            diagnostics.append(Diagnostic("\(what) needs \(target), but '\(id)' is \(describe(definition))", at: location))
            return nil
        }
        if let role = target.role {
            let model = directive["model"]?.caseName ?? ""
            if !(vocabulary.modelRoles[model]?.contains(role) ?? false) {
                diagnostics.append(Diagnostic("\(what) needs \(target), but '\(id)' is \(describe(definition, naming: role == .realNVP))",
                                              at: location))
                return nil
            }
        }
        return directive
    }

    private mutating func checkReferences(of directive: Directive) {
        for reference in directive.references {
            _ = resolve(reference.id, as: reference.target, at: reference.location, in: reference.parameter)
        }
    }

    // MARK: - Cycles

    /// Reports each strongly connected component of the reference graph that contains a cycle,
    /// once, at the reference that leaves its first directive (in book order).
    private mutating func checkCycles() {
        var order: [String] = []
        var edges: [String: [(to: String, location: SourceLocation)]] = [:]
        for directive in directives {
            guard let id = directive.id, case .directive(let owner)? = ids[id], owner.location == directive.location else { continue }
            order.append(id)
            edges[id] = directive.references.compactMap { reference in
                guard case .directive(let target)? = ids[reference.id], target.id != nil,
                      reference.target.kinds.contains(target.name) else { return nil }
                return (reference.id, reference.location)
            }
        }
        for component in stronglyConnectedComponents(order, edges) {
            cyclic.formUnion(component)
            guard let start = order.first(where: component.contains) else { continue }
            // Shortest path from start back to start inside the component (breadth-first).
            var parent: [String: String] = [:]
            var queue = [start]
            var closing: String?
            search: while !queue.isEmpty {
                let node = queue.removeFirst()
                for edge in edges[node] ?? [] where component.contains(edge.to) {
                    if edge.to == start { closing = node; break search }
                    if parent[edge.to] == nil { parent[edge.to] = node; queue.append(edge.to) }
                }
            }
            guard let last = closing else { continue }
            var path = [last]
            while path.last != start, let previous = parent[path.last!] { path.append(previous) }
            path.reverse()
            let next = path.count > 1 ? path[1] : start
            let location = edges[start]!.first { $0.to == next }!.location
            diagnostics.append(Diagnostic("dependency cycle: " + (path + [start]).joined(separator: " → "), at: location))
        }
    }

    /// Tarjan's algorithm; returns only components with a cycle (several nodes or a self-edge).
    private func stronglyConnectedComponents(_ nodes: [String], _ edges: [String: [(to: String, location: SourceLocation)]]) -> [Set<String>] {
        var index: [String: Int] = [:], low: [String: Int] = [:]
        var stack: [String] = [], onStack: Set<String> = []
        var components: [Set<String>] = []
        var counter = 0
        func visit(_ node: String) {
            index[node] = counter
            low[node] = counter
            counter += 1
            stack.append(node)
            onStack.insert(node)
            for edge in edges[node] ?? [] {
                if index[edge.to] == nil {
                    visit(edge.to)
                    low[node] = min(low[node]!, low[edge.to]!)
                } else if onStack.contains(edge.to) {
                    low[node] = min(low[node]!, index[edge.to]!)
                }
            }
            if low[node] == index[node] {
                var component: Set<String> = []
                while let top = stack.popLast() {
                    onStack.remove(top)
                    component.insert(top)
                    if top == node { break }
                }
                if component.count > 1 || (edges[node] ?? []).contains(where: { $0.to == node }) {
                    components.append(component)
                }
            }
        }
        for node in nodes where index[node] == nil { visit(node) }
        return components
    }

    // MARK: - Evaluation keys

    func keys(of evaluation: Directive) -> EvaluationKeys {
        EvaluationKeys(detectors: evaluation.values("detectors").map(vocabulary.detectorKey),
                       inDistribution: vocabulary.dataKey(evaluation.value("inDistribution")),
                       ood: evaluation.values("ood").map(vocabulary.dataKey))
    }

    /// Detector keys and OOD sets of one `@Evaluate` must be distinct.
    private mutating func checkEvaluationKeys(_ evaluation: Directive) {
        var seen: [String: SourceLocation] = [:]
        for detector in evaluation.values("detectors") {
            let key = vocabulary.detectorKey(detector)
            if let first = seen[key] {
                diagnostics.append(Diagnostic("two detectors have the key '\(key)'; give one a 'name:'", at: detector.location,
                                              notes: [.init("the first is here", at: first)]))
            } else {
                seen[key] = detector.location
            }
        }
        seen = [:]
        for set in evaluation.values("ood") {
            let key = vocabulary.dataKey(set)
            if let first = seen[key] {
                diagnostics.append(Diagnostic("OOD set '\(key)' is listed twice", at: set.location,
                                              notes: [.init("first listed here", at: first)]))
            } else {
                seen[key] = set.location
            }
        }
    }

    private func evaluation(_ id: String) -> Directive? {
        guard case .directive(let d)? = ids[id], d.name == "Evaluate" else { return nil }
        return d
    }

    private mutating func require(_ key: String, in candidates: [String], of evaluation: String, _ what: String,
                                  at location: SourceLocation, context: String = "") {
        guard !candidates.contains(key) else { return }
        var diagnostic = Diagnostic("@Evaluate '\(evaluation)' has no \(what) '\(key)'\(context)", at: location,
                                    suggesting: key, from: candidates)
        if diagnostic.notes.isEmpty {
            diagnostic.notes.append(.init("its \(what)s: " + candidates.joined(separator: ", ")))
        }
        diagnostics.append(diagnostic)
    }

    private mutating func checkKeyUses(of directive: Directive) {
        for use in directive.keyUses {
            guard let target = evaluation(use.evaluation) else { continue }
            let keys = keys(of: target)
            switch use.membership {
            case .detector:
                require(use.key, in: keys.detectors, of: use.evaluation, "detector", at: use.location)
            case .oodSet:
                require(use.key, in: keys.ood, of: use.evaluation, "OOD set", at: use.location)
            case .evaluatedSet:
                require(use.key, in: keys.all, of: use.evaluation, "data set", at: use.location)
            case .publishedEntry:
                var entry = use.key
                if let colon = entry.firstIndex(of: ":") {
                    let metric = String(entry[..<colon])
                    let metrics = directive.values("metrics").compactMap(\.caseName)
                    if !metrics.contains(metric) {
                        var diagnostic = Diagnostic("published key \"\(use.key)\" names metric '\(metric)', which the table does not show",
                                                    at: use.location, suggesting: metric, from: metrics)
                        if diagnostic.notes.isEmpty {
                            diagnostic.notes.append(.init("its metrics: " + metrics.joined(separator: ", ")))
                        }
                        diagnostics.append(diagnostic)
                        continue
                    }
                    entry = String(entry[entry.index(after: colon)...])
                }
                let parts = entry.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2 else {
                    diagnostics.append(Diagnostic("published key \"\(use.key)\" must look like \"detector/ood-key\" or \"metric:detector/ood-key\"",
                                                  at: use.location))
                    continue
                }
                require(parts[0], in: keys.detectors, of: use.evaluation, "detector", at: use.location)
                require(parts[1], in: keys.ood, of: use.evaluation, "OOD set", at: use.location)
            }
        }
    }

    // MARK: - Inline values

    /// Checks an inline-value key (prose `{{...}}` or a claim's `value:` / expectation).
    mutating func checkValueKey(_ text: String, at location: SourceLocation) {
        let key: InlineValueKey
        switch InlineValueKey.parse(text, at: location, vocabulary: vocabulary) {
        case .failure(let diagnostic):
            diagnostics.append(diagnostic)
            return
        case .success(let parsed):
            key = parsed
        }
        let what = "value key '\(text)'"
        let context = " (in \(what))"
        switch key {
        case .metric(_, let id, let detector, let dataset), .evaluationBitsPerDim(let id, let detector, let dataset):
            guard let evaluation = resolve(id, as: RefTarget(["Evaluate"]), at: location, in: what) else { return }
            let keys = keys(of: evaluation)
            require(detector, in: keys.detectors, of: id, "detector", at: location, context: context)
            if case .metric = key {
                require(dataset, in: keys.ood, of: id, "OOD set", at: location, context: context)
            } else {
                require(dataset, in: keys.all, of: id, "data set", at: location, context: context)
                if let value = self.detector(detector, of: evaluation), value.caseName != "likelihood", value.caseName != "lde" {
                    diagnostics.append(Diagnostic(
                        "detector '\(detector)' ('.\(value.caseName ?? "")') has no bits per dimension (only .likelihood and .lde have)\(context)",
                        at: location))
                }
            }
        case .detectorMetric(let metric, let detector, let dataset):
            let evaluations = directives.filter { $0.name == "Evaluate" && $0.id != nil }
            let having = evaluations.filter { keys(of: $0).detectors.contains(detector) }.compactMap(\.id)
            if having.count > 1 {
                diagnostics.append(Diagnostic(
                    "detector '\(detector)' is in several evaluations (\(having.joined(separator: ", "))); name one: '\(metric):\(having[0])/\(detector)/\(dataset)'\(context)",
                    at: location))
            } else if let id = having.first, let evaluation = self.evaluation(id) {
                require(dataset, in: keys(of: evaluation).ood, of: id, "OOD set", at: location, context: context)
            } else {
                var all: [String] = []
                for evaluation in evaluations {
                    for key in keys(of: evaluation).detectors where !all.contains(key) { all.append(key) }
                }
                var diagnostic = Diagnostic("no @Evaluate has a detector '\(detector)'\(context)", at: location,
                                            suggesting: detector, from: all)
                if diagnostic.notes.isEmpty, !all.isEmpty {
                    diagnostic.notes.append(.init("detectors: " + all.joined(separator: ", ")))
                }
                diagnostics.append(diagnostic)
            }
        case .flowBitsPerDim(let flow, let dataset):
            guard resolve(flow, as: RefTarget(["Train"], role: .flow), at: location, in: what) != nil else { return }
            if !vocabulary.isWellFormedDataKey(dataset), !dataKeysInBook.contains(dataset) {
                diagnostics.append(Diagnostic("unknown data set '\(dataset)' in \(what)", at: location,
                                              suggesting: dataset, from: dataKeysInBook.sorted()))
                return
            }
            // The number comes from an evaluation of the flow's likelihood on that set (an
            // @Evaluate, or the one behind @Histogram(model:)).
            let scored = directives.contains { d in
                switch d.name {
                case "Evaluate":
                    return d.values("detectors").contains { $0.caseName == "likelihood" && $0["flow"]?.string == flow }
                        && keys(of: d).all.contains(dataset)
                case "Histogram":
                    return d.optionalString("model") == flow && d.values("datasets").map(vocabulary.dataKey).contains(dataset)
                default:
                    return false
                }
            }
            if !scored {
                diagnostics.append(Diagnostic(
                    "nothing scores '\(flow)' on '\(dataset)' (in \(what)): add it to an @Evaluate with .likelihood(\"\(flow)\") or to a @Histogram(model: \"\(flow)\")",
                    at: location))
            }
        case .accuracy(let classifier):
            _ = resolve(classifier, as: RefTarget(["Train"], role: .classifier), at: location, in: what)
        case .params(let train):
            _ = resolve(train, as: RefTarget(["Train"]), at: location, in: what)
        case .seconds(let node):
            // Only training and evaluation nodes record their wall-clock time.
            _ = resolve(node, as: RefTarget(["Train", "Evaluate"]), at: location, in: what)
        }
    }

    // MARK: - Prose

    private mutating func checkProse() {
        for reference in prose.crossReferences where ids[reference.text] == nil && !brokenIDs.contains(reference.text) {
            let prefix = String(reference.text.prefix(4))
            let candidates = ids.keys.filter { $0.hasPrefix(prefix) }.sorted()
            diagnostics.append(Diagnostic("unknown cross-reference '@\(reference.text)'", at: reference.location,
                                          suggesting: reference.text, from: candidates, quote: { "'@\($0)'" }))
        }
        for citation in prose.citations where !vocabulary.citationKeys.contains(citation.text) {
            var diagnostic = Diagnostic("unknown citation key '\(citation.text)'", at: citation.location,
                                        suggesting: citation.text, from: vocabulary.citationKeys)
            if diagnostic.notes.isEmpty {
                diagnostic.notes.append(.init("known keys: " + vocabulary.citationKeys.joined(separator: ", ")))
            }
            diagnostics.append(diagnostic)
        }
        for value in prose.inlineValues {
            checkValueKey(value.text, at: value.location)
        }
    }
}
