import Foundation

/// Whether a process on this host still runs. Shared by everything that must tell a live holder
/// (an orchestrator, a lock holder, a task) from a dead one.
public enum ProcessLiveness {
    /// A zombie (exited, not yet reaped) counts as gone: it holds nothing and will never act again.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        guard let fields = ProcStat.fields(pid) else { return true }
        let state = fields.first?.first
        return state != "Z" && state != "X"
    }
}
