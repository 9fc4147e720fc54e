import Foundation
import MusterCore
import MusterPostgres
import MusterStore
import MusterTestKit
import Testing

/// `muster_finish` applies a batch's outcomes before it takes the run's lock (migration pg10), then
/// checks the run's holder again under the lock. A takeover that commits in between must undo the
/// whole finish: nothing of the replaced holder's batch applies, and the call answers "rejected".
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct FinishUnderTakeoverTests {
    @Test(.timeLimit(.minutes(3)))
    func aTakeoverWhileAFinishWaitsForTheRunLockUndoesTheFinish() async throws {
        let run = "takeover-" + UUID().uuidString.prefix(8).lowercased()  // advisory locks are per database, not per schema
        let base = try #require(ManyHostsFixture.postgresURL)
        let (url, schema) = ManyHostsFixture.freshSchema(on: base)
        let store = try await PostgresStore(url: url)
        let tasks = ["a", "b"].map { PlannedTask(id: $0, group: $0, agent: "shell", command: Command(argv: ["true"])) }
        try await store.createRun(NewRun(id: run, workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                         concurrency: 2, simulate: false, createdAt: Date()), tasks: tasks)
        let now = try await store.databaseNow()
        let old = ProcessIdentity(id: "old", host: "h", pid: 1)
        guard case .acquired = try await store.acquireRun(run, holder: old, leaseSeconds: 600, now: now) else {
            Issue.record("the run was not acquired")
            return
        }
        let claimed = try await store.claim(run: run, holder: "old", limit: 2, leaseSeconds: 600, now: now)
        try #require(claimed.count == 2)
        let lock = try await HeldTableLock.takeRunLock(run)
        let finish = Task {
            try await store.finish(run: run, holder: "old", claimed.map {
                TaskOutcome(task: $0.task.id, attempt: $0.task.attempt, result: .succeeded)
            }, now: now)
        }
        // The finish has applied its UPDATE and waits for the run's lock.
        let waiting = try await eventually(timeout: 30) { try await !HeldTableLock.waiting(application: "muster/\(schema)").isEmpty }
        try #require(waiting, "the finish never waited for the run's lock")
        _ = try await lock.query("UPDATE \(schema).runs SET holder = 'new', holder_epoch = holder_epoch + 1 WHERE id = '\(run)'")
        await lock.release()
        let report = try await finish.value
        #expect(report.applied.isEmpty && Set(report.rejected) == ["a", "b"], "\(report)")
        let after = try await store.tasks(run: run)
        #expect(after.allSatisfy { $0.state == .running && $0.holder == "old" }, "\(after.map { ($0.id, $0.state, $0.holder) })")
        let finished = try await store.events(run: run, after: 0, limit: 100).filter { $0.task != nil }
        #expect(finished.isEmpty, "events of an undone finish: \(finished.map(\.kind))")
        try await store.dropSchema()
        store.close()
    }
}
