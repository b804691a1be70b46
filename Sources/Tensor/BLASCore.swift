import Foundation
#if !canImport(Accelerate)
import CBLAS
#endif

/// Which OpenBLAS kernels run, and a correction for CPUs the library does not recognise.
///
/// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels by CPU model when it is loaded.
/// A model newer than the library (Debian 12's 0.3.21 on an Emerald Rapids Xeon, for one) falls
/// back to the generic `Prescott` SSE3 kernels, which run GEMM about four times slower than the
/// AVX-512 ones the CPU supports. The choice can only be changed before the library loads, through
/// `OPENBLAS_CORETYPE`, so `flowood` re-executes itself once with that variable set
/// (`reexecutingWithBetterCoreIfNeeded`). Set `OPENBLAS_CORETYPE` yourself to choose a core.
public enum BLASCore {
    /// Environment variable that records the core OpenBLAS chose before `flowood` overrode it.
    public static let fallbackVariable = "FLOWOOD_BLAS_FALLBACK_CORE"

    #if canImport(Accelerate)
    public static var configuration: String { "Accelerate" }
    public static var name: String { "Accelerate" }
    #else
    /// A short description of the BLAS library in use (OpenBLAS's build configuration).
    public static var configuration: String { String(cString: openblas_get_config()) }
    /// The kernel set OpenBLAS uses in this process ("SkylakeX", "Haswell", "Prescott", ...).
    public static var name: String { String(cString: openblas_get_corename()) }
    #endif

    /// The core to request instead of `current`, or nil to keep it: only when `current` is one
    /// of OpenBLAS's generic fallbacks and the CPU's flags (as in /proc/cpuinfo) support a
    /// better kernel set. The flags are read only when `current` is such a fallback.
    public static func betterCore(than current: String, cpuFlags readFlags: @autoclosure () -> Set<String>) -> String? {
        let fallbacks: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "katmai",
                                      "coppermine", "northwood", "banias", "atom", "unknown"]
        guard fallbacks.contains(current.lowercased()) else { return nil }
        let flags = readFlags()
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        if avx512.allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma", "avx"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// The flags of the first processor in /proc/cpuinfo (empty where there is no such file).
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// When OpenBLAS fell back to a generic core on a CPU that supports a better one and the user
    /// has not chosen a core, re-executes this program (same arguments) with `OPENBLAS_CORETYPE`
    /// set; returns only when no re-execution is needed or it failed. Linux only; call it first
    /// thing in `main`, before anything is printed.
    public static func reexecutingWithBetterCoreIfNeeded() {
        #if os(Linux)
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[fallbackVariable] == nil else { return }
        let current = name
        guard let better = betterCore(than: current, cpuFlags: cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", better, 1)
        setenv(fallbackVariable, current, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: it failed. Go on with the library's own choice.
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(fallbackVariable)
        #endif
    }

    /// One line for `flowood info`: the core, and why when flowood chose it.
    public static var summary: String {
        if let fallback = ProcessInfo.processInfo.environment[fallbackVariable] {
            return "\(name) (OPENBLAS_CORETYPE set by flowood: OpenBLAS chose \(fallback) on this CPU)"
        }
        return name
    }
}
