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
        resumes after the last finished epoch; --epochs can be raised to train further. \
        Data come from the catalog (SHA-256 verified): fashion-mnist-train and \
        fashion-mnist-test, or with --classes only the images of those classes \
        (fashion-mnist-classes-<c>-…-train/test), labels remapped to their positions in the \
        list (--classes 2,5 trains a 2-way classifier: class 2 is label 0, class 5 label 1). \
        config.json records the classes ("fashionMNISTClasses"); flowood evaluate then uses \
        them as the in-distribution set and the other classes as `--ood held-out`.
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

    @Option(help: "Train on a seeded random subset of N training images (drawn with --seed; default: all).")
    var subset: Int?

    @Option(help: "Use only the first N training images, after --subset (0 = all).")
    var trainLimit: Int = 0

    @Option(help: "Comma-separated FashionMNIST classes (0-9, at least two) to train on; the others are held out. Labels become positions in this list. (default: all ten)")
    var classes: String?

    @Flag(help: "Augment training images: random shifts of up to 2 pixels and horizontal flips.")
    var augment = false

    @Flag(help: "Ignore an existing run in --out and start again.")
    var restart = false

    /// The classes of --classes, in the order given; nil for all ten.
    var classList: [Int]? {
        get throws {
            guard let classes else { return nil }
            let parts = classes.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values = parts.map { Int($0) }
            guard values.allSatisfy({ $0.map { (0..<10).contains($0) } ?? false }) else {
                throw ValidationError("--classes must list FashionMNIST classes 0-9 separated by commas, got '\(classes)'")
            }
            let list = values.map { $0! }
            guard Set(list).count == list.count else { throw ValidationError("--classes lists a class twice: '\(classes)'") }
            guard list.count >= 2 else { throw ValidationError("--classes needs at least two classes to train a classifier") }
            return list
        }
    }

    func validate() throws {
        _ = try classList
        if let subset, subset < 1 { throw ValidationError("--subset must be at least 1") }
        guard trainLimit >= 0 else { throw ValidationError("--train-limit must be non-negative") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        guard ClassifierArchitecture(rawValue: architecture) != nil else {
            throw ValidationError("unknown --architecture '\(architecture)'; choose cnn-fmnist or resnet-<width> (e.g. \(ClassifierArchitecture.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        try runReportingErrors { try execute() }
    }

    /// The command's work, throwing typed errors (run() prints them as "error: ...").
    func execute() throws {
        let classes = try classList
        let trainSpec: DataSpec = classes.map { .fashionMNISTClasses($0, .train) } ?? .fashionMNIST(.train)
        let testSpec: DataSpec = classes.map { .fashionMNISTClasses($0, .test) } ?? .fashionMNIST(.test)
        let train = try trainSpec.load(count: subset, seed: seed, dataDir: dataDir).images!
        let test = try testSpec.load(seed: seed, dataDir: dataDir).images!
        var options = ClassifierTrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = lr
        options.weightDecay = weightDecay
        options.cosineSchedule = cosine
        options.seed = seed
        options.trainLimit = trainLimit
        options.subset = subset
        options.augment = augment
        let config = ClassifierConfig(architecture: ClassifierArchitecture(rawValue: architecture)!, classes: classes?.count ?? 10,
                                      seed: seed, fashionMNISTClasses: classes)
        let trainer = ClassifierTrainer(config: config, options: options, directory: URL(fileURLWithPath: out))
        let n = trainLimit > 0 ? min(trainLimit, train.count) : train.count
        FileHandle.standardError.write(Data("training \(architecture) (\(Classifier(config).parameterCount) parameters) on \(n) \(trainSpec.key) images, \(Engine.threads) threads\n".utf8))
        let (state, _) = try trainer.run(train: train, test: test, restart: restart)
        let acc = state.history.last?.testAccuracy ?? 0
        print(String(format: "test accuracy %.2f%% on %@ after %d epochs; checkpoint in %@", acc * 100, testSpec.key, state.epochsDone, out))
    }
}
