import Synchronization

/// A reference-counted, 64-byte aligned buffer of tensor elements.
///
/// Buffers are recycled through `BufferPool`: training loops allocate the same sizes
/// every step, and reusing memory avoids the first-touch page faults that make fresh
/// large allocations several times slower than a copy (see PLATFORM.md).
public final class Storage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    let raw: UnsafeMutableRawPointer
    let byteCount: Int

    init(dtype: DType, count: Int) {
        self.dtype = dtype
        self.count = count
        self.byteCount = Swift.max(count * dtype.byteSize, 1)
        self.raw = BufferPool.shared.take(byteCount: byteCount)
    }

    deinit { BufferPool.shared.give(raw, byteCount: byteCount) }

    @inline(__always) func pointer<T: TensorScalar>(as: T.Type) -> UnsafeMutablePointer<T> {
        precondition(T.dtype == dtype, "storage holds \(dtype), accessed as \(T.dtype)")
        return raw.assumingMemoryBound(to: T.self)
    }
}

/// Size-keyed free lists of large buffers, bounded in total bytes.
final class BufferPool: Sendable {
    static let shared = BufferPool()
    /// Buffers smaller than this go straight to malloc (it recycles them well already).
    static let minPooledBytes = 1 << 16
    static let maxPooledBytes = 3 << 30

    /// A pooled pointer; only ever owned by one storage or by the pool at a time.
    private struct Buffer: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }
    private struct State {
        var free: [Int: [Buffer]] = [:]
        var pooledBytes = 0
    }
    private let state = Mutex(State())

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= Self.minPooledBytes {
            let reused: Buffer? = state.withLock { s in
                guard var list = s.free[byteCount], let p = list.popLast() else { return nil }
                s.free[byteCount] = list
                s.pooledBytes -= byteCount
                return p
            }
            if let reused { return reused.pointer }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func give(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        if byteCount >= Self.minPooledBytes {
            let buffer = Buffer(pointer: p)
            let kept = state.withLock { s -> Bool in
                guard s.pooledBytes + byteCount <= Self.maxPooledBytes else { return false }
                s.free[byteCount, default: []].append(buffer)
                s.pooledBytes += byteCount
                return true
            }
            if kept { return }
        }
        p.deallocate()
    }

    /// Returns every pooled buffer to the system.
    func drain() {
        let all = state.withLock { s -> [Buffer] in
            let ps = s.free.values.flatMap { $0 }
            s.free = [:]
            s.pooledBytes = 0
            return ps
        }
        for b in all { b.pointer.deallocate() }
    }
}
