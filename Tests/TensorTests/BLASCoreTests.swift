import Foundation
import Testing
@testable import Tensor

@Suite struct BLASCoreTests {
    let avx512: Set<String> = ["fpu", "sse2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw",
                               "avx512dq", "avx512vl"]

    @Test func aGenericFallbackOnAModernCPUGetsItsKernels() {
        #expect(BLASCore.betterCore(than: "Prescott", cpuFlags: avx512) == "SkylakeX")
        #expect(BLASCore.betterCore(than: "Nehalem", cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
        // AVX-512 without the BW/DQ/VL subsets the SkylakeX kernels use: Haswell's.
        #expect(BLASCore.betterCore(than: "Prescott", cpuFlags: ["avx", "avx2", "fma", "avx512f"]) == "Haswell")
    }

    @Test func aRecognisedCoreOrAnOldCPUIsLeftAlone() {
        #expect(BLASCore.betterCore(than: "SkylakeX", cpuFlags: avx512) == nil)
        #expect(BLASCore.betterCore(than: "Zen", cpuFlags: avx512) == nil)
        #expect(BLASCore.betterCore(than: "Haswell", cpuFlags: avx512) == nil)
        #expect(BLASCore.betterCore(than: "Prescott", cpuFlags: ["fpu", "sse2", "sse3"]) == nil)
    }

    @Test func flagsAreReadFromTheFirstProcessor() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cpuinfo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        processor\t: 0
        model name\t: Test CPU
        flags\t\t: fpu avx2 fma
        processor\t: 1
        flags\t\t: fpu
        """.write(to: file, atomically: true, encoding: .utf8)
        #expect(BLASCore.cpuFlags(cpuinfo: file.path) == ["fpu", "avx2", "fma"])
        #expect(BLASCore.cpuFlags(cpuinfo: "/nonexistent/cpuinfo").isEmpty)
    }
}
