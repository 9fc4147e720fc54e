import Foundation
import MusterCore
import MusterPostgres
import MusterStore
import Testing

/// LISTEN/NOTIFY: a waiter on a run wakes when the run changes (here a finish from another store,
/// as from another host), not at the end of its fallback poll.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresChangesTests {
    /// Far longer than any wake-up takes: returning false here means no notification came.
    static let fallback: Duration = .seconds(120)

    @Test func aWaiterWakesWhenItsRunChanges() async throws {
        try await PostgresTestDatabase.withFreshStore { store, url in
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            let tasks = [PlannedTask(id: "a", group: "a", agent: "shell", command: Command(argv: ["true"])),
                         PlannedTask(id: "b", group: "b", agent: "shell", command: Command(argv: ["true"]), needs: ["a"])]
            try await store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                             concurrency: 2, simulate: false, createdAt: t0), tasks: tasks)
            #expect(store.signalsChanges)
            let signal = try await store.watch(run: "r1")
            // The listener's first wake-up says it is listening (and that anything before may have changed).
            #expect(await signal.wait(upTo: Self.fallback), "the listener never connected")
            let other = try await PostgresStore(url: url)
            defer { other.close() }
            let claimed = try await other.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0)
            try #require(claimed.map(\.task.id) == ["a"])
            // A claimer with nothing to claim waits; another process finishes `a`, releasing `b`.
            async let woke = signal.wait(upTo: Self.fallback)
            _ = try await other.finish(run: "r1", holder: "h", [TaskOutcome(task: "a", attempt: 1, result: .succeeded)], now: t0)
            #expect(await woke, "no notification reached the waiter")
            #expect(try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0).map(\.task.id) == ["b"])
        }
    }

    @Test func aCancelRequestWakesTheRunsWatchers() async throws {
        try await PostgresTestDatabase.withFreshStore { store, _ in
            try await store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                             concurrency: 1, simulate: false, createdAt: Date()), tasks: [])
            let signal = try await store.watch(run: "r1")
            #expect(await signal.wait(upTo: Self.fallback), "the listener never connected")
            async let woke = signal.wait(upTo: Self.fallback)
            try await store.requestCancel("r1", now: Date())
            #expect(await woke, "no notification reached the waiter")
        }
    }
}
