import Foundation
import MusterCore
import Synchronization

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
    /// Never started: merging the branches it needs conflicted (`error` names the files).
    case blocked

    public var isFinal: Bool { [.succeeded, .failed, .skipped, .cancelled, .blocked].contains(self) }
}

public struct TaskRecord: Sendable, Equatable {
    public var run: String
    public var id: String
    public var group: String
    public var position: Int
    public var idempotencyKey: String
    /// What to run, decoded when the row was read.
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
    /// Its branch, worktree and diff when the run is isolated in git.
    public var git: TaskGitState?
    /// The task that spawned it at run time (nil: a spec task). Also in `spec`, but read without decoding it.
    public var parent: String?
    /// Blocked in `muster wait` for tasks it spawned.
    public var waiting = false
    /// What the agent reported of its last finished attempt (model, refused tool calls); nil: nothing.
    public var agentFacts: AgentFacts?
}

/// A task spec as the store keeps it (JSON). One that does not decode (a store written by a newer
/// muster, a damaged file) is `StoreError.corrupt`: never a stand-in task that would run something else.
/// Decoded specs are kept by their text: a spec never changes once stored, and decoding 1,000 of
/// them on every read of a run's tasks (a board, a status) cost more than everything else the read does.
public enum StoredSpec {
    private static let decoded = Mutex<[String: PlannedTask]>([:])
    /// A bounded cache: past this many specs it starts again.
    static let kept = 20_000

    /// The text a store keeps: sorted keys, defaults left out. A claim decodes the spec of every
    /// task it hands out, and a spec written in full carried about 15 default fields to decode.
    public static func encode(_ spec: PlannedTask) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo[PlannedTask.omitsDefaults] = true
        return String(decoding: try encoder.encode(spec), as: UTF8.self)
    }

    static func decode(_ json: String, task: String) throws -> PlannedTask {
        if let hit = decoded.withLock({ $0[json] }) { return hit }
        let spec: PlannedTask
        do {
            spec = try JSONDecoder().decode(PlannedTask.self, from: Data(json.utf8))
        } catch {
            throw StoreError.corrupt("the spec of task \(task) does not decode (\(String(describing: error).prefix(300)))")
        }
        decoded.withLock {
            if $0.count >= kept { $0.removeAll(keepingCapacity: true) }
            $0[json] = spec
        }
        return spec
    }
}

/// A task's place in git: where it ran, what it started from, what it changed.
public struct TaskGitState: Codable, Sendable, Equatable {
    /// nil with `isolation: none` (the task ran in the repository itself).
    public var worktree: String?
    public var branch: String?
    public var baseCommit: String
    /// The commit holding the task's changes; nil until it finished (or when it changed nothing).
    public var headCommit: String?
    public var changedPaths: [String]
    /// Changed paths outside the task's `owns`; non-empty means the task failed its ownership check.
    public var violations: [String]
    /// The worktree's admin folder (`<repo>/.git/worktrees/<name>`) as `git worktree add` made it:
    /// its `.git` file must still point there before muster trusts it. nil in older records.
    public var gitDir: String?

    public init(worktree: String?, branch: String?, baseCommit: String, headCommit: String? = nil,
                changedPaths: [String] = [], violations: [String] = [], gitDir: String? = nil) {
        self.gitDir = gitDir
        self.worktree = worktree
        self.branch = branch
        self.baseCommit = baseCommit
        self.headCommit = headCommit
        self.changedPaths = changedPaths
        self.violations = violations
    }
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
    public var git: TaskGitState?
    /// When the process started; it becomes the task's `startedAt` (its claim may be earlier: a task
    /// waits for its limits between claim and start). nil keeps the claim's time.
    public var startedAt: Date?
    public init(task: String, pid: Int32, pgid: Int32, host: String, git: TaskGitState? = nil, startedAt: Date? = nil) {
        self.startedAt = startedAt
        self.task = task
        self.pid = pid
        self.pgid = pgid
        self.host = host
        self.git = git
    }
}

public struct TaskOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        case succeeded
        /// `retryAt` set: the task goes back in line then; nil: it failed for good.
        case failed(retryAt: Date?)
        case cancelled
        /// Could not start: merging what it needs conflicted. Its dependents are skipped.
        case blocked
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
    public var git: TaskGitState?
    /// false: a retry that does not spend one of the task's `retries` (a rate-limit error waits out
    /// the cool-down instead). Only meaningful with `.failed(retryAt:)` set.
    public var countsAsFailure = true
    /// What the agent reported (model, refused tool calls, partial usage); nil: nothing to record.
    public var agentFacts: AgentFacts?

    public init(task: String, attempt: Int, result: Result, exitCode: Int32? = nil, error: String? = nil,
                summary: String? = nil, resultPath: String? = nil, usage: TokenUsage? = nil, costUSD: Double? = nil,
                git: TaskGitState? = nil) {
        self.git = git
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
