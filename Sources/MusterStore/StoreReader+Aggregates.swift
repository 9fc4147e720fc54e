import Foundation
import MusterCore

/// The aggregates computed from task records: the default for a store without the SQL (correct,
/// but it reads every task), and the reference the SQL versions are tested against.
extension StoreReader {
    public func runIndex() async throws -> [RunIndexEntry] {
        try await runs(limit: Int(Int32.max)).map { RunIndexEntry(id: $0.id, status: $0.status, createdAt: $0.createdAt) }
    }

    public func counts(runs: [String]) async throws -> [String: TaskCounts] {
        var out: [String: TaskCounts] = [:]
        for run in Set(runs) {
            let counts = try await counts(run: run)
            if counts.total > 0 { out[run] = counts }
        }
        return out
    }

    public func usageTotals() async throws -> [UsageTotal] { RecordAggregates.usage(try await allTasks()) }

    public func durations(bounds: [Double]) async throws -> [String: Distribution] {
        RecordAggregates.durations(try await allTasks(), bounds: bounds)
    }

    public func claimLatencies(bounds: [Double]) async throws -> Distribution {
        var out = Distribution(bounds: bounds)
        for run in try await runs(limit: Int(Int32.max)) {
            out.merge(RecordAggregates.claimLatencies(run: run, tasks: try await tasks(run: run.id), bounds: bounds))
        }
        return out
    }

    func allTasks() async throws -> [TaskRecord] {
        var all: [TaskRecord] = []
        for run in try await runs(limit: Int(Int32.max)) { all += try await tasks(run: run.id) }
        return all
    }
}

/// The aggregates of `StoreReader`, computed from records.
public enum RecordAggregates {
    public static func usage(_ tasks: [TaskRecord]) -> [UsageTotal] {
        struct Key: Hashable { var agent: String, model: String? }
        var totals: [Key: UsageTotal] = [:]
        for task in tasks where task.usage != nil || task.costUSD != nil {
            let key = Key(agent: task.spec.agent, model: task.spec.model)
            var total = totals[key] ?? UsageTotal(agent: key.agent, model: key.model, tokens: TokenUsage(), costUSD: 0)
            total.tokens = total.tokens + (task.usage ?? TokenUsage())
            total.costUSD += task.costUSD ?? 0
            totals[key] = total
        }
        return Array(totals.values)
    }

    public static func durations(_ tasks: [TaskRecord], bounds: [Double]) -> [String: Distribution] {
        var out: [String: Distribution] = [:]
        for task in tasks where task.state.isFinal {
            guard let start = task.startedAt, let end = task.finishedAt else { continue }
            out[task.spec.agent, default: Distribution(bounds: bounds)].add(max(0, end.timeIntervalSince(start)))
        }
        return out
    }

    /// A task is ready once everything it needs (a group or a task, by name) last finished, or at
    /// its retry time when that came later and before it started.
    public static func claimLatencies(run: RunRecord, tasks: [TaskRecord], bounds: [Double]) -> Distribution {
        var finishedAt: [String: Date] = [:]
        for task in tasks {
            guard let end = task.finishedAt else { continue }
            finishedAt[task.id] = max(finishedAt[task.id] ?? end, end)
            finishedAt[task.group] = max(finishedAt[task.group] ?? end, end)
        }
        var out = Distribution(bounds: bounds)
        for task in tasks {
            guard let start = task.startedAt else { continue }
            var ready = run.createdAt
            for need in task.spec.needs + task.spec.after { if let t = finishedAt[need], t > ready { ready = t } }
            if let retry = task.notBefore, retry > ready, retry <= start { ready = retry }
            out.add(max(0, start.timeIntervalSince(ready)))
        }
        return out
    }
}
