import Foundation
import MusterStore

/// What happened, told to `RunScheduler.handle(_:now:)` by its driver. Every event is a fact the
/// driver observed (a claim came back, a process exited, the lease was renewed); the scheduler
/// never asks for anything, it answers with `SchedulerEffect`s.
public enum SchedulerEvent: Sendable, Equatable {
    /// The driver has room to look for work: answered with `.claim(n)` when it may claim.
    case dispatch
    /// What the Store gave out for `.claim(n)` (empty: nothing is ready).
    case claimed([RunScheduler.Claimed])
    /// A `foreach: from` stand-in was replaced by its items (answer to `.expand`); `error`: it could not be.
    case expanded(task: String, error: String?)
    /// A claimed task waits for the `limits:` it uses; it holds a slot until `admitted`.
    case waitingForLimits(task: String, estimatedCostUSD: Double)
    /// A task's wait for its limits ended (let through, called off or failed).
    case admitted(task: String)
    /// Waits for limits that ended (answer to `.waitForLimits`), read together: the tasks let
    /// through are prepared together and the others finish in one transaction.
    case admissions([RunScheduler.Admission])
    /// Where the tasks of a `.prepare` will run, in the order asked.
    case placed([RunScheduler.Placement])
    /// A task's process started (answer to `.launch`).
    case launched(RunScheduler.Launch)
    /// A task's process could not start (answer to `.launch`): `error` is the whole message.
    case launchFailed(task: String, error: String, retryable: Bool)
    /// Tasks' processes exited, read together: answered with one `.settle`.
    case exited(tasks: [String])
    /// What came of the tasks of a `.settle` (their outcomes judged, their git settled).
    case settled([RunScheduler.Settled])
    /// Outcomes went to the Store; `applied` are those it accepted (not a lost lease's).
    case outcomesApplied([TaskOutcome], applied: Set<String>)
    /// The clock moved: timeouts, stalls and kills after the grace. `lastOutput` per running task.
    case tick(lastOutput: [String: Date])
    /// What the run has spent so far (from the Store's counts): the budget check.
    case spent(costUSD: Double)
    /// Running tasks blocked in `muster wait`: their slots lend out to their children.
    case blockedInWait(Int)
    /// `muster cancel` asked for it (read from the Store).
    case cancelRequested
    /// SIGINT/SIGTERM/SIGHUP: the first cancels gracefully, the next kills.
    case interrupt(signal: Int32)
    /// A running agent said it is being rate-limited (a 429/529 it is retrying).
    case rateLimitedLive(task: String, attempt: Int, detail: String)
    /// The driver is awake and about to act: the lease check comes first.
    case awake
    /// The run's lease was renewed (answer to `.renewLease`); `lapsed`: the Store had seen it run out.
    case leaseRenewed(lapsed: Bool)
    /// Someone else holds the run now (answer to `.renewLease`).
    case leaseLost(holder: ProcessIdentity?)
}

/// What the driver must do, in order. An effect the driver answers with an event (`.claim` with
/// `.claimed`, `.prepare` with `.placed`, …) is answered before the next effect is carried out.
public enum SchedulerEffect: Sendable, Equatable {
    /// Claim up to this many ready tasks from the Store (stopping the orphans a previous holder
    /// left on this host), then report `.claimed`.
    case claim(Int)
    /// Replace a `foreach: from` stand-in with one task per item its source printed; report `.expanded`.
    case expand(task: String)
    /// Wait for the `limits:` the task uses, off the loop; report `.admissions` when waits end.
    case waitForLimits(task: String)
    /// Prepare git for these tasks (a worktree merging what each needs, or an in-place snapshot);
    /// report `.placed`.
    case prepare([String])
    /// Start these tasks' agents where they were placed; report `.launched` or `.launchFailed` for each.
    case launch([String])
    /// Judge these exited tasks: their agent's report, then git (commit on the task's branch, the
    /// ownership check of the diff); report `.settled`.
    case settle([RunScheduler.Exit])
    /// Record these outcomes in the Store, in one transaction; report `.outcomesApplied`.
    case finish([TaskOutcome])
    /// Signal a running task's process group.
    case signal(task: String, RunScheduler.Signal)
    /// Append an event to the run's log.
    case appendEvent(kind: String, task: String?, message: String)
    /// The run no longer starts anything: every wait for limits reports back as called off.
    case callOffWaits
    /// Start the shared cool-down on the task's rate-limited keys; `attempt` is the cool-down's number.
    case startCooldown(task: String, detail: String, attempt: Int)
    /// Renew the run's lease (fenced by the holder epoch), then report `.leaseRenewed` or `.leaseLost`.
    case renewLease
    /// Stop the run now (another orchestrator holds it).
    case stop(RunScheduler.StopCause)
}
