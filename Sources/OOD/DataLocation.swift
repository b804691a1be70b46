import Foundation

/// Where packaged data sets are looked for: an explicit option, then the data root named by
/// `FLOWOOD_DATA` (with one subfolder per data set), then the Debian package's location.
enum DataLocation {
    /// `root/subdirectory` when that exists and is a directory, else nil.
    static func subdirectory(_ subdirectory: String, of root: String) -> String? {
        let candidate = (root as NSString).appendingPathComponent(subdirectory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        return candidate
    }
}
