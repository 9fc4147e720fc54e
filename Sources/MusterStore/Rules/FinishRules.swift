import Foundation

/// What one outcome does to its task: the state it enters, when it may run again, whether it
/// spends a retry, and the event that says so. The same for every store.
public struct OutcomeEffect: Sendable, Equatable {
    public var state: TaskState
    /// Seconds since 1970 before which a retried task is not claimed (0: at once).
    public var notBefore: Double
    /// 1 when the outcome spends one of the task's retries (or ends it for good).
    public var failed: Int
    public var eventKind: String
    public var eventMessage: String

    public init(_ outcome: TaskOutcome) {
        var notBefore = 0.0
        var failed = 0
        switch outcome.result {
        case .succeeded: state = .succeeded
        case .failed(let retryAt?):
            state = .ready
            notBefore = retryAt.timeIntervalSince1970
            failed = outcome.countsAsFailure ? 1 : 0
        case .failed(nil):
            state = .failed
            failed = 1
        case .cancelled: state = .cancelled
        case .blocked: state = .blocked
        }
        self.notBefore = notBefore
        self.failed = failed
        eventKind = state == .ready ? "task.retry" : "task.\(state.rawValue)"
        if state == .ready {
            eventMessage = outcome.countsAsFailure ? "attempt \(outcome.attempt) failed: \(outcome.error ?? "?"); retrying"
                : "attempt \(outcome.attempt): \(outcome.error ?? "?"); retrying without spending a retry"
        } else {
            eventMessage = outcome.error ?? outcome.summary.map { String($0.prefix(200)) } ?? state.rawValue
        }
    }

    /// A failure for good, or a blocked task, skips its dependents (transitively).
    public var skipsDependents: Bool { state == .failed || state == .blocked }
    /// When the task finished, for a final state; nil while it goes back in line.
    public func finishedAt(_ t: Double) -> Double? { state.isFinal ? t : nil }
}

/// What a batch of applied outcomes releases or skips: a store applies each outcome (fenced by
/// holder and attempt), notes it here, then skips and promotes what this names. The same for every store.
public struct FinishTally: Sendable, Equatable {
    /// Groups and tasks whose dependents may now be ready (task-level `after` names the task).
    public private(set) var succeeded: Set<String> = []
    /// Groups and tasks that ended for good without success: their dependents are skipped.
    public private(set) var failedGroups: Set<String> = []
    public private(set) var failedTasks: Set<String> = []
    /// Spawn lineages (their origin group) with a task that ended: a `join` task may be waiting for the last one.
    public private(set) var finishedLineages: Set<String> = []

    public init() {}

    /// Notes an applied outcome of `task` (of `group`; `origin` and `depth` as stored: a spawned task has depth > 0).
    public mutating func note(task: String, group: String, origin: String?, depth: Int, effect: OutcomeEffect) {
        if effect.state.isFinal, depth > 0, let origin { finishedLineages.insert(origin) }
        switch effect.state {
        case .succeeded:
            succeeded.insert(group)
            succeeded.insert(task)
        case .failed, .blocked:
            failedGroups.insert(group)
            failedTasks.insert(task)
        default: break
        }
    }

    /// Whether anything waits to be skipped.
    public var skips: Bool { !failedGroups.isEmpty || !failedTasks.isEmpty }
}
