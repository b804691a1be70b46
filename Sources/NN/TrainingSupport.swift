import Tensor

/// A seed derived from `seed` and a path of stream identifiers (epoch, purpose, layer index...):
/// each part is mixed in through a SplitMix64-seeded xoshiro draw, so different paths give
/// unrelated streams and the same path always gives the same seed.
///
/// Trainers derive each epoch's generators as `derivedSeed(seed, epoch, purpose)`: the random
/// state at an epoch boundary is then a function of (seed, epoch) alone, and a run resumed from
/// a checkpoint draws exactly the numbers an uninterrupted run would have drawn.
public func derivedSeed(_ seed: UInt64, _ parts: UInt64...) -> UInt64 {
    var h = seed
    for p in parts {
        var g = SeededGenerator(seed: h ^ (p &* 0x9E37_79B9_7F4A_7C15))
        h = g.next()
    }
    return h
}

/// An in-memory copy of a module's parameters and buffers and of its optimiser's state, to roll
/// back to after a diverged step.
public struct TrainingSnapshot {
    /// The epoch (or any label) the copy was taken at.
    public let label: Int
    private let values: [Tensor]
    private let optimizerState: [String: Tensor]

    /// Deep-copies every parameter and buffer of `module` and the state of `optimizer`.
    public init(_ module: any Module, optimizer: any Optimizer, label: Int) {
        self.label = label
        values = module.namedParameters().map { $0.1.value.copy() }
        optimizerState = optimizer.stateTensors().mapValues { $0.copy() }
    }

    /// Writes the copied values back into `module` and `optimizer` (the same objects, or ones of
    /// identical structure) and clears the gradients.
    public func restore(into module: any Module, optimizer: any Optimizer) throws {
        let params = module.namedParameters()
        precondition(params.count == values.count, "TrainingSnapshot: \(values.count) values for \(params.count) parameters")
        for ((_, p), v) in zip(params, values) {
            p.assign(v)
            p.zeroGrad()
        }
        try optimizer.loadState(optimizerState.mapValues { $0.copy() })
    }
}

/// Whether every gradient of `parameters` is finite (an allocation-free scan).
public func gradientsAreFinite(_ parameters: [Parameter]) -> Bool {
    for p in parameters {
        guard let g = p.grad?.contiguous() else { continue }
        let n = g.count
        let finite: Bool
        switch g.dtype {
        case .float32:
            finite = g.withUnsafePointer(as: Float.self) { ptr in
                var ok = true
                for i in 0..<n where !ptr[i].isFinite { ok = false; break }
                return ok
            }
        case .float64:
            finite = g.withUnsafePointer(as: Double.self) { ptr in
                var ok = true
                for i in 0..<n where !ptr[i].isFinite { ok = false; break }
                return ok
            }
        }
        if !finite { return false }
    }
    return true
}
