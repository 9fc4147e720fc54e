import Foundation
import MusterCore

public enum TaskState: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
    /// Waiting for the groups it needs.
    case pending
    case ready
    case running
    case succeeded
    case failed
    /// Never ran: something it needs failed, or the run stopped.
    case skipped
    case cancelled

    public var isFinal: Bool { [.succeeded, .failed, .skipped, .cancelled].contains(self) }
}

public struct TaskRecord: Sendable, Codable, Equatable {
    public var run: String
    public var id: String
    public var group: String
    public var position: Int
    public var idempotencyKey: String
    public var spec: PlannedTask
    public var state: TaskState
    /// Starts so far (a claim is a start); failures count separately against `retries`.
    public var attempt: Int
    public var failures: Int
    public var notBefore: Date?
    public var holder: String?
    public var leaseExpiresAt: Date?
    public var pid: Int32?
    public var pgid: Int32?
    public var host: String?
    public var exitCode: Int32?
    public var error: String?
    public var summary: String?
    public var resultPath: String?
    public var usage: TokenUsage?
    public var costUSD: Double?
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A claimed task, with the process a previous holder left behind (if any) so it can be stopped first.
public struct ClaimedTask: Sendable, Equatable {
    public var task: TaskRecord
    public var orphan: StartedProcess?
}

public struct StartedProcess: Sendable, Codable, Equatable {
    public var task: String
    public var pid: Int32
    public var pgid: Int32
    public var host: String
    public init(task: String, pid: Int32, pgid: Int32, host: String) {
        self.task = task
        self.pid = pid
        self.pgid = pgid
        self.host = host
    }
}

public struct TaskOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        case succeeded
        /// `retryAt` set: the task goes back in line then; nil: it failed for good.
        case failed(retryAt: Date?)
        case cancelled
    }
    public var task: String
    /// The attempt this outcome belongs to: a stale attempt's outcome is rejected.
    public var attempt: Int
    public var result: Result
    public var exitCode: Int32?
    public var error: String?
    public var summary: String?
    public var resultPath: String?
    public var usage: TokenUsage?
    public var costUSD: Double?

    public init(task: String, attempt: Int, result: Result, exitCode: Int32? = nil, error: String? = nil,
                summary: String? = nil, resultPath: String? = nil, usage: TokenUsage? = nil, costUSD: Double? = nil) {
        self.task = task
        self.attempt = attempt
        self.result = result
        self.exitCode = exitCode
        self.error = error
        self.summary = summary
        self.resultPath = resultPath
        self.usage = usage
        self.costUSD = costUSD
    }
}

public struct FinishReport: Sendable, Equatable {
    public var applied: [String] = []
    /// Outcomes for tasks this holder no longer leases (another holder took them over).
    public var rejected: [String] = []
    public var released: Int = 0
    public var skipped: Int = 0
    public init() {}
}
