import Foundation
import Testing
@testable import Plot

@Suite struct TSNEEmbedding {
    /// Two Gaussian clusters in 10-D, 40 points each, centres 12 apart (unit variance).
    private func clusters(seed: UInt64) -> [[Double]] {
        var rng = SplitMix64(seed: seed)
        return (0..<80).map { i in (0..<10).map { d in (i < 40 || d != 0 ? 0 : 12) + gaussian(using: &rng) } }
    }

    private let settings = TSNE(perplexity: 10, iterations: 300, exaggerationIterations: 100)

    @Test(arguments: [TSNE.Initialization.pca, .random])
    func wellSeparatedClustersStaySeparated(_ initialization: TSNE.Initialization) throws {
        var tsne = settings
        tsne.initialization = initialization
        var rng = SplitMix64(seed: 7)
        let e = try tsne.embed(clusters(seed: 5), using: &rng)
        func centre(_ range: Range<Int>) -> (Double, Double) {
            (range.map { e.x[$0] }.reduce(0, +) / Double(range.count), range.map { e.y[$0] }.reduce(0, +) / Double(range.count))
        }
        func spread(_ range: Range<Int>, _ c: (Double, Double)) -> Double {
            range.map { hypot(e.x[$0] - c.0, e.y[$0] - c.1) }.max()!
        }
        let a = centre(0..<40), b = centre(40..<80)
        let gap = hypot(a.0 - b.0, a.1 - b.1)
        #expect(gap > spread(0..<40, a) + spread(40..<80, b), "clusters overlap: gap \(gap)")
        // Every point is nearer its own cluster's centre.
        for i in 0..<80 {
            let own = i < 40 ? a : b, other = i < 40 ? b : a
            #expect(hypot(e.x[i] - own.0, e.y[i] - own.1) < hypot(e.x[i] - other.0, e.y[i] - other.1))
        }
        #expect(abs(e.x.reduce(0, +)) < 1e-9 && abs(e.y.reduce(0, +)) < 1e-9, "embedding is not centred")
    }

    @Test func sameSeedGivesTheSameEmbedding() throws {
        let points = clusters(seed: 1)
        var r1 = SplitMix64(seed: 42), r2 = SplitMix64(seed: 42), r3 = SplitMix64(seed: 43)
        var tsne = settings
        tsne.initialization = .random
        let a = try tsne.embed(points, using: &r1), b = try tsne.embed(points, using: &r2), c = try tsne.embed(points, using: &r3)
        #expect(a.x == b.x && a.y == b.y)
        #expect(a.x != c.x)
    }

    @Test func affinitiesHaveThePerplexityAndSumToOne() throws {
        let points = clusters(seed: 2)
        let p = TSNE(perplexity: 10).affinities(points)
        #expect(abs(p.reduce(0, +) - 1) < 1e-6)
        let diagonal: [Double] = (0..<80).map { p[$0 * 80 + $0] }
        #expect(diagonal.allSatisfy { $0 == 0 })
        var symmetric = true
        for i in 0..<80 {
            for j in 0..<80 where p[i * 80 + j] != p[j * 80 + i] { symmetric = false }
        }
        #expect(symmetric)
    }

    @Test func badInputIsRejected() {
        var rng = SplitMix64(seed: 0)
        expectPlotError("t-SNE input", "at least 2") { _ = try TSNE().embed([[1]], using: &rng) }
        expectPlotError("points[1] has 1 values, expected 2") { _ = try TSNE(perplexity: 1).embed([[1, 2], [1], [3, 4]], using: &rng) }
        expectPlotError("points[0]", "nan") { _ = try TSNE(perplexity: 1).embed([[.nan], [1], [2]], using: &rng) }
        expectPlotError("perplexity 30.0") { _ = try TSNE().embed([[1], [2], [3]], using: &rng) }
    }

    @Test func splitMixMatchesTheReferenceSequence() {
        // reference: SplitMix64 (Vigna's splitmix64.c) seeded with 0 → first output 0xE220A8397B1DCDAF.
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
    }
}
