import Foundation
import MusterStore
import Prometheus

/// `/metrics`: the Store read as Prometheus metrics (swift-prometheus text format). Each scrape
/// builds a fresh registry from the Store's current records, so a value is never older than the
/// scrape; finished runs and the event log are read once and kept (see `RunAggregate`, `EventTotals`).
public actor MetricsCollector {
    let store: BoardStore
    let facts: SpecFacts
    /// Per-task series (`muster_task_*{run,task}`): off by default, one series per task is a lot.
    let perTask: Bool
    /// `muster_tasks{run,…}` covers running runs and this many of the newest others.
    static let recentRuns = 20
    private var finished: [String: (finishedAt: Date?, aggregate: RunAggregate)] = [:]
    private var events: [String: EventTotals] = [:]

    public init(store: BoardStore, perTask: Bool = false) {
        self.store = store
        self.perTask = perTask
        facts = SpecFacts()
    }

    init(store: BoardStore, facts: SpecFacts, perTask: Bool) {
        self.store = store
        self.facts = facts
        self.perTask = perTask
    }

    public func render(now: Date = Date()) async throws -> String {
        let registry = PrometheusCollectorRegistry()
        let runs = try await store.runs(limit: 100_000)
        var runsByStatus: [String: Int] = Dictionary(uniqueKeysWithValues: RunStatus.allCases.map { ($0.rawValue, 0) })
        let taskGauge = Family(registry, "muster_tasks", "Tasks of a run by state (running runs and the newest others).")
        let durations = HistogramFamily(registry, "muster_task_duration_seconds", "Wall-clock time of finished tasks, by agent.",
                                        buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200])
        let latency = HistogramFamily(registry, "muster_claim_latency_seconds",
                                      "From a task being ready (run start, its needs done, its retry time) to its start.",
                                      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300])
        var tokens: [RunAggregate.TokenKey: Int] = [:]
        var cost: [RunAggregate.CostKey: Double] = [:]
        var totals = EventTotals()
        for (index, run) in runs.enumerated() {
            runsByStatus[run.status.rawValue, default: 0] += 1
            let isLive = !run.status.isFinal
            var tasks: [TaskRecord]?
            if isLive || index < Self.recentRuns {
                let counts = try await store.counts(run: run.id)
                for state in TaskState.allCases {
                    taskGauge.gauge(["run": run.id, "state": state.rawValue]).set(to: Double(counts[state]))
                }
            }
            let aggregate: RunAggregate
            if let cached = finished[run.id], run.status.isFinal, cached.finishedAt == run.finishedAt {
                aggregate = cached.aggregate
            } else {
                tasks = try await store.tasks(run: run.id)
                aggregate = RunAggregate(run: run, tasks: tasks ?? [], facts: facts)
                if run.status.isFinal { finished[run.id] = (run.finishedAt, aggregate) } else { finished[run.id] = nil }
            }
            for (agent, values) in aggregate.durations {
                let histogram = durations.histogram(["agent": agent])
                for v in values { histogram.record(v) }
            }
            let claims = latency.histogram([:])
            for v in aggregate.claimLatencies { claims.record(v) }
            tokens.merge(aggregate.tokens, uniquingKeysWith: +)
            cost.merge(aggregate.cost, uniquingKeysWith: +)
            let runEvents = try await readEvents(run.id)
            totals.conflicts += runEvents.conflicts
            totals.violations += runEvents.violations
            totals.cooldowns.merge(runEvents.cooldowns, uniquingKeysWith: +)
            totals.waits.merge(runEvents.waits, uniquingKeysWith: +)
            if perTask && isLive {
                let current: [TaskRecord]
                if let tasks { current = tasks } else { current = try await store.tasks(run: run.id) }
                perTaskSeries(registry, run: run, tasks: current)
            }
        }
        let runGauge = Family(registry, "muster_runs", "Runs in the store by status.")
        for (status, n) in runsByStatus { runGauge.gauge(["status": status]).set(to: Double(n)) }
        let tokenCounter = Family(registry, "muster_tokens_total", "Tokens used by agents, by type (as Claude Code names them), model and agent.")
        for (key, n) in tokens { tokenCounter.counter(["type": key.type, "model": key.model, "agent": key.agent]).increment(by: Int64(n)) }
        let costCounter = Family(registry, "muster_cost_usd_total", "US dollars spent by agents, by model and agent.")
        for (key, usd) in cost { costCounter.counter(["model": key.model, "agent": key.agent]).increment(by: usd) }
        Family(registry, "muster_conflicts_predicted_total", "Merge conflicts predicted across live worktrees.")
            .counter([:]).increment(by: Int64(totals.conflicts))
        Family(registry, "muster_ownership_violations_total", "Finished tasks that changed paths outside their owns.")
            .counter([:]).increment(by: Int64(totals.violations))
        let cooldowns = Family(registry, "muster_limit_cooldowns_total", "Shared cool-downs started after a rate-limit error, by limit key.")
        for (key, n) in totals.cooldowns { cooldowns.counter(["key": key]).increment(by: Int64(n)) }
        let waits = HistogramFamily(registry, "muster_limit_wait_seconds", "How long tasks waited for a shared limit, by key.",
                                    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600])
        for (key, values) in totals.waits {
            let histogram = waits.histogram(["key": key])
            for v in values { histogram.record(v) }
        }
        let heartbeat = Family(registry, "muster_worker_heartbeat_age_seconds", "Seconds since each live worker's last heartbeat.")
        for worker in try await store.workers(run: nil) {
            heartbeat.gauge(["worker": worker.id, "host": worker.host]).set(to: max(0, now.timeIntervalSince(worker.heartbeatAt)))
        }
        if finished.count > 10_000 { finished.removeAll() }
        return registry.emitToString()
    }

    func readEvents(_ run: String) async throws -> EventTotals {
        var totals = events[run] ?? EventTotals()
        while true {
            let batch = try await store.events(run: run, after: totals.cursor, limit: 5000)
            for event in batch { totals.add(event) }
            guard let last = batch.last else { break }
            totals.cursor = last.sequence
            if batch.count < 5000 { break }
        }
        events[run] = totals
        return totals
    }

    /// `--per-task-metrics`: state, cost and tokens of every task of the running runs.
    func perTaskSeries(_ registry: PrometheusCollectorRegistry, run: RunRecord, tasks: [TaskRecord]) {
        let state = Family(registry, "muster_task_state", "1 for each task's current state (running runs; --per-task-metrics).")
        let cost = Family(registry, "muster_task_cost_usd", "A task's cost in US dollars (running runs; --per-task-metrics).")
        let tokens = Family(registry, "muster_task_tokens", "A task's tokens by type (running runs; --per-task-metrics).")
        for task in tasks {
            state.gauge(["run": run.id, "task": task.id, "state": task.state.rawValue]).set(to: 1)
            if let usd = task.costUSD { cost.gauge(["run": run.id, "task": task.id]).set(to: usd) }
            if let usage = task.usage {
                for (type, n) in RunAggregate.tokenTypes(usage) {
                    tokens.gauge(["run": run.id, "task": task.id, "type": type]).set(to: Double(n))
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
