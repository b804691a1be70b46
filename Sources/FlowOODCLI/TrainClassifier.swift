import ArgumentParser
import Foundation
import Tensor
import NN
import OOD

/// `flowood train-classifier`: trains the cnn-fmnist classifier on FashionMNIST.
struct TrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: "Train an image classifier on FashionMNIST and save a checkpoint.",
        discussion: """
        Trains the cnn-fmnist architecture (93,962 parameters; see shared/bench/reference) or \
        a small ResNet with Adam and a cosine learning-rate schedule, prints a progress bar, \
        evaluates test accuracy after each epoch, and writes model.safetensors, optimizer.safetensors, \
        config.json and state.json into --out after every epoch. Rerunning the same command \
        resumes after the last finished epoch; --epochs can be raised to train further.
        """)

    @Option(help: "Data directory with the FashionMNIST IDX .gz files (default: FLOWOOD_DATA, then /usr/share/datasets/fashion-mnist).")
    var dataDir: String?

    @Option(help: "Output directory for the checkpoint.")
    var out: String = "runs/cnn-fmnist"

    @Option(help: "Architecture: cnn-fmnist, or resnet-<width> (a small ResNet with 4·width features; resnet = resnet-32).")
    var architecture: String = ClassifierArchitecture.cnnFMNIST.rawValue

    @Option(help: "Number of epochs.")
    var epochs: Int = 15

    @Option(help: "Mini-batch size.")
    var batchSize: Int = 128

    @Option(help: "Peak learning rate of Adam.")
    var lr: Double = 3e-3

    @Option(help: "Decoupled weight decay (AdamW style); 0 disables it.")
    var weightDecay: Double = 0

    @Flag(inversion: .prefixedNo, help: "Cosine learning-rate decay over the run.")
    var cosine = true

    @Option(help: "Random seed for initialisation and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Use only the first N training images (0 = all 60,000).")
    var trainLimit: Int = 0

    @Flag(help: "Augment training images: random shifts of up to 2 pixels and horizontal flips.")
    var augment = false

    @Flag(help: "Ignore an existing run in --out and start again.")
    var restart = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        guard ClassifierArchitecture(rawValue: architecture) != nil else {
            throw ValidationError("unknown --architecture '\(architecture)'; choose cnn-fmnist or resnet-<width> (e.g. \(ClassifierArchitecture.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        try runReportingErrors {
            let dir = FashionMNIST.directory(override: dataDir)
            let train = try FashionMNIST.load(.train, directory: dir)
            let test = try FashionMNIST.load(.test, directory: dir)
            var options = ClassifierTrainingOptions()
            options.epochs = epochs
            options.batchSize = batchSize
            options.learningRate = lr
            options.weightDecay = weightDecay
            options.cosineSchedule = cosine
            options.seed = seed
            options.trainLimit = trainLimit
            options.augment = augment
            let config = ClassifierConfig(architecture: ClassifierArchitecture(rawValue: architecture)!, seed: seed)
            let trainer = ClassifierTrainer(config: config, options: options, directory: URL(fileURLWithPath: out))
            FileHandle.standardError.write(Data("training \(architecture) (\(Classifier(config).parameterCount) parameters) on \(trainLimit > 0 ? trainLimit : train.count) images, \(Engine.threads) threads\n".utf8))
            let (state, _) = try trainer.run(train: train, test: test, restart: restart)
            let acc = state.history.last?.testAccuracy ?? 0
            print(String(format: "test accuracy %.2f%% after %d epochs; checkpoint in %@", acc * 100, state.epochsDone, out))
        }
    }
}
