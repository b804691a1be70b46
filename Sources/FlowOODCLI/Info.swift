import ArgumentParser
import Foundation
import Tensor
import OOD
import CCairo
import CPangoCairo
import CCmarkGFM

/// `flowood info`: versions of the libraries in use and where data is looked for.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the engine's threads, BLAS, Cairo/Pango/cmark-gfm versions and data locations.")

    @Option(help: "Data directory to check (default: FLOWOOD_DATA, then /usr/share/datasets/fashion-mnist).")
    var dataDir: String?

    func run() throws {
        print("threads      \(Engine.threads)")
        print("blas         \(BLASCore.configuration)")
        print("blas core    \(BLASCore.summary)")
        print("cairo        \(String(cString: cairo_version_string()))")
        print("pango        \(String(cString: pango_version_string()))")
        print("cmark-gfm    \(String(cString: cmark_version_string()))")
        let dir = FashionMNIST.directory(override: dataDir)
        let ok = FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("train-images-idx3-ubyte.gz"))
        print("fashion-mnist \(dir) \(ok ? "(found)" : "(missing: apt-get install dataset-fashion-mnist, or --data-dir)")")
    }
}
