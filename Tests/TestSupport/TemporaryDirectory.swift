import Foundation

/// Runs `body` with a fresh directory under the system temporary directory, removed when `body`
/// returns or throws.
///
/// - Parameter body: receives the directory's URL (use `.path` where a path string is wanted).
/// - Returns: what `body` returns.
public func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowood-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}
