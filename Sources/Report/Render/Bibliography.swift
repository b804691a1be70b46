/// One work the report cites.
public struct BibliographyEntry: Sendable, Hashable {
    /// The citation key used in chapters: `[@kirichenko2020]`.
    public var key: String
    /// Authors as "Surname, Initials" in the paper's order.
    public var authors: [String]
    /// How the work is named in citations: "Kirichenko et al.".
    public var shortAuthors: String
    /// Year of the version cited.
    public var year: Int
    /// Title as published.
    public var title: String
    /// Where it appeared.
    public var venue: String
    /// A stable link to the work.
    public var url: String
    /// Anything else a reader needs (later versions, anonymity of the reviewed version).
    public var note: String?

    /// An entry from its fields (see the properties).
    public init(key: String, authors: [String], shortAuthors: String, year: Int, title: String, venue: String,
                url: String, note: String? = nil) {
        self.key = key
        self.authors = authors
        self.shortAuthors = shortAuthors
        self.year = year
        self.title = title
        self.venue = venue
        self.url = url
        self.note = note
    }

    /// "Kirichenko et al., 2020" (inside parentheses).
    public var parenthetical: String { "\(shortAuthors), \(year)" }
    /// "Kirichenko et al. (2020)" (as part of a sentence).
    public var narrative: String { "\(shortAuthors) (\(year))" }

    /// "Kirichenko, P., Izmailov, P., and Wilson, A. G."
    public var authorList: String {
        switch authors.count {
        case 0: ""
        case 1: authors[0]
        case 2: "\(authors[0]) and \(authors[1])"
        default: authors.dropLast().joined(separator: ", ") + ", and " + authors[authors.count - 1]
        }
    }
}

/// The works the report can cite, in one place. Keys are the `Paper` cases of `@Claim` and the
/// `[@key]` citations of the chapters (docs/report-design.md).
public enum Bibliography {
    /// Every entry, ordered by first author (the order of the References section).
    public static let entries: [BibliographyEntry] = [
        BibliographyEntry(
            key: "lde2023",
            authors: ["Cook, E. D.", "Lavoie, M.-A.", "Waslander, S. L."],
            shortAuthors: "Cook et al.", year: 2023,
            title: "Normalizing flows for out-of-distribution detection via latent density estimation",
            venue: "OpenReview, submission to the International Conference on Learning Representations (ICLR 2024)",
            url: "https://openreview.net/forum?id=6Z8rZlKpNT",
            note: "The reviewed version is anonymous; authors as in the extended version, “Feature density estimation for out-of-distribution detection via normalizing flows”, arXiv:2402.06537 (2024)."),
        BibliographyEntry(
            key: "kirichenko2020",
            authors: ["Kirichenko, P.", "Izmailov, P.", "Wilson, A. G."],
            shortAuthors: "Kirichenko et al.", year: 2020,
            title: "Why normalizing flows fail to detect out-of-distribution data",
            venue: "Advances in Neural Information Processing Systems 33 (NeurIPS 2020)",
            url: "https://arxiv.org/abs/2006.08545"),
    ]

    /// The entry for `key`, or nil.
    public static func entry(_ key: String) -> BibliographyEntry? {
        entries.first { $0.key == key }
    }

    /// "; did you mean 'lde2023'?" when a key is within edit distance 2 of `key`, else "".
    static func suggestion(for key: String) -> String {
        let close = entries.map { ($0.key, editDistance($0.key, key)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
        return close.map { "; did you mean '\($0.0)'?" } ?? ""
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
