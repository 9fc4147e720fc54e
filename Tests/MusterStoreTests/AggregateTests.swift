import Foundation
import MusterCore
import MusterStore
import Testing

/// The Store's SQL aggregates (what `/metrics` and the boards read) equal the same figures computed
/// from every task record, and hold the values the scenario makes.
@Suite struct AggregateTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let bounds: [Double] = [1, 5, 10, 30]

    /// Run `r1`: a1 and a2 (group a, claude/opus) start at +1 and finish at +5 and +12; b (codex, needs a)
    /// starts at +20 and fails at +30; c (after a1) starts at +20 and runs on. Run `r2` (newer): one
    /// task retried at +40 that starts again at +45 and succeeds at +50.
    static func scenario() async throws -> SQLiteStore {
        let store = try SQLiteStoreConformanceTests.freshStore()
        let workflow = Workflow(name: "agg", concurrency: 4, tasks: [])
        try await store.createRun(NewRun(id: "r1", workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 4, simulate: false,
                                         createdAt: t0), tasks: [
            PlannedTask(id: "a1", group: "a", agent: "claude", model: "opus"),
            PlannedTask(id: "a2", group: "a", agent: "claude", model: "opus"),
            PlannedTask(id: "b", group: "b", agent: "codex", needs: ["a"]),
            PlannedTask(id: "c", group: "c", agent: "claude", model: "opus", after: ["a1"]),
        ])
        let claimedA = try await store.claim(run: "r1", holder: "h", limit: 4, leaseSeconds: 600, now: t0 + 1)
        #expect(claimedA.map(\.task.id).sorted() == ["a1", "a2"])
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a1", attempt: 1, result: .succeeded, usage: TokenUsage(input: 100, output: 10, cacheRead: 1000), costUSD: 0.5),
        ], now: t0 + 5)
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a2", attempt: 1, result: .succeeded, usage: TokenUsage(input: 200, output: 20, cacheWrite: 7), costUSD: 0.25),
        ], now: t0 + 12)
        let claimedB = try await store.claim(run: "r1", holder: "h", limit: 4, leaseSeconds: 600, now: t0 + 20)
        #expect(claimedB.map(\.task.id).sorted() == ["b", "c"])
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "b", attempt: 1, result: .failed(retryAt: nil), error: "exit 1", usage: TokenUsage(input: 5), costUSD: 0.125),
        ], now: t0 + 30)

        try await store.createRun(NewRun(id: "r2", workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 1, simulate: false,
                                         createdAt: t0 + 10), tasks: [PlannedTask(id: "x", group: "x", agent: "shell", retries: 1)])
        _ = try await store.claim(run: "r2", holder: "h2", limit: 1, leaseSeconds: 600, now: t0 + 11)
        _ = try await store.finish(run: "r2", holder: "h2", [TaskOutcome(task: "x", attempt: 1, result: .failed(retryAt: t0 + 40))], now: t0 + 12)
        #expect(try await store.claim(run: "r2", holder: "h2", limit: 1, leaseSeconds: 600, now: t0 + 45).count == 1)
        _ = try await store.finish(run: "r2", holder: "h2", [TaskOutcome(task: "x", attempt: 2, result: .succeeded, costUSD: 1)], now: t0 + 50)
        return store
    }

    static func remove(_ store: SQLiteStore) { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }

    func records(_ store: SQLiteStore) async throws -> (runs: [RunRecord], tasks: [TaskRecord]) {
        let runs = try await store.runs(limit: 100)
        var tasks: [TaskRecord] = []
        for run in runs { tasks += try await store.tasks(run: run.id) }
        return (runs, tasks)
    }

    func expectSame(_ sql: Distribution, _ reference: Distribution) {
        #expect(sql.bounds == reference.bounds)
        #expect(sql.bins.map(\.count) == reference.bins.map(\.count))
        for (a, b) in zip(sql.bins, reference.bins) { #expect(abs(a.sum - b.sum) < 1e-6) }
    }

    @Test func durationsByAgentMatchTheRecords() async throws {
        let store = try await Self.scenario()
        defer { Self.remove(store) }
        let sql = try await store.durations(bounds: Self.bounds)
        let reference = RecordAggregates.durations(try await records(store).tasks, bounds: Self.bounds)
        #expect(Set(sql.keys) == ["claude", "codex", "shell"])
        for agent in reference.keys { expectSame(try #require(sql[agent]), reference[agent]!) }
        // claude: 4 s and 11 s; codex: 10 s; shell: the second attempt's 5 s.
        #expect(sql["claude"]?.bins.map(\.count) == [0, 1, 0, 1, 0])
        #expect(sql["claude"].map { abs($0.sum - 15) < 1e-6 } == true)
        #expect(sql["codex"]?.bins.map(\.count) == [0, 0, 1, 0, 0])
        #expect(sql["shell"]?.bins.map(\.count) == [0, 1, 0, 0, 0])
    }

    @Test func claimLatenciesMatchTheRecords() async throws {
        let store = try await Self.scenario()
        defer { Self.remove(store) }
        let sql = try await store.claimLatencies(bounds: Self.bounds)
        let (runs, tasks) = try await records(store)
        var reference = Distribution(bounds: Self.bounds)
        for run in runs { reference.merge(RecordAggregates.claimLatencies(run: run, tasks: tasks.filter { $0.run == run.id }, bounds: Self.bounds)) }
        expectSame(sql, reference)
        // a1, a2: 1 s after the run's start; b: 8 s after group a's last finish; c: 15 s after a1's;
        // x: 35 s after its run's start (a finished task no longer keeps its retry time).
        #expect(sql.count == 5)
        #expect(sql.bins.map(\.count) == [2, 0, 1, 1, 1])
        #expect(abs(sql.sum - 60) < 1e-6)
    }

    @Test func usageCountsAndTheRunIndexMatchTheRecords() async throws {
        let store = try await Self.scenario()
        defer { Self.remove(store) }
        let usage = try await store.usageTotals().sorted { ($0.agent, $0.model ?? "") < ($1.agent, $1.model ?? "") }
        let reference = RecordAggregates.usage(try await records(store).tasks).sorted { ($0.agent, $0.model ?? "") < ($1.agent, $1.model ?? "") }
        #expect(usage == reference)
        #expect(usage.map(\.agent) == ["claude", "codex", "shell"])
        #expect(usage.first?.tokens == TokenUsage(input: 300, output: 30, cacheRead: 1000, cacheWrite: 7))
        #expect(usage.first?.model == "opus" && usage[1].model == nil)
        #expect(usage.first?.costUSD == 0.75)

        let counts = try await store.counts(runs: ["r1", "r2", "nope"])
        #expect(Set(counts.keys) == ["r1", "r2"])
        #expect(counts["r1"] == (try await store.counts(run: "r1")))
        #expect(counts["r2"] == (try await store.counts(run: "r2")))
        #expect(counts["r1"]?[.running] == 1 && counts["r1"]?[.succeeded] == 2 && counts["r1"]?[.failed] == 1)
        #expect(try await store.counts(runs: []).isEmpty)

        let index = try await store.runIndex()
        #expect(index.map(\.id) == ["r2", "r1"])
        #expect(index == (try await store.runs(limit: 10)).map { RunIndexEntry(id: $0.id, status: $0.status, createdAt: $0.createdAt) })
    }
}
