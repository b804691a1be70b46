import Testing
import Foundation
import TestSupport
@testable import Report

@Suite struct CacheTests {
    @Test func storeThenLookupVerifiesContent() throws {
        try withTemporaryDirectory { dir in
            let cache = ExperimentCache(root: dir)
            #expect(cache.lookup("ab12") == .missing)
            let stored = try cache.store("ab12", node: "n") { out in
                try Data("hello".utf8).write(to: out.appendingPathComponent("a.txt"))
            }
            #expect(cache.lookup("ab12") == .hit(stored))
            // An altered file makes the entry corrupt; it is removed, not trusted.
            try Data("HELLO".utf8).write(to: stored.appendingPathComponent("a.txt"))
            guard case .corrupt(let why) = cache.lookup("ab12") else { Issue.record("expected corrupt"); return }
            #expect(why.contains("a.txt"))
            #expect(cache.lookup("ab12") == .missing)
        }
    }

    @Test func failedProduceStoresNothing() throws {
        struct Boom: Error {}
        try withTemporaryDirectory { dir in
            let cache = ExperimentCache(root: dir)
            #expect(throws: Boom.self) {
                try cache.store("cd34", node: "n") { out in
                    try Data("partial".utf8).write(to: out.appendingPathComponent("a.txt"))
                    throw Boom()
                }
            }
            #expect(cache.lookup("cd34") == .missing)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cd").path)
            #expect(leftovers.isEmpty)
        }
    }
}

@Suite struct GraphInvalidationTests {
    /// A two-node chain a → b whose computations count how often they ran.
    final class Counter: @unchecked Sendable { var runs: [String] = [] }

    func build(_ cache: ExperimentCache, aArg: String, bArg: String, version: String = "1", aData: [String] = ["data@1"],
               counter: Counter, log: ((String) -> Void)? = nil) -> ExperimentGraph {
        let g = ExperimentGraph(cache: cache, profile: .smoke)
        g.log = log ?? { _ in }
        let loc = SourceLocation(file: "chapters/x.md", line: 1, column: 1)
        // As the builder does, the data fingerprints are part of the canonical arguments too.
        let a = g.node(label: "a", kind: "test-a", codeVersion: version, canonical: aArg + aData.joined(), data: aData,
                       inputs: [], location: loc) { _, out in
            counter.runs.append("a")
            try Data(aArg.utf8).write(to: out.appendingPathComponent("a"))
        }
        _ = g.node(label: "b", kind: "test-b", codeVersion: "1", canonical: bArg, inputs: [a], location: loc) { node, out in
            counter.runs.append("b")
            let upstream = try Data(contentsOf: node.inputDirectory(0).appendingPathComponent("a"))
            try (upstream + Data(bArg.utf8)).write(to: out.appendingPathComponent("b"))
        }
        return g
    }

    @Test func onlyChangedNodesAndTheirDependentsRecompute() throws {
        try withTemporaryDirectory { dir in
            let cache = ExperimentCache(root: dir)
            let c = Counter()
            try build(cache, aArg: "x", bArg: "y", counter: c).run()
            #expect(c.runs == ["a", "b"])
            try build(cache, aArg: "x", bArg: "y", counter: c).run()
            #expect(c.runs == ["a", "b"], "nothing changed: everything reused")
            let g = build(cache, aArg: "x", bArg: "y2", counter: c)
            try g.run()
            #expect(c.runs == ["a", "b", "b"], "changing b recomputes only b")
            if case .computed(let r, _) = g.nodes[1].outcome! { #expect(r == "arguments changed") } else { Issue.record("b reused") }
            let g2 = build(cache, aArg: "x2", bArg: "y2", counter: c)
            try g2.run()
            #expect(c.runs == ["a", "b", "b", "a", "b"], "changing a recomputes a and b")
            if case .computed(let r, _) = g2.nodes[1].outcome! { #expect(r == "inputs changed: a") } else { Issue.record("b reused") }
            let g3 = build(cache, aArg: "x2", bArg: "y2", version: "2", counter: c)
            try g3.run()
            if case .computed(let r, _) = g3.nodes[0].outcome! { #expect(r == "code changed (1 → 2)") } else { Issue.record("a reused") }
        }
    }

    @Test func explainSaysWhyForDataChangesAndReuse() throws {
        try withTemporaryDirectory { dir in
            let cache = ExperimentCache(root: dir)
            let c = Counter()
            try build(cache, aArg: "x", bArg: "y", counter: c).run()
            var lines: [String] = []
            let same = build(cache, aArg: "x", bArg: "y", counter: c, log: { lines.append($0) })
            try same.run(explain: true)
            #expect(same.nodes.map(\.outcome) == [.reused(reason: "unchanged since the last run"),
                                                  .reused(reason: "unchanged since the last run")])
            #expect(lines.count == 2 && lines[0].hasPrefix("[1/2] a: reused (unchanged since the last run) ")
                    && lines[0].hasSuffix(" " + same.nodes[0].key.prefix(12)))
            // New data files (their fingerprint changed) read "data changed", not "arguments changed".
            let data = build(cache, aArg: "x", bArg: "y", aData: ["data@2"], counter: c)
            try data.run()
            #expect(c.runs == ["a", "b", "a", "b"])
            if case .computed(let r, _) = data.nodes[0].outcome! { #expect(r == "data changed") } else { Issue.record("a reused") }
            if case .computed(let r, _) = data.nodes[1].outcome! { #expect(r == "inputs changed: a") } else { Issue.record("b reused") }
            // Back to the first data: its entry is still there, and the reuse says so.
            let back = build(cache, aArg: "x", bArg: "y", counter: c)
            try back.run()
            #expect(c.runs == ["a", "b", "a", "b"])
            #expect(back.nodes[0].outcome == .reused(reason: "data changed since the last run, but an earlier run's entry matches"))
            // A fresh index (e.g. deleted) still finds the entries.
            try FileManager.default.removeItem(at: dir.appendingPathComponent("index-smoke.json"))
            let fresh = build(cache, aArg: "x", bArg: "y", counter: c)
            try fresh.run()
            #expect(fresh.nodes[0].outcome == .reused(reason: "entry found; the last run had no such node"))
        }
    }

    @Test func failureNamesTheDirective() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        try withTemporaryDirectory { dir in
            let g = ExperimentGraph(cache: ExperimentCache(root: dir), profile: .smoke)
            g.log = { _ in }
            let loc = SourceLocation(file: "chapters/02.md", line: 7, column: 1)
            _ = g.node(label: "train f", kind: "t", codeVersion: "1", canonical: "{}", inputs: [], location: loc) { _, _ in throw Boom() }
            do {
                try g.run()
                Issue.record("expected failure")
            } catch let e as ExperimentError {
                #expect(e.description == "chapters/02.md:7:1: error: train f failed: boom")
            }
        }
    }
}
