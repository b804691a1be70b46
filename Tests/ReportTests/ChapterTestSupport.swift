import Testing
@testable import Report

/// A chapter that defines what most tests refer to: a title, a classifier, an image flow, a
/// vector flow on classifier features and an evaluation.
let baseChapter = """
@Title(title: "Test book") {
An abstract.
}

@Train(id: "clf", model: .classifier(), data: .fashionMNIST, epochs: 1)

@Train(id: "flow", model: .realNVP(), data: .fashionMNIST, epochs: 1)

@Train(id: "latent", model: .glowLatent(), data: .features("clf", of: .fashionMNIST), epochs: 1)

@Evaluate(id: "eval", inDistribution: .fashionMNIST, ood: [.digits, .textures],
          detectors: [.likelihood("flow"), .msp("clf"), .odin("clf", temperature: 1000)])
"""

/// Checks `text` as "chapters/01-test.md" after the base chapter ("chapters/00-base.md") and
/// returns the rendered diagnostics.
func diagnostics(_ text: String, base: String = baseChapter) -> [String] {
    let (book, found) = Book.check([("chapters/00-base.md", base), ("chapters/01-test.md", text)])
    #expect((book == nil) == !found.isEmpty)
    return found.map(\.description)
}

/// The single diagnostic of `text`, or a failure listing all of them.
func diagnostic(_ text: String, base: String = baseChapter,
                sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
    let found = diagnostics(text, base: base)
    #expect(found.count == 1, "expected one diagnostic, got:\n\(found.joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    return found.first ?? ""
}

/// The book of the base chapter plus `text`, which must check clean.
func book(_ text: String, base: String = baseChapter, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Book? {
    let (book, found) = Book.check([("chapters/00-base.md", base), ("chapters/01-test.md", text)])
    #expect(found.isEmpty, "\(found.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    return book
}
