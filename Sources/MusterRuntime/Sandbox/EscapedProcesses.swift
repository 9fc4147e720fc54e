import Foundation

/// Without a sandbox, a task's process group is all muster can signal: a `setsid` double-forked
/// daemon leaves it and would outlive the task. When such a task ends, its leftovers are found by the
/// markers every task inherits (`MUSTER_RUN`, `MUSTER_TASK_ID`, `MUSTER_STORE` in /proc/PID/environ)
/// and killed. A process that also cleared its environment (`env -i`) cannot be told apart from
/// anyone else's and escapes this; inside the sandbox the pid namespace takes it down instead.
public enum EscapedProcesses {
    /// Kills the processes still carrying this task's markers; returns how many there were.
    @discardableResult
    public static func stop(run: String, task: String, store: String) -> Int {
        let me = getpid()
        let markers: Set<String> = ["MUSTER_RUN=\(run)", "MUSTER_TASK_ID=\(task)", "MUSTER_STORE=\(store)"]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        var killed = 0
        for entry in entries {
            guard let pid = Int32(entry), pid != me,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            var seen = 0
            for field in data.split(separator: 0) where markers.contains(String(decoding: field, as: UTF8.self)) { seen += 1 }
            if seen == markers.count, kill(pid, SIGKILL) == 0 { killed += 1 }
        }
        return killed
    }
}
