import Foundation

/// A one-line progress bar on standard error: epoch, step, loss, items per second and ETA.
///
/// On a terminal the line is redrawn in place; otherwise (CI logs) a line is printed at most
/// every `logInterval` seconds and at the end of each epoch.
public final class ProgressBar {
    public let label: String
    public let total: Int
    public let unit: String
    let start = Date()
    var lastDraw = Date.distantPast
    let isTTY = isatty(2) != 0
    let logInterval: TimeInterval
    public private(set) var done = 0
    public var quiet = false

    public init(_ label: String, total: Int, unit: String = "img", logInterval: TimeInterval = 10) {
        self.label = label
        self.total = total
        self.unit = unit
        self.logInterval = logInterval
    }

    /// Advances by `n` items and redraws when due; `fields` are extra "key value" pairs.
    public func advance(by n: Int, fields: KeyValuePairs<String, String> = [:]) {
        done += n
        let now = Date()
        let due = isTTY ? now.timeIntervalSince(lastDraw) > 0.1 : now.timeIntervalSince(lastDraw) > logInterval
        if due || done >= total { draw(fields: fields, final: done >= total); lastDraw = now }
    }

    /// Elapsed seconds.
    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }
    public var rate: Double { Double(done) / Swift.max(elapsed, 1e-9) }

    func draw(fields: KeyValuePairs<String, String>, final: Bool) {
        guard !quiet else { return }
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let width = 24
        let filled = Int((frac * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        var line = "\(label) [\(bar)] \(done)/\(total)"
        for (k, v) in fields { line += " \(k) \(v)" }
        line += String(format: " %.0f %@/s", rate, unit)
        line += final ? " in \(ProgressBar.clock(elapsed))" : " ETA \(ProgressBar.clock(eta))"
        if isTTY {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (final ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// 75 -> "1:15", 3700 -> "1:01:40".
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
