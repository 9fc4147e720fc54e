import Foundation
import MusterStore

/// The JSON summary of a run that notifications carry and `.muster/runs/<run>/DONE` holds.
public struct RunReport: Codable, Sendable, Equatable {
    public struct FailedTask: Codable, Sendable, Equatable {
        public var id: String
        /// `denied` for a task failed by refused tool calls.
        public var state: String
        public var error: String?
        /// The tool calls its agent was refused (`Tool(input)`), when it was `denied`.
        public var denials: [String]?
    }

    public var run: String
    public var name: String
    public var status: String
    /// What the notification is about: `run.succeeded`, `task.stalled`, `budget.exceeded`, …
    public var event: String?
    public var task: String?
    public var message: String?
    public var counts: [String: Int]
    public var total: Int
    public var costUSD: Double
    public var unknownCostTasks: Int
    public var elapsedSeconds: Double
    public var failedTasks: [FailedTask]
    public var finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case run, name, status, event, task, message, counts, total
        case costUSD = "cost_usd", unknownCostTasks = "unknown_cost_tasks", elapsedSeconds = "elapsed_seconds"
        case failedTasks = "failed_tasks", finishedAt = "finished_at"
    }

    /// Reads the run's state from the Store. `elapsed` nil: from the run's creation to its end (or now).
    public static func build(store: any StoreReader, run: String, event: EventRecord? = nil, elapsed: Double? = nil,
                             now: Date = Date()) async throws -> RunReport {
        let record = try await store.requireRun(run)
        let counts = try await store.counts(run: run)
        let failed = try await store.tasks(run: run).filter { $0.state == .failed || $0.state == .blocked }
        return RunReport(
            run: run, name: record.name, status: record.status.rawValue, event: event?.kind, task: event?.task,
            message: event?.message,
            counts: Dictionary(uniqueKeysWithValues: TaskState.allCases.map { ($0.rawValue, counts[$0]) }),
            total: counts.total, costUSD: counts.costUSD, unknownCostTasks: counts.unknownCost,
            elapsedSeconds: elapsed ?? max(0, (record.finishedAt ?? now).timeIntervalSince(record.createdAt)),
            failedTasks: failed.prefix(100).map {
                FailedTask(id: $0.id, state: $0.shownState, error: $0.error.map { String($0.prefix(500)) },
                           denials: $0.agentFacts.flatMap { $0.denials.isEmpty ? nil : $0.denials.prefix(20).map(\.shown) })
            },
            finishedAt: record.finishedAt)
    }

    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }

    /// One line a person reads in a notification.
    public var headline: String {
        let done = "\(counts["succeeded"] ?? 0)/\(total) tasks succeeded"
        switch event {
        case "task.stalled": return "task \(task ?? "?") stalled in run \(run): \(message ?? "")"
        case "task.denied": return "task \(task ?? "?") in run \(run) was denied tool calls: \(message ?? "")"
        case "budget.exceeded": return "run \(run) reached its budget (\(Format.money(costUSD))): \(message ?? "dispatch stopped")"
        default: return "run \(run) \(status): \(done) in \(Format.duration(elapsedSeconds)), \(Format.money(costUSD))"
        }
    }
}
