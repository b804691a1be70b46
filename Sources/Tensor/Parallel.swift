import Dispatch
import Foundation
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Thread configuration of the engine. All parallelism is the engine's own: BLAS is
/// run single-threaded inside each worker so that the two never oversubscribe the cores
/// and results do not depend on BLAS's internal partitioning.
public enum Engine {
    /// Number of worker threads (default: active processor count, or FLOWOOD_THREADS).
    public static let threads: Int = {
        let env = ProcessInfo.processInfo.environment["FLOWOOD_THREADS"].flatMap { Int($0) }
        let n = Swift.max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
        return n
    }()

}

extension Engine {
    /// Runs `body(range)` on at most `Engine.threads` contiguous ranges covering `0..<n`, in
    /// parallel when the work (`n · costPerItem`) is large enough, else once on `0..<n`.
    /// `body` must only write memory that is disjoint across ranges (e.g. element-wise
    /// updates); returns when every range is done.
    public static func forEachRange(of n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelRanges(n, costPerItem: costPerItem, body)
    }
}

/// Runs `body(chunk)` for `chunks` chunks on the engine's threads; returns when all finish.
@inline(__always)
func parallelChunks(_ chunks: Int, _ body: (Int) -> Void) {
    if chunks <= 1 { if chunks == 1 { body(0) }; return }
    _ = Engine.threads
    withoutActuallyEscaping(body) { work in
        let box = UncheckedSendable(work)
        DispatchQueue.concurrentPerform(iterations: chunks) { box.value($0) }
    }
}

/// Carries a closure into Dispatch's `@Sendable` worker. The kernels that use it write to
/// disjoint memory per chunk and finish before the call returns.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Splits `0..<n` into at most `Engine.threads` contiguous ranges when the work is
/// large enough (`n * costPerItem >= minWork`), and runs `body(range)` on each.
@inline(__always)
func parallelRanges(_ n: Int, costPerItem: Int = 1, minWork: Int = 1 << 15,
                    _ body: (Range<Int>) -> Void) {
    let t = Engine.threads
    if t <= 1 || n < 2 || n &* costPerItem < minWork {
        if n > 0 { body(0..<n) }
        return
    }
    let parts = Swift.min(t, n)
    parallelChunks(parts) { p in
        let lo = n * p / parts, hi = n * (p + 1) / parts
        if lo < hi { body(lo..<hi) }
    }
}
