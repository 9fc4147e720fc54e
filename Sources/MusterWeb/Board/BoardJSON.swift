import Foundation
import MusterCore
import MusterStore

// The `/api/…` twins of the pages: the same snapshot a page renders, as Codable values.

public struct RunSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var createdAt: Date
    public var finishedAt: Date?
    public var total: Int
    public var finished: Int
    public var byState: [String: Int]
    public var costUSD: Double
    public var budgetUSD: Double?
    public var cancelRequested: Bool
    /// Still marked running, but its orchestrator is gone (`muster resume` finishes it).
    public var interrupted: Bool

    init(_ run: RunRecord, counts: TaskCounts, now: Date) {
        id = run.id
        name = run.name
        status = run.status.rawValue
        createdAt = run.createdAt
        finishedAt = run.finishedAt
        total = counts.total
        finished = counts.finished
        byState = Dictionary(uniqueKeysWithValues: counts.byState.map { ($0.key.rawValue, $0.value) })
        costUSD = counts.costUSD
        budgetUSD = run.workflow.budgetUSD
        cancelRequested = run.cancelRequested
        interrupted = run.isInterrupted(now: now)
    }
}

public struct TaskRow: Codable, Sendable, Equatable {
    public var id: String
    public var group: String
    /// The Store state, or `waiting` when its last output line asks a person something.
    public var state: String
    public var attempt: Int
    /// 1 for tasks that need nothing, else one more than the deepest group they need.
    public var wave: Int
    public var parent: String?
    public var elapsedSeconds: Double?
    public var costUSD: Double?
    public var detail: String
}

public struct WorkerRow: Codable, Sendable, Equatable {
    public var id: String
    public var role: String
    public var host: String
    public var task: String?
    public var heartbeatAgeSeconds: Double
    public var lost: Bool
}

public struct CooldownRow: Codable, Sendable, Equatable {
    public var key: String
    public var attempt: Int
    public var until: Date
    public var remainingSeconds: Double
}

public struct EventRow: Codable, Sendable, Equatable {
    public var sequence: Int64
    public var task: String?
    public var kind: String
    public var message: String
    public var at: Date

    init(_ event: EventRecord) {
        sequence = event.sequence
        task = event.task
        kind = event.kind
        message = event.message
        at = event.at
    }
}

/// `/runs/RUN` and `/api/runs/RUN`.
public struct RunBoard: Codable, Sendable {
    public var run: RunSummary
    public var elapsedSeconds: Double
    public var etaSeconds: Double?
    /// Running (waiting first), failed, queued, then done; by plan position within each.
    public var tasks: [TaskRow]
    public var cooldowns: [CooldownRow]
    /// Tasks that waited for a shared limit (`limit.waiting`), newest first.
    public var limitWaits: [EventRow]
    public var workers: [WorkerRow]
    /// Predicted conflicts, ownership violations, stalls, blocks and budget stops, newest first.
    public var warnings: [EventRow]
    /// Tasks whose agent was refused a tool call or permission.
    public var denied: [String]
    /// The last event read: the live stream continues after it.
    public var cursor: Int64
}

public struct TaskDetail: Codable, Sendable {
    public struct Git: Codable, Sendable {
        public var branch: String?
        public var baseCommit: String
        public var headCommit: String?
        public var changedPaths: [String]
        public var violations: [String]
        /// `ok` when every changed path is owned, else `violation`.
        public var verdict: String
    }

    public var run: String
    public var task: TaskRow
    public var agent: String
    public var model: String?
    public var prompt: String?
    public var needs: [String]
    public var owns: [String]
    public var retries: Int
    public var failures: Int
    public var exitCode: Int32?
    public var error: String?
    public var summary: String?
    /// `result.md`, when the task wrote one (at most 256 KiB shown).
    public var result: String?
    /// `diff.patch`, when there is one (at most 256 KiB shown).
    public var diff: String?
    public var tokens: TokenUsage?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var git: Git?
    /// The end of `output.log` (at most 64 KiB) and the log's size: the live stream continues from there.
    public var log: String
    public var logSize: UInt64
    /// Earlier attempts' logs kept next to it (`output.attempt-N.log`).
    public var earlierAttempts: [Int]
    public var events: [EventRow]
}
