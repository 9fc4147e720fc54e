import Foundation
import MusterCore
import MusterPostgres
import MusterStore
import Testing

/// What is PostgreSQL's own: migrations, the clock, opening by URL, refusing bad addresses.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresStoreTests {
    @Test func migrationsAreRecordedByNameAndAppliedOnce() async throws {
        try await PostgresTestDatabase.withFreshStore { store, url in
            let names = try await store.appliedMigrations()
            #expect(names == ["pg1-runs-tasks-events-workers", "pg2-messages", "pg3-limits", "pg4-finish-function",
                             "pg5-slot-function", "pg6-agent-facts", "pg7-notify-changes", "pg8-set-based-finish",
                             "pg9-task-labels", "pg10-finish-run-lock-late"])
            // A second process opening the same schema applies nothing again and sees the same data.
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            _ = try await store.startCooldown(key: "k", attempt: 1, now: t0)
            let again = try await PostgresStore(url: url)
            defer { again.close() }
            #expect(try await again.appliedMigrations() == names)
            #expect(try await again.cooldown(key: "k", now: t0) != nil)
        }
    }

    @Test func databaseClockIsNearThisHosts() async throws {
        try await PostgresTestDatabase.withFreshStore { store, _ in
            let now = try await store.databaseNow()
            // Same machine: the two clocks agree to well under a minute (not a timing assertion on muster's speed).
            #expect(abs(now.timeIntervalSinceNow) < 60)
        }
    }

    /// A host whose clock runs an hour ahead (or behind) reads the server's clock through `clock`,
    /// so it neither takes a lease that has not run out nor keeps one that has. Clocks here agree to
    /// well under a minute; the skews are an hour.
    @Test(arguments: [3600.0, -3600.0])
    func aHostWithASkewedClockJudgesLeasesByTheServers(skew: Double) async throws {
        try await PostgresTestDatabase.withFreshStore { store, url in
            let skewed = try await PostgresStore(location: try PostgresLocation(url: url), hostClock: { Date().addingTimeInterval(skew) })
            defer { skewed.close() }
            let server = try await store.databaseNow()
            #expect(abs(skewed.clock().timeIntervalSince(server)) < 60, "skewed host reads \(skewed.clock()), server \(server)")
            let tasks = ["a", "b"].map { PlannedTask(id: $0, group: $0, agent: "shell", command: Command(argv: ["true"])) }
            try await store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                             concurrency: 2, simulate: false, createdAt: store.clock()), tasks: tasks)
            let held = try await store.claim(run: "r1", holder: "right", limit: 1, leaseSeconds: 600, now: store.clock())
            try #require(held.count == 1)
            // Ten minutes of lease left: the skewed host takes only the other task.
            let taken = try await skewed.claim(run: "r1", holder: "skewed", limit: 2, leaseSeconds: 600, now: skewed.clock())
            #expect(taken.map(\.task.id) == ["b"], "the skewed host took \(taken.map(\.task.id))")
        }
    }

    @Test func storeLocatorOpensPostgresForURLsAndSQLiteForPaths() async throws {
        let url = try PostgresTestDatabase.freshURL()
        let store = try await StoreLocator.open(url)
        #expect(store is PostgresStore)
        try await (store as? PostgresStore)?.dropSchema()
        (store as? PostgresStore)?.close()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-locator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try await StoreLocator.open(dir.appendingPathComponent("muster.db").path) is SQLiteStore)
    }

    @Test func unreachableServerIsOneClearLine() async throws {
        // A port nothing listens on (the test cluster's, plus one, is as good as any on loopback).
        var location = try PostgresLocation(url: try PostgresTestDatabase.requireURL())
        location.port = location.port == 65535 ? 1 : location.port + 1
        do {
            _ = try await PostgresStore(location: location)
            Issue.record("opened a store where nothing listens")
        } catch let error as StoreError {
            #expect("\(error)".contains("cannot be reached"), "\(error)")
        }
    }
}

/// URL parsing needs no server.
@Suite struct PostgresLocationTests {
    @Test func parsesUserHostPortDatabaseAndOptions() throws {
        let location = try PostgresLocation(url: "postgres://muster:secret@db.internal:6543/work?schema=team_a&pool=8")
        #expect(location.user == "muster" && location.password == "secret" && location.host == "db.internal")
        #expect(location.port == 6543 && location.database == "work" && location.schema == "team_a" && location.poolSize == 8)
        #expect(!location.description.contains("secret"), "the password must not be printed")
        #expect(try PostgresLocation(url: "postgresql://u@h/db").poolSize == PostgresLocation.defaultPoolSize)
    }

    @Test(arguments: ["postgres://u@h", "postgres://u@h/db?schema=Bad-Name", "postgres://u@h/db?pool=0",
                      "postgres://u@h/db?sslmode=require", "postgres://u@h/db?colour=blue"])
    func refusesWhatItCannotUse(_ url: String) throws {
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(url: url) }
    }

    @Test func locatorTellsURLsFromPaths() throws {
        #expect(try StoreLocator.kind(of: "/tmp/x/muster.db") == .sqlite(path: "/tmp/x/muster.db"))
        guard case .postgres = try StoreLocator.kind(of: "postgres://u@127.0.0.1:5432/db") else {
            Issue.record("a postgres URL was taken for a path")
            return
        }
    }
}
