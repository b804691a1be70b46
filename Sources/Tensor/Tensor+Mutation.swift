/// In-place access for optimisers, checkpoint loading and data-dependent initialisation.
/// These bypass value semantics on purpose: callers own the tensors they mutate
/// (parameters, freshly made buffers) and no autodiff graph may be using them.
extension Tensor {
    /// Calls `body` with a mutable pointer to the elements of a dense tensor.
    public func withUnsafeMutablePointer<T: TensorScalar, R>(as: T.Type, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        precondition(isContiguous, "withUnsafeMutablePointer needs a contiguous tensor, shape \(shape)")
        return try body(mutablePointer(as: T.self))
    }

    /// Overwrites this dense tensor's elements with `source`'s (same shape; dtype converted).
    public func assignValues(from source: Tensor) {
        precondition(source.shape == shape, "assignValues: \(source.shape) into \(shape)")
        precondition(isContiguous, "assignValues into a non-contiguous tensor")
        let src = source.cast(to: dtype).contiguous().detached
        storage.raw.advanced(by: offset * dtype.byteSize)
            .copyMemory(from: src.storage.raw.advanced(by: src.offset * dtype.byteSize), byteCount: count * dtype.byteSize)
    }
}
