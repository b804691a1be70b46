/// A node of the define-by-run autodiff graph.
///
/// Each differentiable operation records one node holding its inputs' nodes and its
/// vector-Jacobian product: given the gradient of the loss with respect to the operation's
/// output, the VJP returns the gradients with respect to each input (nil where an input
/// needs none). Leaf nodes (parameters, `requiringGrad()`) accumulate their gradient.
public final class GradNode {
    public let op: String
    let inputs: [GradNode?]
    let vjp: ((Tensor) -> [Tensor?])?
    /// The accumulated gradient (leaves keep it after `backward()`; interior nodes free it).
    public internal(set) var grad: Tensor?
    public var isLeaf: Bool { vjp == nil }

    init(op: String, inputs: [GradNode?], vjp: ((Tensor) -> [Tensor?])?) {
        self.op = op
        self.inputs = inputs
        self.vjp = vjp
    }

    /// Records an operation if gradients are enabled and any input carries a node.
    static func make(_ op: String, _ inputs: [Tensor], _ vjp: @escaping (Tensor) -> [Tensor?]) -> GradNode? {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return nil }
        return GradNode(op: op, inputs: inputs.map(\.node), vjp: vjp)
    }

    /// Clears a leaf's accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Replaces a leaf's accumulated gradient (e.g. after clipping).
    public func setGrad(_ g: Tensor) {
        precondition(isLeaf, "setGrad on the non-leaf node '\(op)'")
        grad = g.detached
    }

    func accumulate(_ g: Tensor) {
        if let old = grad { grad = old.adding(g) } else { grad = g }
    }
}

/// Whether operations record autodiff nodes. Disable it for evaluation with `withoutGrad`.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording autodiff nodes (evaluation, optimiser updates).
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// The same values as a leaf of the autodiff graph whose gradient is accumulated.
    public func requiringGrad() -> Tensor {
        var t = detached
        t.node = GradNode(op: "leaf", inputs: [], vjp: nil)
        return t
    }

    public var requiresGrad: Bool { node != nil }

    /// The gradient accumulated in this leaf by `backward()`.
    public var grad: Tensor? { node?.grad }

    /// Reverse-mode sweep from this tensor. A non-scalar output needs `seed` (dL/dself).
    public func backward(seed: Tensor? = nil) {
        guard let root = node else { preconditionFailure("backward: tensor does not require grad") }
        let g0: Tensor
        if let seed {
            precondition(seed.shape == shape, "backward: seed shape \(seed.shape) vs \(shape)")
            g0 = seed.detached
        } else {
            precondition(count == 1, "backward: output has shape \(shape); pass a seed")
            g0 = Tensor.ones(shape, dtype: dtype)
        }
        // Iterative post-order DFS: parents after children in `order` reversed.
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (n, i) = stack.popLast() {
            if i < n.inputs.count {
                stack.append((n, i + 1))
                if let c = n.inputs[i], !visited.contains(ObjectIdentifier(c)) {
                    visited.insert(ObjectIdentifier(c))
                    stack.append((c, 0))
                }
            } else {
                order.append(n)
            }
        }
        withoutGrad {
            root.accumulate(g0)
            for n in order.reversed() {
                guard let vjp = n.vjp else { continue }
                guard let g = n.grad else { continue }
                n.grad = nil
                let gs = vjp(g)
                precondition(gs.count == n.inputs.count, "\(n.op): VJP returned \(gs.count) grads for \(n.inputs.count) inputs")
                for (inp, gi) in zip(n.inputs, gs) {
                    if let inp, let gi { inp.accumulate(gi) }
                }
            }
        }
    }
}
