import Testing
import Tensor
import NN
import Flows
import TestSupport

@Suite struct CouplingMaskTests {
    /// The mask as two H×W character maps: "c" conditioning, "r" transformed, "." neither.
    func picture(_ mask: Mask, height: Int, width: Int) -> [String] {
        let m = mask.spatialMasks(height: height, width: width, dtype: .float64)!
        let c = m.conditioning.doubles, r = m.transformed.doubles
        return (0..<height).map { i in
            String((0..<width).map { j -> Character in
                let k = i * width + j
                return c[k] == 1 ? (r[k] == 1 ? "!" : "c") : (r[k] == 1 ? "r" : ".")
            })
        }
    }

    @Test func halfMasksSplitTopBottomAndLeftRight() {
        #expect(picture(.horizontal(parity: 0), height: 4, width: 3) == ["rrr", "rrr", "ccc", "ccc"])
        #expect(picture(.horizontal(parity: 1), height: 4, width: 3) == ["ccc", "ccc", "rrr", "rrr"])
        #expect(picture(.vertical(parity: 0), height: 2, width: 4) == ["rrcc", "rrcc"])
        #expect(picture(.vertical(parity: 1), height: 2, width: 4) == ["ccrr", "ccrr"])
        // Odd sizes: the top (left) part has ⌊H/2⌋ rows (⌊W/2⌋ columns).
        #expect(picture(.horizontal(parity: 0), height: 3, width: 2) == ["rr", "cc", "cc"])
        #expect(picture(.vertical(parity: 1), height: 1, width: 5) == ["ccrrr"])
    }

    @Test func checkerboardKeepsItsConvention() {
        // m[i, j] = (i + j) mod 2 = 1 conditions; parity 0 transforms the top-left pixel.
        #expect(picture(.checkerboard(parity: 0), height: 3, width: 3) == ["rcr", "crc", "rcr"])
        #expect(picture(.checkerboard(parity: 1), height: 2, width: 2) == ["cr", "rc"])
        #expect(Mask.checkerboard(parity: 1).checkerboard(height: 2, width: 2, dtype: .float64)!.doubles == [1, 0, 0, 1])
    }

    @Test func quadrantsAreNumberedClockwiseFromTheTopLeft() {
        #expect(picture(.quadrant(from: 0, to: 1), height: 4, width: 4) == ["ccrr", "ccrr", "....", "...."])
        #expect(picture(.quadrant(from: 1, to: 2), height: 4, width: 4) == ["..cc", "..cc", "..rr", "..rr"])
        #expect(picture(.quadrant(from: 2, to: 3), height: 4, width: 4) == ["....", "....", "rrcc", "rrcc"])
        #expect(picture(.quadrant(from: 3, to: 0), height: 4, width: 4) == ["rr..", "rr..", "cc..", "cc.."])
        #expect(picture(.quadrant(from: 2, to: 0), height: 2, width: 2) == ["r.", ".c"])
    }

    @Test func invalidMasksAreReported() {
        #expect(Mask.horizontal(parity: 2).problem == "parity 2 is not 0 or 1")
        #expect(Mask.quadrant(from: 1, to: 1).problem == "quadrant 1 cannot condition on itself")
        #expect(Mask.quadrant(from: 0, to: 4).problem != nil)
        #expect(newSpatialMasks.allSatisfy { $0.problem == nil && $0.isSpatial })
        #expect(!Mask.channel(parity: 0).isSpatial)
    }

    @Test(arguments: newSpatialMasks)
    func couplingIsInvertibleWithExactLogDet(mask: Mask) {
        for (c, h, w) in [(1, 4, 4), (2, 4, 6)] {
            let layer = randomisedCoupling(channels: c, height: h, width: w, mask: mask, seed: 11)
            let x = normal([2, c, h, w], seed: 12)
            #expect(layer.forward(x).logDet.doubles.allSatisfy { $0 != 0 }, "s must be non-zero for a real test")
            expectFlowIsExact(layer, x, "\(mask), \(c)×\(h)×\(w)")
        }
    }

    @Test(arguments: newSpatialMasks)
    func onlyTheTransformedRegionChanges(mask: Mask) {
        let (h, w) = (4, 6)
        let layer = randomisedCoupling(channels: 2, height: h, width: w, mask: mask, seed: 21)
        let x = normal([1, 2, h, w], seed: 22)
        let y = layer.forward(x).z
        for c in 0..<2 {
            for i in 0..<h {
                for j in 0..<w {
                    let transformed = mask.roles(row: i, column: j, height: h, width: w)!.transformed
                    if transformed {
                        #expect(y[0, c, i, j] != x[0, c, i, j], "\(mask): (\(c), \(i), \(j)) should change")
                    } else {
                        #expect(y[0, c, i, j] == x[0, c, i, j], "\(mask): (\(c), \(i), \(j)) should pass")
                    }
                }
            }
        }
    }

    @Test func quadrantCouplingSeesOnlyItsConditioningQuadrant() {
        // Changing the two quadrants outside from/to must not change the output's quadrant `to`.
        let (h, w) = (4, 4)
        let layer = randomisedCoupling(channels: 1, height: h, width: w, mask: .quadrant(from: 3, to: 0), seed: 31)
        let x = normal([1, 1, h, w], seed: 32)
        var values = x.doubles
        for i in 0..<h { for j in 0..<w where [1, 2].contains(Mask.quadrant(row: i, column: j, height: h, width: w)) {
            values[i * w + j] += 1
        } }
        let y0 = layer.forward(x).z, y1 = layer.forward(Tensor(values, shape: x.shape)).z
        for i in 0..<2 { for j in 0..<2 { #expect(y0[0, 0, i, j] == y1[0, 0, i, j]) } }
        // Changing quadrant 3 (its conditioning) does change quadrant 0.
        values = x.doubles
        values[3 * w + 0] += 1
        let y2 = layer.forward(Tensor(values, shape: x.shape)).z
        #expect((0..<2).contains { i in (0..<2).contains { j in y2[0, 0, i, j] != y0[0, 0, i, j] } })
    }

    @Test func detailedForwardPadsChannelCouplings() {
        let layer = randomisedCoupling(channels: 4, height: 2, width: 2, mask: .channel(parity: 1), seed: 41)
        let x = normal([1, 4, 2, 2], seed: 42)
        let out = layer.forwardDetailed(x)
        #expect(out.z.doubles == layer.forward(x).z.doubles)
        #expect(out.logScale.shape == x.shape && out.shift.shape == x.shape)
        // Parity 1 transforms B = channels 2, 3: s and t are zero on A = channels 0, 1.
        #expect(out.logScale.slice(axis: 1, 0..<2).doubles.allSatisfy { $0 == 0 })
        #expect(out.shift.slice(axis: 1, 0..<2).doubles.allSatisfy { $0 == 0 })
        #expect(out.logScale.slice(axis: 1, 2..<4).doubles.allSatisfy { $0 != 0 })
        expectClose([out.logScale.sum().item], out.logDet.doubles, tolerance: 1e-12, "Σ s")
    }
}
