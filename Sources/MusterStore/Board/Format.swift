import Foundation

/// Short forms for narrow columns.
public enum Format {
    /// `12s`, `4m05s`, `1h02m`, `3d04h`.
    public static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded(.down))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        return String(format: "%dd%02dh", s / 86400, (s % 86400) / 3600)
    }

    public static func money(_ value: Double) -> String {
        value > 0 && value < 0.01 ? String(format: "$%.4f", value) : String(format: "$%.2f", value)
    }

    public static func tokens(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }
}
