import Foundation
import MusterCore
import MusterStore

/// The Store's aggregates (what `/metrics` and the boards read, in one query each) equal the same
/// figures computed from every task record, and hold the values the scenario makes.
extension StoreConformance {
    static let aggregateBounds: [Double] = [1, 5, 10, 30]

    /// Run `r1`: a1 and a2 (group a, claude/opus) start at +1 and finish at +5 and +12; b (codex, needs a)
    /// starts at +20 and fails at +30; c (after a1) starts at +20 and runs on. Run `r2` (newer): x fails
    /// at +12 with a retry at +40, starts again at +45 and succeeds at +50.
    static func aggregatesMatchTheRecords(_ store: any Store) async throws {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let bounds = aggregateBounds
        let workflow = Workflow(name: "agg", concurrency: 4, tasks: [])
        try await store.createRun(NewRun(id: "r1", workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 4, simulate: false,
                                         createdAt: t0), tasks: [
            PlannedTask(id: "a1", group: "a", agent: "claude", model: "opus"),
            PlannedTask(id: "a2", group: "a", agent: "claude", model: "opus"),
            PlannedTask(id: "b", group: "b", agent: "codex", needs: ["a"]),
            PlannedTask(id: "c", group: "c", agent: "claude", model: "opus", after: ["a1"]),
        ])
        let claimedA = try await store.claim(run: "r1", holder: "h", limit: 4, leaseSeconds: 600, now: t0 + 1)
        try expect(claimedA.map(\.task.id).sorted() == ["a1", "a2"], "a1 and a2 claimed first, got \(claimedA.map(\.task.id))")
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a1", attempt: 1, result: .succeeded, usage: TokenUsage(input: 100, output: 10, cacheRead: 1000), costUSD: 0.5),
        ], now: t0 + 5)
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a2", attempt: 1, result: .succeeded, usage: TokenUsage(input: 200, output: 20, cacheWrite: 7), costUSD: 0.25),
        ], now: t0 + 12)
        let claimedB = try await store.claim(run: "r1", holder: "h", limit: 4, leaseSeconds: 600, now: t0 + 20)
        try expect(claimedB.map(\.task.id).sorted() == ["b", "c"], "b and c claimed next, got \(claimedB.map(\.task.id))")
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "b", attempt: 1, result: .failed(retryAt: nil), error: "exit 1", usage: TokenUsage(input: 5), costUSD: 0.125),
        ], now: t0 + 30)
        try await store.createRun(NewRun(id: "r2", workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 1, simulate: false,
                                         createdAt: t0 + 10), tasks: [PlannedTask(id: "x", group: "x", agent: "shell", retries: 1)])
        _ = try await store.claim(run: "r2", holder: "h2", limit: 1, leaseSeconds: 600, now: t0 + 11)
        _ = try await store.finish(run: "r2", holder: "h2", [TaskOutcome(task: "x", attempt: 1, result: .failed(retryAt: t0 + 40))], now: t0 + 12)
        let retried = try await store.claim(run: "r2", holder: "h2", limit: 1, leaseSeconds: 600, now: t0 + 45)
        try expect(retried.count == 1, "x retried")
        _ = try await store.finish(run: "r2", holder: "h2", [TaskOutcome(task: "x", attempt: 2, result: .succeeded, costUSD: 1)], now: t0 + 50)

        let runs = try await store.runs(limit: 10)
        var tasks: [TaskRecord] = []
        for run in runs { tasks += try await store.tasks(run: run.id) }
        func same(_ a: Distribution?, _ b: Distribution?) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return a.bounds == b.bounds && a.bins.map(\.count) == b.bins.map(\.count)
                && zip(a.bins, b.bins).allSatisfy { abs($0.sum - $1.sum) < 1e-6 }
        }

        // Durations by agent. claude: 4 s and 11 s; codex: 10 s; shell: the second attempt's 5 s.
        let durations = try await store.durations(bounds: bounds)
        let durationRecords = RecordAggregates.durations(tasks, bounds: bounds)
        try expect(Set(durations.keys) == ["claude", "codex", "shell"], "durations by agent: \(durations.keys.sorted())")
        for agent in durationRecords.keys { try expect(same(durations[agent], durationRecords[agent]), "durations of \(agent) differ from the records") }
        try expect(durations["claude"]?.bins.map(\.count) == [0, 1, 0, 1, 0] && abs((durations["claude"]?.sum ?? 0) - 15) < 1e-6,
                   "claude durations: \(String(describing: durations["claude"]))")
        try expect(durations["codex"]?.bins.map(\.count) == [0, 0, 1, 0, 0], "codex durations: \(String(describing: durations["codex"]))")
        try expect(durations["shell"]?.bins.map(\.count) == [0, 1, 0, 0, 0], "shell durations: \(String(describing: durations["shell"]))")

        // Claim latencies. a1, a2: 1 s after the run's start; b: 8 s after group a's last finish; c: 15 s
        // after a1's; x: 35 s after its run's start (a finished task no longer keeps its retry time).
        let latencies = try await store.claimLatencies(bounds: bounds)
        var latencyRecords = Distribution(bounds: bounds)
        for run in runs { latencyRecords.merge(RecordAggregates.claimLatencies(run: run, tasks: tasks.filter { $0.run == run.id }, bounds: bounds)) }
        try expect(same(latencies, latencyRecords), "claim latencies \(latencies) differ from the records' \(latencyRecords)")
        try expect(latencies.bins.map(\.count) == [2, 0, 1, 1, 1] && abs(latencies.sum - 60) < 1e-6, "claim latencies: \(latencies)")

        // Tokens and cost by agent and model.
        let order = { (a: UsageTotal, b: UsageTotal) in (a.agent, a.model ?? "") < (b.agent, b.model ?? "") }
        let usage = try await store.usageTotals().sorted(by: order)
        try expect(usage == RecordAggregates.usage(tasks).sorted(by: order), "usage \(usage) differs from the records")
        try expect(usage.map(\.agent) == ["claude", "codex", "shell"] && usage[0].model == "opus" && usage[1].model == nil,
                   "usage groups: \(usage)")
        try expect(usage[0].tokens == TokenUsage(input: 300, output: 30, cacheRead: 1000, cacheWrite: 7) && usage[0].costUSD == 0.75,
                   "claude/opus usage: \(usage[0])")

        // Counts of several runs at once, and the run index.
        let counts = try await store.counts(runs: ["r1", "r2", "nope"])
        try expect(Set(counts.keys) == ["r1", "r2"], "counts for \(counts.keys.sorted())")
        let (r1, r2) = (try await store.counts(run: "r1"), try await store.counts(run: "r2"))
        try expect(counts["r1"] == r1 && counts["r2"] == r2, "counts(runs:) differ from counts(run:)")
        try expect(counts["r1"]?[.running] == 1 && counts["r1"]?[.succeeded] == 2 && counts["r1"]?[.failed] == 1, "r1 counts: \(String(describing: counts["r1"]))")
        let none = try await store.counts(runs: [])
        try expect(none.isEmpty, "no runs, no counts")
        let index = try await store.runIndex()
        try expect(index.map(\.id) == ["r2", "r1"], "run index newest first: \(index.map(\.id))")
        try expect(index == runs.map { RunIndexEntry(id: $0.id, status: $0.status, createdAt: $0.createdAt) }, "run index differs from runs()")
    }
}
