import Foundation
import MusterCore
import MusterPostgres
import MusterStore
import MusterTestKit
import Synchronization
import Testing

/// Stores used as workers use them (a LISTEN each, claimers that claim, append an event and finish,
/// a heartbeat loop) while their server restarts again and again: after every restart every caller
/// makes progress again. A request the driver wrote just as its connection closed used to be lost,
/// leaving its caller waiting forever (a `muster worker` hung after a restart that way, about one
/// run in a hundred of the restart test; here within a few restarts). The abandon bound is set to
/// an hour, so only the watch on closing connections (`HeldConnection`) can save such a caller.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct PostgresRestartCallersTests {
    /// When each caller last finished a call well, and which callers are inside a call now.
    final class Progress: Sendable {
        let seen = Mutex<[String: ContinuousClock.Instant]>([:])
        let calling = Mutex<Set<String>>([])
        func begin(_ name: String) { _ = calling.withLock { $0.insert(name) } }
        func end(_ name: String) { _ = calling.withLock { $0.remove(name) } }
        func record(_ name: String) {
            end(name)
            seen.withLock { $0[name] = .now }
        }
        func behind(_ instant: ContinuousClock.Instant) -> [String] { seen.withLock { $0.filter { $0.value < instant }.keys.sorted() } }
        var count: Int { seen.withLock { $0.count } }
        var inCall: Int { calling.withLock { $0.count } }
    }

    @Test(.timeLimit(.minutes(10)))
    func everyCallerProgressesAfterEveryRestart() async throws {
        let postgres = try await PrivatePostgres()
        var location = try PostgresLocation(url: ManyHostsFixture.freshSchema(on: postgres.url).url, environment: ["MUSTER_PG_ABANDON": "3600"])
        location.reconnectWindow = .seconds(3600)
        var stores: [PostgresStore] = []
        for _ in 0..<3 { stores.append(try await PostgresStore(location: location)) }
        let tasks = (0..<20_000).map { PlannedTask(id: "t\($0)", group: "t\($0)", agent: "shell", command: Command(argv: ["true"])) }
        try await stores[0].createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                             concurrency: 24, simulate: false, createdAt: Date()), tasks: tasks)
        for store in stores { _ = try await store.watch(run: "r1") }
        let progress = Progress()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var callers: [Task<Void, Never>] = []
        for (s, store) in stores.enumerated() {
            for c in 0..<3 {
                let name = "store \(s) claimer \(c)"
                callers.append(Task {
                    while !Task.isCancelled {
                        progress.begin(name)
                        do {
                            if let task = try await store.claim(run: "r1", holder: name, limit: 1, leaseSeconds: 600, now: t0).first {
                                try await store.appendEvent(NewEvent(run: "r1", kind: "test.step", message: name, at: Date()))
                                _ = try await store.finish(run: "r1", holder: name, [TaskOutcome(task: task.task.id, attempt: task.task.attempt,
                                                                                                result: .succeeded)], now: t0)
                            }
                            progress.record(name)
                        } catch { progress.end(name) }
                        // Back-to-back calls: the more requests in flight when a connection closes, the likelier one is lost.
                        await Task.yield()
                    }
                })
            }
            let beat = "store \(s) heartbeat"
            callers.append(Task {
                while !Task.isCancelled {
                    progress.begin(beat)
                    do {
                        _ = try await store.heartbeat(run: "r1", holder: beat, leaseSeconds: 30, now: t0)
                        _ = try await store.runs(limit: 10)
                        progress.record(beat)
                    } catch { progress.end(beat) }
                    await Task.yield()
                }
            })
        }
        defer { for caller in callers { caller.cancel() } }
        let started = try await eventually(timeout: 60) { progress.count == callers.count }
        try #require(started, "not every caller made a first call")
        for restart in 1...8 {
            try await postgres.stop()
            // The server stays down until every caller is inside a call waiting for it, so each one meets the outage.
            let waiting = try await eventually(timeout: 60) { progress.inCall == callers.count }
            try #require(waiting, "restart \(restart): only \(progress.inCall) of \(callers.count) callers waited on the stopped server")
            try await postgres.start()
            let restarted = ContinuousClock.now
            let moved = try await eventually(timeout: 90) { progress.behind(restarted).isEmpty }
            if !moved {
                let sessions = (try? await postgres.query("SELECT pid, state, wait_event, left(query, 60) FROM pg_stat_activity WHERE datname = 'muster_test'")) ?? "?"
                Issue.record("restart \(restart): no progress since by \(progress.behind(restarted)); server sessions:\n\(sessions)")
                break
            }
        }
        for caller in callers { caller.cancel() }
        for store in stores { store.close() }
        await postgres.close()
    }
}
