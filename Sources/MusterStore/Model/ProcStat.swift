import Foundation

/// A process's `/proc/PID/stat`, read past its command name (which may hold spaces and
/// parentheses, so it is cut at the last ")"): field 0 is the state, 1 the parent's pid, 2 the
/// process group, 19 the start time in clock ticks after boot. nil when it cannot be read.
public enum ProcStat {
    public static func fields(_ pid: Int32) -> [Substring]? { fields(entry: String(pid)) }

    /// `entry`: a name listed in /proc (a pid).
    public static func fields(entry: String) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
