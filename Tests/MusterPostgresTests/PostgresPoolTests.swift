import Foundation
import MusterCore
import MusterPostgres
import MusterStore
import Testing

/// The bounded pool: however busy, a store never holds more connections than its `pool`, its LISTEN
/// included, so N workers need at most N × pool of the server's `max_connections`.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresPoolTests {
    @Test func busyStoresNeverHoldMoreConnectionsThanTheirPool() async throws {
        let url = try PostgresTestDatabase.freshURL().replacingOccurrences(of: "pool=4", with: "pool=2")
        let location = try PostgresLocation(url: url)
        let stores = [try await PostgresStore(url: url), try await PostgresStore(url: url), try await PostgresStore(url: url)]
        let probe = try await PostgresStore(url: try PostgresTestDatabase.freshURL())
        defer { for store in stores + [probe] { store.close() } }
        let tasks = (0..<300).map { PlannedTask(id: "t\($0)", group: "t\($0)", agent: "shell", command: Command(argv: ["true"])) }
        try await stores[0].createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                             concurrency: 24, simulate: false, createdAt: Date()), tasks: tasks)
        for store in stores { _ = try await store.watch(run: "r1") }  // each also listens, on one of its own connections
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        async let most = Self.mostConnections(of: location.applicationName, probe: probe, until: { try await stores[0].counts(run: "r1").byState[.succeeded] == 300 })
        // 8 claimers per store, each claiming and finishing one task at a time until none is left.
        let claimed = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in stores {
                for _ in 0..<8 {
                    group.addTask {
                        var mine = 0
                        while let task = try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0).first {
                            _ = try await store.finish(run: "r1", holder: "h", [TaskOutcome(task: task.task.id, attempt: task.task.attempt,
                                                                                           result: .succeeded)], now: t0)
                            mine += 1
                        }
                        return mine
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(claimed == 300)
        let seen = try await most
        #expect(seen > 0, "the probe saw none of the stores' connections")
        #expect(seen <= 3 * location.poolSize, "3 stores of pool \(location.poolSize) held \(seen) connections at once")
        try await probe.dropSchema()
        try await stores[0].dropSchema()
    }

    /// The most connections named `application` the server had at once, sampled until `done`.
    static func mostConnections(of application: String, probe: PostgresStore, until done: @escaping @Sendable () async throws -> Bool) async throws -> Int {
        var most = 0
        repeat {
            most = max(most, try await probe.connectionCount(application: application))
        } while try await !done()
        return max(most, try await probe.connectionCount(application: application))
    }

    @Test func thePoolComesFromTheURLThenMUSTER_PG_POOL() throws {
        #expect(try PostgresLocation(url: "postgres://u@h/db", environment: ["MUSTER_PG_POOL": "12"]).poolSize == 12)
        #expect(try PostgresLocation(url: "postgres://u@h/db?pool=3", environment: ["MUSTER_PG_POOL": "12"]).poolSize == 3)
        #expect(try PostgresLocation(url: "postgres://u@h/db", environment: [:]).poolSize == PostgresLocation.defaultPoolSize)
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(url: "postgres://u@h/db", environment: ["MUSTER_PG_POOL": "0"]) }
    }
}
