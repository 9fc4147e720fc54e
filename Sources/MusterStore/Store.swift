import Foundation
import MusterCore

/// Everything muster must not lose: runs, tasks and their leases, the event log, live workers.
/// Every method is atomic; implementations share the conformance suite in `MusterStoreConformance`.
/// What only reads is in `StoreReader`, the part views get.
public protocol Store: StoreReader {
    // MARK: Runs
    /// Records a run and all its tasks in one transaction; tasks without needs start `ready`.
    func createRun(_ run: NewRun, tasks: [PlannedTask]) async throws
    /// Makes `holder` the run's orchestrator in one compare-and-swap, only when nobody holds it,
    /// `holder` already does, the holder's lease lapsed, or the holder was a process on this host
    /// that is gone. A take-over increments the run's holder epoch and gives the previous holder's
    /// running tasks up at once. Of two simultaneous callers exactly one acquires.
    func acquireRun(_ id: String, holder: ProcessIdentity, leaseSeconds: Double, now: Date) async throws -> RunAcquisition
    /// Renews the run's lease and every task lease `holder` holds, only while the run is still
    /// `holder`'s at `epoch`; otherwise changes nothing and answers who holds it now.
    func renewRun(_ id: String, holder: String, epoch: Int64, leaseSeconds: Double, now: Date) async throws -> RunRenewal
    func releaseRun(_ id: String, holder: String) async throws
    func finishRun(_ id: String, status: RunStatus, now: Date) async throws
    /// Asks whoever orchestrates the run to cancel it (`muster cancel`).
    func requestCancel(_ id: String, now: Date) async throws
    /// Puts failed, skipped and cancelled tasks back in line so `resume` can finish the run; succeeded ones stay done.
    func reopen(_ id: String, now: Date) async throws -> Int

    // MARK: Tasks
    /// Atomically takes up to `limit` ready tasks (or tasks whose lease expired, never `holder`'s own)
    /// for `holder`; nothing while another holder holds the run. Only tasks whose `runs_on` labels
    /// are all in `labels` (a task with none is anyone's); the others are left for a claimer that has them.
    func claim(run: String, holder: String, labels: Set<String>, limit: Int, leaseSeconds: Double, now: Date) async throws -> [ClaimedTask]
    /// Records the process group of started tasks, so a successor can stop orphans.
    func recordProcesses(run: String, holder: String, _ processes: [StartedProcess], now: Date) async throws
    /// Extends the leases of every task `holder` runs, and the run's own heartbeat. Returns how many tasks it renewed.
    @discardableResult
    func heartbeat(run: String, holder: String, leaseSeconds: Double, now: Date) async throws -> Int
    /// Applies outcomes in one transaction: retries go back in line, failures skip their dependents,
    /// successes release their dependents. An outcome whose lease was lost, for another attempt than
    /// the task's current one, or from a holder the run no longer belongs to is rejected, not applied.
    func finish(run: String, holder: String, _ outcomes: [TaskOutcome], now: Date) async throws -> FinishReport
    /// `recordProcesses` and `finish` in one transaction: the starts are recorded first, so a task
    /// that both started and ended since the last call keeps its events in order.
    func finish(run: String, holder: String, started: [StartedProcess], _ outcomes: [TaskOutcome], now: Date) async throws -> FinishReport
    /// Replaces a `foreach: from` stand-in with its tasks and marks it succeeded, atomically.
    func expand(run: String, holder: String, expander: String, into tasks: [PlannedTask], now: Date) async throws -> Int
    /// Marks every task not started, or whose lease lapsed (its holder is gone), as skipped
    /// (a run stopping after a failure) or cancelled.
    func closeUnstarted(run: String, state: TaskState, reason: String, now: Date) async throws -> Int

    // MARK: Spawning
    /// Adds the tasks a running `parent` asks for at run time, all or none, enforcing in one
    /// transaction: each child owns a subset of what the parent owns; its depth (the parent's + 1)
    /// is within the workflow's `max_depth`; it needs (`after`) only tasks that already exist and
    /// are not its ancestors, so no cycle can form; and an identical child of the same parent is
    /// folded into the existing one (its idempotency key). Children are given ids when they have
    /// none (`PARENT.N`). Throws `SpawnError`.
    func spawn(run: String, parent: String, children: [PlannedTask], now: Date) async throws -> [SpawnedTask]
    /// Marks a running task as blocked in `muster wait` (its concurrency slot lends out to its children) or not.
    func setWaiting(run: String, task: String, waiting: Bool) async throws

    // MARK: Events
    func appendEvent(_ event: NewEvent) async throws

    // MARK: Locks
    /// Takes `request.path` for `request.holder` unless another holder's lease is live (or the same
    /// holder re-acquires, which renews). Atomic across processes.
    func acquireLock(_ request: LockRequest, now: Date) async throws -> LockAcquisition
    /// Returns false when `holder` did not hold it.
    func releaseLock(path: String, holder: String) async throws -> Bool

    // MARK: Messages
    /// Queues a message for `recipient`: a task id of the run, or `role:NAME`. Anything else is refused
    /// (`MessageError.unknownRecipient`), as is an unknown run.
    func sendMessage(run: String, to recipient: String, body: String, from sender: String?, now: Date) async throws -> MessageRecord
    /// Atomically hands the oldest waiting message for `recipient` (or one whose lease lapsed unacknowledged,
    /// its attempt incremented) to `holder`; nil when nothing is waiting. Each delivery goes to exactly one claimer.
    func claimMessage(run: String, recipient: String, holder: String, leaseSeconds: Double, now: Date) async throws -> MessageRecord?
    /// Marks a message done; only its current holder can. An acknowledged message is never delivered again.
    func ackMessage(id: Int64, holder: String, now: Date) async throws -> Bool
    /// Marks a message done by its claim token (`MessageRecord.claimToken`): only while that delivery
    /// (`attempt`) is the current one and still claimed, whoever asks.
    func ackMessage(id: Int64, attempt: Int, now: Date) async throws -> Bool

    // MARK: Limits
    /// Takes `requests` and `tokens` from the key's shared buckets if they hold enough, else `.wait`
    /// (nothing taken) for as long as the fullest-needed bucket takes to refill, or until the key's
    /// cool-down ends. Refuses zero or negative limits and negative amounts (`LimitError`).
    func acquireTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, now: Date) async throws -> Acquisition
    /// Like `acquireTokens`, but spends the tokens ahead of time when the bucket is short and answers
    /// `.reserved(seconds)`: waiters are served in arrival order, so none starves. Answers `.wait`
    /// (nothing taken) during a cool-down or when the reservation would start later than `maxWait`.
    func reserveTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double, now: Date) async throws -> Acquisition
    /// A semaphore of `capacity` slots on `key`. A holder's slot lasts `leaseSeconds` unless renewed
    /// (acquiring again renews) or released, so the slots of dead holders come back.
    func acquireSlot(key: String, capacity: Int, holder: String, leaseSeconds: Double, now: Date) async throws -> SlotAcquisition
    /// Returns false when `holder` held no slot on `key`.
    @discardableResult
    func releaseSlot(key: String, holder: String) async throws -> Bool
    /// Starts (or extends) the key's shared cool-down with exponential back-off and jitter; see `Cooldown`.
    func startCooldown(key: String, attempt: Int, now: Date) async throws -> Cooldown

    // MARK: Workers
    func registerWorker(_ worker: WorkerRecord) async throws
    func heartbeatWorker(id: String, task: String?, now: Date) async throws
    func removeWorker(id: String) async throws
}

extension Store {
    /// A claimer without labels: it takes only tasks that need none.
    public func claim(run: String, holder: String, limit: Int, leaseSeconds: Double, now: Date) async throws -> [ClaimedTask] {
        try await claim(run: run, holder: holder, labels: [], limit: limit, leaseSeconds: leaseSeconds, now: now)
    }
}

public enum RunAcquisition: Sendable, Equatable {
    /// `epoch`: the run's holder epoch after the take-over, the new holder's fencing token.
    case acquired(previousHolder: String?, epoch: Int64)
    /// Another orchestrator holds the run and its lease runs until `leaseUntil`.
    case heldBy(ProcessIdentity, leaseUntil: Date)
    case notFound
}

public enum RunRenewal: Sendable, Equatable {
    /// Still the holder; `tasks` task leases were renewed. `lapsed`: the stored lease had run out
    /// before this renewal (nobody took the run over meanwhile), so readers saw it interrupted.
    case renewed(tasks: Int, lapsed: Bool = false)
    /// Someone else took the run over (`by`; nil when nobody holds it now, or the run is gone).
    case lost(by: ProcessIdentity?, epoch: Int64)
}

public enum StoreError: Error, CustomStringConvertible, Sendable {
    case runExists(String)
    case unknownRun(String)
    case unknownTask(run: String, task: String)
    case corrupt(String)
    /// The store file cannot be used (damaged, unreadable, read-only); nothing was written to it.
    case unusable(path: String, problem: String, fix: String)

    public var description: String {
        switch self {
        case .runExists(let id): "run \(id) already exists"
        case .unknownRun(let id): "no run named \(id) (see `muster runs`)"
        case .unknownTask(let run, let task): "run \(run) has no task \(task) (see `muster status \(run)`)"
        case .corrupt(let what): "the store holds data muster cannot read: \(what)"
        case .unusable(let path, let problem, let fix): "the store \(path) \(problem); \(fix)"
        }
    }
}
