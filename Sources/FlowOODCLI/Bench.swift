import ArgumentParser
import Foundation
import Tensor
import NN
import OOD
import Flows

/// `flowood bench`: throughput of the reference models, measured like
/// shared/bench/reference/torch_flows.py (synthetic batch, warm-up, median of repeats).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure train and eval throughput of the reference models.",
        discussion: """
        Prints one JSON line per benchmark with the same fields as the PyTorch reference \
        (name, threads, batch, params, train_items_per_s, eval_items_per_s). The thread count \
        is FLOWOOD_THREADS (default: all cores). `make bench` runs this beside the reference.
        """)

    @Option(help: "Comma-separated benchmarks: cnn-fmnist, realnvp-fmnist-small, glow-latent-512 (the reference models); gemm, conv, linalg (kernel micro-benchmarks).")
    var bench: String = "cnn-fmnist"

    @Option(help: "Timed repeats per measurement (median is reported).")
    var reps: Int = 7

    @Flag(help: "Measure process CPU time instead of wall-clock time (for profiling on a busy machine with FLOWOOD_THREADS=1; not comparable with the reference).")
    var cpuTime = false

    func run() throws {
        Bench.clock = cpuTime ? .processCPU : .wall
        for name in bench.split(separator: ",").map(String.init) {
            switch name {
            case "cnn-fmnist": print(Bench.cnn(reps: reps))
            case "realnvp-fmnist-small": print(Bench.realNVP(reps: reps))
            case "glow-latent-512": print(Bench.glowLatent(reps: reps))
            case "gemm": Bench.gemm(reps: reps)
            case "conv": Bench.conv(reps: reps)
            case "linalg": Bench.linalg(reps: reps)
            default: throw ValidationError("unknown benchmark '\(name)'; available: cnn-fmnist, realnvp-fmnist-small, glow-latent-512, gemm, conv, linalg")
            }
        }
    }

    enum Clock { case wall, processCPU }
    nonisolated(unsafe) static var clock = Clock.wall

    static func now() -> Double {
        switch clock {
        case .wall: return Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        case .processCPU:
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
    }

    /// Median seconds per call of `step` over `reps` repeats of `iters` calls, after `warmup`.
    static func time(warmup: Int, iters: Int, reps: Int, _ step: () -> Void) -> Double {
        for _ in 0..<warmup { step() }
        var per: [Double] = []
        for _ in 0..<reps {
            let t0 = now()
            for _ in 0..<iters { step() }
            per.append((now() - t0) / Double(iters))
        }
        per.sort()
        return per[per.count / 2]
    }

    static func cnn(reps: Int) -> String {
        let batch = 128
        var rng = SeededGenerator(seed: 0)
        let model = Classifier(ClassifierConfig())
        let pixels = (0..<(batch * 784)).map { _ in Float(Int(rng.next() % 256)) / 255 }
        let x = Tensor(pixels, shape: [batch, 1, 28, 28])
        let labels = (0..<batch).map { _ in Int(rng.next() % 10) }
        let opt = Adam(model.trainableParameters, learningRate: 1e-3)
        func trainStep() {
            model.zeroGrad()
            let loss = model.logits(x).crossEntropy(labels: labels)
            loss.backward()
            opt.step()
            _ = loss.item
        }
        model.setTraining(true)
        trainStep()
        let train = time(warmup: 3, iters: 5, reps: reps, trainStep)
        model.setTraining(false)
        let eval = time(warmup: 3, iters: 10, reps: reps) { withoutGrad { _ = model.logits(x).scalars } }
        return json(name: "cnn-fmnist", batch: batch, params: model.parameterCount, train: train, eval: eval)
    }

    /// GFLOP/s of single GEMMs at the shapes the convolutions use (engine threads).
    static func gemm(reps: Int) {
        var rng = SeededGenerator(seed: 1)
        for (m, k, n) in [(64, 288, 784), (64, 32, 840), (128, 64, 224), (32, 64, 840), (64, 840, 32), (64, 288, 784 * 8), (128, 576, 196), (128, 576, 196 * 16),
                          (288, 64, 784), (64, 784, 288), (512, 512, 512),
                          // glow-latent-512 (batch 256): x·Wᵀ, the coupling's two layers, their weight gradients
                          (256, 512, 512), (256, 256, 2048), (256, 2048, 512), (2048, 256, 256), (512, 256, 2048)] {
            let a = Tensor.randn([m, k], using: &rng), b = Tensor.randn([k, n], using: &rng)
            let t = time(warmup: 2, iters: 10, reps: reps) { _ = withoutGrad { a.matmul(b) } }
            print(String(format: "gemm %4d x %4d x %5d: %6.1f GFLOP/s", m, k, n, 2.0 * Double(m * n * k) / t / 1e9))
        }
        for (m, k, n) in [(64, 840, 32), (128, 224, 64), (64, 784, 288), (128, 196, 576)] {
            let a = Tensor.randn([m, k], using: &rng), b = Tensor.randn([n, k], using: &rng)
            let t = time(warmup: 2, iters: 10, reps: reps) { _ = withoutGrad { a.matmul(b.transposed()) } }
            print(String(format: "gemm %4d x %4d x %5d (B transposed): %6.1f GFLOP/s", m, k, n, 2.0 * Double(m * n * k) / t / 1e9))
        }
    }

    /// Forward and backward time of single 3×3 convolutions at the cnn-fmnist (batch 128) and
    /// realnvp-fmnist-small (batch 64) shapes, in GFLOP/s (2 FLOP per multiply-add, backward
    /// counted as twice the forward).
    static func conv(reps: Int) {
        var rng = SeededGenerator(seed: 2)
        for (batch, cin, cout, hw) in [(128, 1, 32, 28), (128, 32, 64, 28), (128, 64, 128, 14),
                                       (64, 1, 64, 28), (64, 64, 64, 28), (64, 64, 2, 28),
                                       (64, 2, 64, 14), (64, 64, 64, 14), (64, 64, 4, 14)] {
            let x = Tensor.randn([batch, cin, hw, hw], using: &rng).requiringGrad()
            let w = Tensor.randn([cout, cin, 3, 3], using: &rng).requiringGrad()
            let b = Tensor.randn([cout], using: &rng).requiringGrad()
            let flops = 2.0 * Double(batch * cout * hw * hw * cin * 9)
            let f = time(warmup: 1, iters: 3, reps: reps) { _ = withoutGrad { x.conv2d(w, bias: b, padding: 1) } }
            let seed = Tensor.ones([batch, cout, hw, hw])
            let fb = time(warmup: 1, iters: 3, reps: reps) { x.conv2d(w, bias: b, padding: 1).backward(seed: seed) }
            print(String(format: "conv b%d %3d->%3d @%dx%d: forward %6.1f ms (%5.1f GFLOP/s), forward+backward %6.1f ms (%5.1f GFLOP/s)",
                         batch, cin, cout, hw, hw, f * 1e3, flops / f / 1e9, fb * 1e3, 3 * flops / fb / 1e9))
        }
    }

    /// log|det W| of a 512×512 matrix (LU only) and with its gradient W⁻ᵀ (LU + inverse).
    static func linalg(reps: Int) {
        var rng = SeededGenerator(seed: 3)
        for n in [64, 512] {
            let w = (Tensor.randn([n, n], std: 1 / Double(n).squareRoot(), using: &rng)
                     + Tensor((0..<(n * n)).map { $0 % (n + 1) == 0 ? 1.0 : 0.0 }, shape: [n, n], dtype: .float32)).requiringGrad()
            let f = time(warmup: 1, iters: 5, reps: reps) { _ = withoutGrad { w.logAbsDeterminant().item } }
            let fb = time(warmup: 1, iters: 5, reps: reps) { w.logAbsDeterminant().backward() }
            print(String(format: "logAbsDeterminant %dx%d: forward %7.3f ms, forward+backward %7.3f ms", n, n, f * 1e3, fb * 1e3))
        }
    }

    /// Flow training step: Adam on the mean negative log-likelihood in nats, as the reference.
    static func flowBench(name: String, flow: any FlowLayer, x: Tensor, reps: Int,
                          train: (warmup: Int, iters: Int), eval: (warmup: Int, iters: Int)) -> String {
        let opt = Adam(flow.trainableParameters, learningRate: 1e-4)
        func trainStep() {
            flow.zeroGrad()
            let loss = -flow.logLikelihood(of: x).mean()
            loss.backward()
            opt.step()
            _ = loss.item
        }
        flow.setTraining(true)
        trainStep()  // also runs ActNorm's data-dependent initialisation
        let t = time(warmup: train.warmup, iters: train.iters, reps: reps, trainStep)
        flow.setTraining(false)
        let e = time(warmup: eval.warmup, iters: eval.iters, reps: reps) { withoutGrad { _ = flow.logLikelihood(of: x).scalars } }
        return json(name: name, batch: x.shape[0], params: flow.parameterCount, train: t, eval: e)
    }

    static func realNVP(reps: Int) -> String {
        var rng = SeededGenerator(seed: 0)
        let batch = 64
        let pixels = (0..<(batch * 784)).map { _ in Float(Int(rng.next() % 256)) / 255 }
        let x = Tensor(pixels, shape: [batch, 1, 28, 28])
        return flowBench(name: "realnvp-fmnist-small", flow: RealNVP(config: RealNVPConfig()), x: x, reps: reps,
                         train: (2, 2), eval: (2, 3))
    }

    static func glowLatent(reps: Int) -> String {
        var rng = SeededGenerator(seed: 0)
        let flow = VectorFlows.glowLatent(features: 512, blocks: 10, hidden: 2048, using: &rng)
        let x = Tensor.randn([256, 512], mean: 0.5, std: 2, using: &rng)
        return flowBench(name: "glow-latent-512", flow: flow, x: x, reps: reps, train: (3, 5), eval: (3, 10))
    }

    static func json(name: String, batch: Int, params: Int, train: Double, eval: Double) -> String {
        String(format: "{\"name\": \"%@\", \"engine\": \"flowood\", \"threads\": %d, \"batch\": %d, \"params\": %d, \"train_items_per_s\": %.2f, \"eval_items_per_s\": %.2f, \"train_step_s_median\": %.5f, \"eval_batch_s_median\": %.5f}",
               name, Engine.threads, batch, params, Double(batch) / train, Double(batch) / eval, train, eval)
    }
}
