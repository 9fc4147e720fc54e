import Foundation
import MusterCore
import MusterStore
import Prometheus

/// `/metrics`: the Store read as Prometheus metrics (swift-prometheus text format). Each scrape
/// builds a fresh registry from the Store's aggregates (counts, sums and bucketed durations computed
/// by the Store in one query each, never by loading every task), so a value is never older than the
/// scrape. The event log is read forward from each run's last sequence seen (see `EventTotals`);
/// when no run's log moved and no run changed status, the task aggregates of the previous scrape
/// (at most `aggregatesMaxAge` old) are used again: several scrapers, or a quiet store, cost no task scan.
public actor MetricsCollector {
    let store: BoardStore
    /// Per-task series (`muster_task_*{run,task}`): off by default, one series per task is a lot.
    let perTask: Bool
    /// `muster_tasks{run,…}` covers running runs and this many of the newest others.
    static let recentRuns = 20
    static let durationBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200]
    static let latencyBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    private var events: [String: EventTotals] = [:]
    static let aggregatesMaxAge: Duration = .seconds(5)
    private var aggregates: (key: [String], at: ContinuousClock.Instant, value: TaskAggregates)?

    /// What a scrape reads of the tasks: one Store query each.
    struct TaskAggregates: Sendable {
        var counts: [String: TaskCounts]
        var durations: [String: Distribution]
        var latencies: Distribution
        var usage: [UsageTotal]
    }

    public init(store: BoardStore, perTask: Bool = false) {
        self.store = store
        self.perTask = perTask
    }

    /// `now`: nil, the store's clock.
    public func render(now: Date? = nil) async throws -> String {
        let now = now ?? store.clock()
        let registry = PrometheusCollectorRegistry()
        let index = try await store.runIndex()
        var runsByStatus: [String: Int] = Dictionary(uniqueKeysWithValues: RunStatus.allCases.map { ($0.rawValue, 0) })
        for run in index { runsByStatus[run.status.rawValue, default: 0] += 1 }
        let runGauge = Family(registry, "muster_runs", "Runs in the store by status.")
        for (status, n) in runsByStatus { runGauge.gauge(["status": status]).set(to: Double(n)) }

        var totals = EventTotals()
        for run in index {
            let runEvents = try await readEvents(run)
            totals.conflicts += runEvents.conflicts
            totals.violations += runEvents.violations
            totals.cooldowns.merge(runEvents.cooldowns, uniquingKeysWith: +)
            for (key, waits) in runEvents.waits { totals.waits[key, default: Distribution(bounds: EventTotals.waitBuckets)].merge(waits) }
        }
        if events.count > 10_000 { events.removeAll() }

        let shown = index.enumerated().filter { !$0.element.status.isFinal || $0.offset < Self.recentRuns }.map(\.element.id)
        let tasks = try await taskAggregates(index: index, shown: shown)
        let taskGauge = Family(registry, "muster_tasks", "Tasks of a run by state (running runs and the newest others).")
        for run in shown {
            for state in TaskState.allCases {
                taskGauge.gauge(["run": run, "state": state.rawValue]).set(to: Double(tasks.counts[run]?[state] ?? 0))
            }
        }

        let durations = HistogramFamily(registry, "muster_task_duration_seconds", "Wall-clock time of finished tasks, by agent.",
                                        buckets: Self.durationBuckets)
        for (agent, distribution) in tasks.durations { durations.histogram(["agent": agent]).record(distribution) }
        HistogramFamily(registry, "muster_claim_latency_seconds",
                        "From a task being ready (run start, its needs done, its retry time) to its start.",
                        buckets: Self.latencyBuckets).histogram([:]).record(tasks.latencies)

        let tokenCounter = Family(registry, "muster_tokens_total", "Tokens used by agents, by type (as Claude Code names them), model and agent.")
        let costCounter = Family(registry, "muster_cost_usd_total", "US dollars spent by agents, by model and agent.")
        var tokens: [[String: String]: Int] = [:]
        var cost: [[String: String]: Double] = [:]
        for total in tasks.usage {
            let labels = ["model": total.model ?? "default", "agent": total.agent]
            for (type, n) in Self.tokenTypes(total.tokens) where n > 0 { tokens[labels.merging(["type": type]) { $1 }, default: 0] += n }
            cost[labels, default: 0] += total.costUSD
        }
        for (labels, n) in tokens { tokenCounter.counter(labels).increment(by: Int64(n)) }
        for (labels, usd) in cost { costCounter.counter(labels).increment(by: usd) }

        Family(registry, "muster_conflicts_predicted_total", "Merge conflicts predicted across live worktrees.")
            .counter([:]).increment(by: Int64(totals.conflicts))
        Family(registry, "muster_ownership_violations_total", "Finished tasks that changed paths outside their owns.")
            .counter([:]).increment(by: Int64(totals.violations))
        let cooldowns = Family(registry, "muster_limit_cooldowns_total", "Shared cool-downs started after a rate-limit error, by limit key.")
        for (key, n) in totals.cooldowns { cooldowns.counter(["key": key]).increment(by: Int64(n)) }
        let waits = HistogramFamily(registry, "muster_limit_wait_seconds", "How long tasks waited for a shared limit, by key.",
                                    buckets: EventTotals.waitBuckets)
        for (key, distribution) in totals.waits { waits.histogram(["key": key]).record(distribution) }

        let heartbeat = Family(registry, "muster_worker_heartbeat_age_seconds", "Seconds since each live worker's last heartbeat.")
        for worker in try await store.workers(run: nil) {
            heartbeat.gauge(["worker": worker.id, "host": worker.host]).set(to: max(0, now.timeIntervalSince(worker.heartbeatAt)))
        }
        if perTask {
            for run in index where !run.status.isFinal {
                perTaskSeries(registry, run: run.id, tasks: try await store.tasks(run: run.id))
            }
        }
        return registry.emitToString()
    }

    /// The task aggregates, read again only when a run's event log moved, a run changed status or
    /// appeared, or the last read is `aggregatesMaxAge` old (changes that write no event).
    func taskAggregates(index: [RunIndexEntry], shown: [String]) async throws -> TaskAggregates {
        let key = index.map { "\($0.id)\u{0}\($0.status.rawValue)\u{0}\(events[$0.id]?.cursor ?? -1)" } + shown
        let now = ContinuousClock.now
        if let aggregates, aggregates.key == key, now - aggregates.at < Self.aggregatesMaxAge { return aggregates.value }
        let value = TaskAggregates(counts: try await store.counts(runs: shown),
                                   durations: try await store.durations(bounds: Self.durationBuckets),
                                   latencies: try await store.claimLatencies(bounds: Self.latencyBuckets),
                                   usage: try await store.usageTotals())
        aggregates = (key, now, value)
        return value
    }

    /// Token types as Claude Code names them (`claude_code.token.usage` `type`).
    static func tokenTypes(_ usage: TokenUsage) -> [(String, Int)] {
        [("input", usage.input), ("output", usage.output), ("cacheRead", usage.cacheRead), ("cacheCreation", usage.cacheWrite)]
    }

    /// The run's event totals, read on from the last sequence seen; a run that had finished when last
    /// read (and still has) is not read again.
    func readEvents(_ run: RunIndexEntry) async throws -> EventTotals {
        var totals = events[run.id] ?? EventTotals()
        if totals.finished && run.status.isFinal { return totals }
        while true {
            let batch = try await store.events(run: run.id, after: totals.cursor, limit: 5000)
            for event in batch { totals.add(event) }
            guard let last = batch.last else { break }
            totals.cursor = last.sequence
            if batch.count < 5000 { break }
        }
        totals.finished = run.status.isFinal
        events[run.id] = totals
        return totals
    }

    /// `--per-task-metrics`: state, cost and tokens of every task of the running runs.
    func perTaskSeries(_ registry: PrometheusCollectorRegistry, run: String, tasks: [TaskRecord]) {
        let state = Family(registry, "muster_task_state", "1 for each task's current state (running runs; --per-task-metrics).")
        let cost = Family(registry, "muster_task_cost_usd", "A task's cost in US dollars (running runs; --per-task-metrics).")
        let tokens = Family(registry, "muster_task_tokens", "A task's tokens by type (running runs; --per-task-metrics).")
        for task in tasks {
            state.gauge(["run": run, "task": task.id, "state": task.state.rawValue]).set(to: 1)
            if let usd = task.costUSD { cost.gauge(["run": run, "task": task.id]).set(to: usd) }
            if let usage = task.usage {
                for (type, n) in Self.tokenTypes(usage) {
                    tokens.gauge(["run": run, "task": task.id, "type": type]).set(to: Double(n))
                }
            }
        }
    }
}

/// One metric name with its help text, made once per scrape.
struct Family {
    let registry: PrometheusCollectorRegistry
    let descriptor: MetricNameDescriptor

    init(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String) {
        self.registry = registry
        descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    static func labels(_ labels: [String: String]) -> [(String, String)] { labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    func gauge(_ labels: [String: String]) -> Gauge { registry.makeGauge(descriptor: descriptor, labels: Self.labels(labels)) }
    func counter(_ labels: [String: String]) -> Counter { registry.makeCounter(descriptor: descriptor, labels: Self.labels(labels)) }
}

struct HistogramFamily {
    let family: Family
    let buckets: [Double]

    init(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, buckets: [Double]) {
        family = Family(registry, name, help)
        self.buckets = buckets
    }

    func histogram(_ labels: [String: String]) -> ValueHistogram {
        family.registry.makeValueHistogram(descriptor: family.descriptor, labels: Family.labels(labels), buckets: buckets)
    }
}

extension ValueHistogram {
    /// Records what the Store bucketed: each bin's mean, as many times as the bin counts. The mean of
    /// values in a bin lies in that bin, so bucket counts and the sum come out exact.
    func record(_ distribution: Distribution) {
        for (i, bin) in distribution.bins.enumerated() where bin.count > 0 {
            var mean = bin.sum / Double(bin.count)
            if i < distribution.bounds.count { mean = min(mean, distribution.bounds[i]) }  // rounding never moves it out
            if i > 0 { mean = max(mean, distribution.bounds[i - 1].nextUp) }
            for _ in 0..<bin.count { record(mean) }
        }
    }
}
