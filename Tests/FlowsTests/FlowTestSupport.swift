import Testing
import Tensor
import NN
import Flows
import TestSupport

// MARK: - Helpers shared by the flow tests

/// log|det ∂f/∂x| of a single-sample input by brute force: the full Jacobian built row by row
/// with one reverse-mode sweep per output (one-hot seeds), then an LU factorisation.
func bruteForceLogAbsDet(_ x: Tensor, _ f: (Tensor) -> Tensor) -> Double {
    precondition(x.shape[0] == 1, "bruteForceLogAbsDet: one sample, got \(x.shape)")
    let n = x.count
    var jacobian: [Double] = []
    for i in 0..<n {
        let leaf = x.requiringGrad()
        let z = f(leaf)
        precondition(z.count == n, "bruteForceLogAbsDet: \(z.shape) from \(x.shape)")
        var seed = [Double](repeating: 0, count: n)
        seed[i] = 1
        z.backward(seed: Tensor(seed, shape: z.shape, dtype: z.dtype))
        jacobian += leaf.grad!.doubles
    }
    return LUDecomposition(jacobian, n: n)!.logAbsDeterminant.value
}

/// Expects inverse(forward(x)) == x for the batch, and forward's log|det| on the first sample
/// alone to equal the brute-force value.
func expectFlowIsExact(_ layer: some FlowLayer, _ x: Tensor, tolerance: Double = 1e-10,
                       logDetTolerance: Double = 1e-9, _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    let (z, logDet) = layer.forward(x)
    #expect(logDet.shape == [x.shape[0]], "\(what): logDet shape \(logDet.shape)", sourceLocation: sourceLocation)
    #expect(z.shape == x.shape, "\(what): z shape \(z.shape)", sourceLocation: sourceLocation)
    expectClose(layer.inverse(z), x.doubles, tolerance: tolerance, "\(what): inverse(forward(x))",
                sourceLocation: sourceLocation)
    // On the first sample alone: in training mode BatchNorm inside an s/t network couples the
    // samples of a batch, so the brute-force Jacobian is taken at batch size 1 on both sides.
    let first = x.slice(axis: 0, 0..<1).contiguous()
    let brute = bruteForceLogAbsDet(first) { layer.forward($0).z }
    expectClose(layer.forward(first).logDet.doubles, [brute], tolerance: logDetTolerance, relativeTolerance: logDetTolerance,
                "\(what): log|det J| vs brute force", sourceLocation: sourceLocation)
}

/// A small STResNet (mid 8, one block, BN) whose zero-initialised output conv is randomised so
/// s and t are non-zero.
func randomisedST(cin: Int, cout: Int, seed: UInt64) -> STResNet {
    var rng = SeededGenerator(seed: seed)
    let net = STResNet(cin: cin, cout: cout, mid: 8, blocks: 1, batchNorm: true, dtype: .float64, using: &rng)
    net.outputConv.weight.assign(normal(net.outputConv.weight.shape, scale: 0.3, seed: seed &+ 1))
    net.outputConv.bias!.assign(normal(net.outputConv.bias!.shape, scale: 0.3, seed: seed &+ 2))
    return net
}
