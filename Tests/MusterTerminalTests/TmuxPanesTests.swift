import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterTerminal

/// TmuxPanes against a real tmux server on a private socket (killed at the end).
@Suite(.enabled(if: Tmux.isInstalled)) struct TmuxPanesTests {
    @Test func panesFollowRunningTasksAndNeverTouchOtherWindows() async throws {
        let socket = "muster-test-\(UUID().uuidString.prefix(8))"
        let tmux = Tmux(socket: socket)
        defer {
            _ = try? tmux.run(["kill-server"])
            let dir = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
            try? FileManager.default.removeItem(atPath: "\(dir)/tmux-\(getuid())/\(socket)")
        }
        let (store, dir) = try Fixture.scratchStore()
        let tasks = (1...5).map { Fixture.task("t\($0)", group: "t", agent: "shell") }
        try await store.createRun(NewRun(id: "tp", workflow: Workflow(name: "tp", tasks: []), specPath: "w.yml", root: dir.path,
                                         concurrency: 5, simulate: false, createdAt: Date()), tasks: tasks)
        let panes = TmuxPanes(tmux: tmux, run: "tp", root: dir.path, panesPerWindow: 3, closeDelay: 0.5)
        #expect(try panes.ensureSession(dashboard: ["sleep", "600"]))
        #expect(try !panes.ensureSession(dashboard: ["sleep", "600"]), "an existing session is reused")
        // A window of the person's own in the same session, split in two.
        let own = try tmux.run(["new-window", "-d", "-t", "=muster-tp:", "-P", "-F", "#{window_id}", "sleep", "600"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try tmux.run(["split-window", "-d", "-h", "-t", own, "sleep", "600"])
        let ownLayout = try tmux.run(["display-message", "-p", "-t", own, "#{window_layout}"])
        let active = try tmux.run(["display-message", "-p", "-t", "=muster-tp:", "#{pane_id}"])

        func taskPanes() throws -> [TmuxPanes.Pane] { try panes.panes().filter { $0.task != nil } }

        let claimed = try await store.claim(run: "tp", holder: "h", limit: 5, leaseSeconds: 60, now: Date())
        try panes.sync(tasks: try await store.tasks(run: "tp"), now: Date())
        let open = try taskPanes()
        #expect(Set(open.compactMap(\.task)) == ["t1", "t2", "t3", "t4", "t5"])
        #expect(open.allSatisfy { $0.ownWindow })
        // 3 panes a window: the dashboard's window takes 2 tasks, then 3 in a second window.
        #expect(Dictionary(grouping: try panes.panes().filter(\.ownWindow), by: \.window).values.map(\.count).sorted() == [3, 3])
        #expect(try tmux.run(["display-message", "-p", "-t", own, "#{window_layout}"]) == ownLayout, "the person's window is untouched")
        #expect(try tmux.run(["display-message", "-p", "-t", "=muster-tp:", "#{pane_id}"]) == active, "the focus did not move")
        #expect(try tmux.run(["list-panes", "-t", own]).split(separator: "\n").count == 2)

        // Two tasks end: their panes stay a moment, then close.
        _ = try await store.finish(run: "tp", holder: "h", claimed.prefix(2).map {
            TaskOutcome(task: $0.task.id, attempt: $0.task.attempt, result: .succeeded)
        }, now: Date())
        let ended = Date()
        try panes.sync(tasks: try await store.tasks(run: "tp"), now: ended)
        #expect(try taskPanes().count == 5)
        try panes.sync(tasks: try await store.tasks(run: "tp"), now: ended.addingTimeInterval(1))
        #expect(Set(try taskPanes().compactMap(\.task)) == ["t3", "t4", "t5"])
        #expect(try tmux.run(["display-message", "-p", "-t", own, "#{window_layout}"]) == ownLayout)

        // A pane the person closes is not reopened for the same attempt.
        let t3 = try #require(try taskPanes().first { $0.task == "t3" })
        try tmux.run(["kill-pane", "-t", t3.id])
        try panes.sync(tasks: try await store.tasks(run: "tp"), now: Date())
        #expect(Set(try taskPanes().compactMap(\.task)) == ["t4", "t5"])

        // The log shows up in the pane.
        let t4 = try #require(try taskPanes().first { $0.task == "t4" })
        let log = DashboardFeed.outputLog(root: dir.path, run: "tp", task: "t4")
        try FileManager.default.createDirectory(atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "hello from t4\n".write(toFile: log, atomically: true, encoding: .utf8)
        #expect(try await eventually(timeout: 5) {
            try tmux.run(["capture-pane", "-p", "-t", t4.id]).contains("hello from t4")
        }, "the task's log never showed in its pane")

        // The dashboard was quit: opening the session again brings a dashboard back.
        let dash = try #require(try panes.panes().first { $0.task == nil && $0.ownWindow })
        try tmux.run(["kill-pane", "-t", dash.id])
        #expect(try !panes.ensureSession(dashboard: ["sleep", "600"]))
        #expect(try tmux.run(["list-panes", "-s", "-t", "=muster-tp", "-F", "#{@muster-role}"]).contains("dash"))
    }
}
