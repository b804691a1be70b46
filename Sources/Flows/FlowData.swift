import Tensor

/// A finite, indexable set of samples that a flow trains on or scores: images (C, H, W) with
/// values in [0, 1], or vectors (D). Samples are materialised batch by batch, so a large data
/// set can stay in its compact form (bytes) until a batch is needed.
public struct FlowData {
    /// Number of samples.
    public let count: Int
    /// Shape of one sample, without the batch axis.
    public let sampleShape: [Int]
    private let fetch: ([Int]) -> Tensor

    /// A data set whose batches come from `batch`.
    /// - Parameters:
    ///   - count: number of samples; `batch` is called with indices in 0..<count.
    ///   - sampleShape: the shape of one sample; `batch(indices)` must return
    ///     `[indices.count] + sampleShape`.
    ///   - batch: the samples at the given indices, stacked in that order.
    public init(count: Int, sampleShape: [Int], batch: @escaping ([Int]) -> Tensor) {
        precondition(count >= 0 && sampleShape.allSatisfy { $0 > 0 }, "FlowData: count \(count), sample shape \(sampleShape)")
        self.count = count
        self.sampleShape = sampleShape
        self.fetch = batch
    }

    /// The samples of a stacked tensor (N, ...): sample i is `samples[i]`.
    public init(_ samples: Tensor) {
        precondition(samples.rank >= 2, "FlowData: expects (N, ...) samples, got \(samples.shape)")
        let stacked = samples.detached.contiguous()
        let shape = Array(stacked.shape.dropFirst())
        let row = shape.reduce(1, *)
        self.init(count: stacked.shape[0], sampleShape: shape) { indices in
            Self.gather(stacked, rows: indices, rowSize: row, shape: shape)
        }
    }

    /// Samples given one tensor each (all of the same shape, no batch axis).
    public init(_ samples: [Tensor]) {
        precondition(!samples.isEmpty, "FlowData: no samples")
        let shape = samples[0].shape
        precondition(samples.allSatisfy { $0.shape == shape }, "FlowData: samples of different shapes")
        self.init(Tensor.concat(samples.map { $0.detached.reshaped([1] + shape) }, axis: 0))
    }

    /// The samples at `indices`, stacked: shape `[indices.count] + sampleShape`.
    public func batch(_ indices: [Int]) -> Tensor {
        let t = fetch(indices)
        precondition(t.shape == [indices.count] + sampleShape,
                     "FlowData.batch: source returned \(t.shape), expected \([indices.count] + sampleShape)")
        return t
    }

    /// The samples at `indices` (in that order) as a data set of their own.
    public func subset(_ indices: [Int]) -> FlowData {
        for i in indices { precondition(i >= 0 && i < count, "FlowData.subset: index \(i) out of 0..<\(count)") }
        return FlowData(count: indices.count, sampleShape: sampleShape) { [fetch] local in fetch(local.map { indices[$0] }) }
    }

    /// The same samples reshaped to `shape` (same number of scalars), e.g. images as vectors.
    public func reshaped(to shape: [Int]) -> FlowData {
        precondition(shape.reduce(1, *) == sampleShape.reduce(1, *), "FlowData.reshaped: \(sampleShape) to \(shape)")
        return FlowData(count: count, sampleShape: shape) { [fetch] indices in fetch(indices).reshaped([indices.count] + shape) }
    }

    private static func gather(_ source: Tensor, rows: [Int], rowSize: Int, shape: [Int]) -> Tensor {
        let n = source.shape[0]
        for r in rows { precondition(r >= 0 && r < n, "FlowData: index \(r) out of 0..<\(n)") }
        switch source.dtype {
        case .float32:
            var out = [Float](repeating: 0, count: rows.count * rowSize)
            source.withUnsafePointer(as: Float.self) { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (b, r) in rows.enumerated() {
                        (dst.baseAddress! + b * rowSize).update(from: src + r * rowSize, count: rowSize)
                    }
                }
            }
            return Tensor(out, shape: [rows.count] + shape)
        case .float64:
            var out = [Double](repeating: 0, count: rows.count * rowSize)
            source.withUnsafePointer(as: Double.self) { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (b, r) in rows.enumerated() {
                        (dst.baseAddress! + b * rowSize).update(from: src + r * rowSize, count: rowSize)
                    }
                }
            }
            return Tensor(out, shape: [rows.count] + shape, dtype: .float64)
        }
    }
}
