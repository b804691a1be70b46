public enum NNVersion { public static let version = "0.1.0" }
