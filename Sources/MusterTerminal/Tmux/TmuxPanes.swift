import Foundation
import MusterStore

/// Keeps a tmux session `muster-<run>` in step with a run: the dashboard in the first pane, one
/// pane per running task showing `tail -F` of its output.log. A pane opens when its task starts
/// and closes `closeDelay` seconds after it ends; muster's windows re-tile; tasks that do not fit
/// (`panesPerWindow`) go to extra windows.
///
/// It only ever touches the session's windows it made (marked with the `@muster-window` option):
/// new panes and windows are created with `-d` (focus stays where the person is typing), nothing
/// is selected, and nothing is typed into any pane (no `send-keys`).
public final class TmuxPanes {
    public let tmux: Tmux
    public let run: String
    public let root: String
    public var panesPerWindow: Int
    public var closeDelay: TimeInterval
    /// Task id → when it was first seen no longer running.
    var ended: [String: Date] = [:]
    /// Task id → the attempt a pane was opened for: a pane the person closed is not reopened.
    var opened: [String: Int] = [:]

    public init(tmux: Tmux, run: String, root: String, panesPerWindow: Int = 8, closeDelay: TimeInterval = 3) {
        self.tmux = tmux
        self.run = run
        self.root = root
        self.panesPerWindow = max(2, panesPerWindow)
        self.closeDelay = closeDelay
    }

    public static func sessionName(run: String) -> String {
        "muster-" + String(run.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    public var session: String { Self.sessionName(run: run) }

    /// Creates the session with `dashboard` (an argv) in its first pane, unless it exists; an existing
    /// session whose dashboard was quit gets a new dashboard window (it is what keeps the panes in step).
    /// Returns true when it created the session.
    @discardableResult
    public func ensureSession(dashboard: [String], width: Int = 200, height: Int = 50) throws -> Bool {
        if tmux.hasSession(session) {
            let roles = try tmux.run(["list-panes", "-s", "-t", "=" + session, "-F", "#{@muster-role}"])
            if !roles.split(separator: "\n").contains("dash") {
                let out = try tmux.run(["new-window", "-d", "-t", "=" + session + ":", "-n", "dash", "-c", root, "-P", "-F",
                                        "#{window_id}\t#{pane_id}"] + dashboard)
                let ids = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").map(String.init)
                if ids.count == 2 {
                    try markWindow(ids[0])
                    try tmux.run(["set-option", "-p", "-t", ids[1], "@muster-role", "dash"])
                }
            }
            return false
        }
        let out = try tmux.run(["new-session", "-d", "-s", session, "-n", "dash", "-x", "\(width)", "-y", "\(height)",
                                "-c", root, "-P", "-F", "#{window_id}\t#{pane_id}"] + dashboard)
        let ids = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").map(String.init)
        guard ids.count == 2 else { throw TerminalError.tmux(command: "new-session", message: "unexpected output \(out)") }
        try markWindow(ids[0])
        try tmux.run(["set-option", "-p", "-t", ids[1], "@muster-role", "dash"])
        return true
    }

    func markWindow(_ window: String) throws {
        try tmux.run(["set-option", "-w", "-t", window, "@muster-window", "1"])
        try tmux.run(["set-option", "-w", "-t", window, "pane-border-status", "top"])
        try tmux.run(["set-option", "-w", "-t", window, "pane-border-format", " #{pane_title} "])
    }

    public struct Pane: Equatable, Sendable {
        public var id: String
        public var window: String
        public var task: String?
        public var ownWindow: Bool
    }

    /// Every pane of the session.
    public func panes() throws -> [Pane] {
        let out = try tmux.run(["list-panes", "-s", "-t", "=" + session, "-F", "#{pane_id}\t#{window_id}\t#{@muster-task}\t#{@muster-window}"])
        return out.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4 else { return nil }
            return Pane(id: f[0], window: f[1], task: f[2].isEmpty ? nil : f[2], ownWindow: f[3] == "1")
        }
    }

    /// Opens panes for tasks that started and closes those of tasks that ended `closeDelay` ago.
    public func sync(tasks: [TaskRecord], now: Date) throws {
        guard tmux.hasSession(session) else { return }
        let running = tasks.filter { $0.state == .running }
        var panes = try panes()
        var touched = Set<String>()
        // Close the panes of tasks that ended a few seconds ago.
        for pane in panes {
            guard let task = pane.task else { continue }
            if let record = running.first(where: { $0.id == task }) {
                opened[task] = record.attempt
                ended[task] = nil
                continue
            }
            let since = ended[task] ?? now
            ended[task] = since
            if now.timeIntervalSince(since) >= closeDelay {
                _ = try? tmux.run(["kill-pane", "-t", pane.id])
                ended[task] = nil
                touched.insert(pane.window)
                panes.removeAll { $0.id == pane.id }
            }
        }
        // Open a pane for every running task without one.
        let shown = Set(panes.compactMap(\.task))
        for task in running where !shown.contains(task.id) && opened[task.id] != task.attempt {
            let pane = try open(task, panes: panes)
            opened[task.id] = task.attempt
            panes.append(pane)
            touched.insert(pane.window)
        }
        let live = Set(panes.map(\.window))
        for window in touched where live.contains(window) {
            _ = try? tmux.run(["select-layout", "-t", window, "tiled"])
        }
    }

    /// The command a task pane runs: its title, then the log as it grows. `--pid` ends the tail
    /// when the agent exits (a pane closes even if nobody manages the session any more).
    func paneCommand(_ task: TaskRecord) -> [String] {
        let log = DashboardFeed.outputLog(root: root, run: run, task: task.id)
        let local = task.host == nil || task.host == ProcessInfo.processInfo.hostName
        let script = """
            printf '\\033]2;%s\\033\\\\' "$1"
            if [ -n "$3" ]; then tail -n 200 -F --pid="$3" "$2" 2>/dev/null; sleep \(Int(closeDelay.rounded(.up)) + 2); else exec tail -n 200 -F "$2"; fi
            """
        return ["/bin/sh", "-c", script, "muster-pane", task.id, log, local ? task.pid.map(String.init) ?? "" : ""]
    }

    func open(_ task: TaskRecord, panes: [Pane]) throws -> Pane {
        var perWindow: [String: Int] = [:]
        var order: [String] = []
        for pane in panes where pane.ownWindow {
            if perWindow[pane.window] == nil { order.append(pane.window) }
            perWindow[pane.window, default: 0] += 1
        }
        var created: Pane?
        for window in order where perWindow[window, default: 0] < panesPerWindow {
            if let out = try? tmux.run(["split-window", "-d", "-t", window, "-c", root, "-P", "-F", "#{pane_id}"] + paneCommand(task)) {
                created = Pane(id: out.trimmingCharacters(in: .whitespacesAndNewlines), window: window, task: task.id, ownWindow: true)
                break
            }
            // No room (a small terminal): re-tile and try the next window, or a new one.
            _ = try? tmux.run(["select-layout", "-t", window, "tiled"])
        }
        if created == nil {
            let out = try tmux.run(["new-window", "-d", "-t", "=" + session + ":", "-n", "tasks", "-c", root, "-P", "-F",
                                    "#{window_id}\t#{pane_id}"] + paneCommand(task))
            let ids = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").map(String.init)
            guard ids.count == 2 else { throw TerminalError.tmux(command: "new-window", message: "unexpected output \(out)") }
            try markWindow(ids[0])
            created = Pane(id: ids[1], window: ids[0], task: task.id, ownWindow: true)
        }
        let pane = created!
        try tmux.run(["set-option", "-p", "-t", pane.id, "@muster-task", task.id])
        return pane
    }
}
