import Tensor
import NN
import Flows
import TestSupport

// MARK: - Helpers for the coupling-architecture tests

/// Gives a coupling network's zero-initialised output layer N(0, std²) weights and bias, so s
/// and t are non-zero and the invertibility and log-det tests can fail.
func randomiseOutput(of network: any Layer, std: Double, seed: UInt64) {
    let net = network as! any CouplingNetwork
    net.outputConv.weight.assign(normal(net.outputConv.weight.shape, scale: std, seed: seed))
    net.outputConv.bias!.assign(normal(net.outputConv.bias!.shape, scale: std, seed: seed &+ 1))
}

/// Randomises every coupling of a model: output layers N(0, std²), `scale` in [0.5, 1.5].
func randomiseCouplings(_ couplings: [AffineCoupling], std: Double, seed: UInt64) {
    for (k, coupling) in couplings.enumerated() {
        let s = seed &+ UInt64(10 * k)
        randomiseOutput(of: coupling.network, std: std, seed: s)
        coupling.scale.assign(uniform(coupling.scale.shape, 0.5, 1.5, seed: s &+ 2))
    }
}

/// A coupling on C channels with a small s/t network of the given kind (mid 4, two blocks,
/// Double precision) whose output layer is randomised.
func randomisedCoupling(channels c: Int, height: Int, width: Int, mask: Mask, stNet: STNet = .resnet,
                        seed: UInt64) -> AffineCoupling {
    var rng = SeededGenerator(seed: seed)
    let (cin, cout) = mask.isSpatial ? (c, 2 * c) : (c / 2, c)
    let net = stNet.makeNetwork(cin: cin, cout: cout, height: height, width: width, mid: 4, blocks: 2, batchNorm: true,
                                dtype: .float64, using: &rng)
    let layer = AffineCoupling(channels: c, mask: mask, network: net, dtype: .float64)
    randomiseCouplings([layer], std: 0.3, seed: seed &+ 1)
    return layer
}

/// Every half and quadrant mask: both parities of the half masks, and all twelve quadrant pairs.
let newSpatialMasks: [Mask] = [.horizontal(parity: 0), .horizontal(parity: 1), .vertical(parity: 0), .vertical(parity: 1)]
    + (0..<4).flatMap { from in (0..<4).filter { $0 != from }.map { Mask.quadrant(from: from, to: $0) } }
