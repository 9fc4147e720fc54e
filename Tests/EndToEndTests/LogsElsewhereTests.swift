import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing

/// A task a worker ran on another host keeps its log there: `muster logs` says which host, and
/// where, instead of printing nothing.
@Suite struct LogsElsewhereTests {
    @Test func logsOfATaskRunOnAnotherHostNameThatHost() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let storePath = h.path("elsewhere.db")
        let store = try SQLiteStore(path: storePath)
        try await store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: h.root.path,
                                         concurrency: 1, simulate: false, createdAt: Date()),
                                  tasks: [PlannedTask(id: "a", group: "a", agent: "shell", command: Command(argv: ["true"]))])
        let claimed = try await store.claim(run: "r1", holder: "w", limit: 1, leaseSeconds: 60, now: Date())
        try await store.recordProcesses(run: "r1", holder: "w", [StartedProcess(task: "a", pid: 4242, pgid: 4242, host: "another-host")], now: Date())
        _ = try await store.finish(run: "r1", holder: "w", [TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .succeeded)],
                                   now: Date())
        let logs = try await h.muster("logs", "r1", "a", "--store", storePath)
        #expect(logs.status == 1, "\(logs.status): \(logs.stdout)\(logs.stderr)")
        #expect(logs.stderr.contains("the log of task a is on another-host, the host that ran it"), "\(logs.stderr)")
        #expect(logs.stderr.contains(".muster/runs/r1/tasks/a/output.log"), "\(logs.stderr)")
    }
}
