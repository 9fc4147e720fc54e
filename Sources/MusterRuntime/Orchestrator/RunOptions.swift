import Foundation
import MusterCore
import MusterStore

public struct RunOptions: Sendable {
    public var concurrency: Int
    /// The run's and each claimed task's lease; renewed every third of it while the orchestrator
    /// lives. An orchestrator silent for longer (suspended, stuck) may be replaced by `muster resume`.
    public var leaseSeconds: Double = 30
    /// `muster resume`: once the run is taken over, put failed, skipped and cancelled tasks back in line.
    public var reopen = false
    /// Told how many tasks `reopen` put back in line.
    public var reopened: (@Sendable (Int) -> Void)?
    /// Between SIGTERM and SIGKILL when a task is stopped.
    public var grace: Duration = .seconds(5)
    public var simulate = false
    public var simulationSpeed: Double = 1
    public var tick: Duration = .milliseconds(100)
    /// Dollars; nil takes the workflow's `budget`. See `Loop.checkBudget`.
    public var budgetUSD: Double?
    /// On reaching the budget, stop running tasks too (SIGTERM to their process groups).
    public var budgetHard = false
    /// How often live worktrees are checked for conflicts with each other while the run goes on.
    public var conflictCheckInterval: Duration = .seconds(10)
    public var prices: PriceTable = .defaults
    /// Per-child characters of `{{needs.X.summaries}}`; nil sizes it so 100 children fit a prompt.
    public var summaryChars: Int?
    /// Called a few times a second with the run's counts, for a progress line.
    public var progress: (@Sendable (RunProgress) -> Void)?
    /// Variables laid over every token-spending agent's environment, last (`--rehearse` points each
    /// agent's API at muster's model stub this way; nothing else of the launch changes).
    public var agentEnvironment: (@Sendable (AgentLaunch) -> [String: String])?
    /// The wall clock every decision and record of the run reads (the scheduler's `now`, leases,
    /// events); nil: the store's (`StoreReader.clock`). Tests hand in a clock of their own. Tick
    /// cadence is measured on `ContinuousClock`.
    public var clock: (@Sendable () -> Date)?

    /// Set for `muster worker` (and `muster run --slots`): run tasks of a run held by no one, moving
    /// commits through a shared remote (see `WorkerRole`).
    public var worker: WorkerRole?
    /// The labels this orchestrator claims with (`muster run --labels`): it takes only tasks whose
    /// `runs_on` they cover. A worker's are its `WorkerRole.labels`, added to these.
    public var labels: Set<String> = []

    public init(concurrency: Int) { self.concurrency = concurrency }

    /// Every label the orchestrator claims with.
    public var claimLabels: Set<String> { labels.union(worker?.labels ?? []) }
}

/// One agent task about to start, as `RunOptions.agentEnvironment` sees it.
public struct AgentLaunch: Sendable {
    public var run: String
    public var task: TaskRecord
    /// The profile name (`careful`) and the built-in agent it is based on (`claude`).
    public var agent: String
    public var base: String
    /// Where the agent runs: its worktree, or the repository for `isolation: none`.
    public var directory: String
}

public struct RunProgress: Sendable {
    public var run: String
    public var counts: TaskCounts
    public var elapsed: Duration
}

public struct RunOutcome: Sendable {
    public var run: String
    public var status: RunStatus
    public var counts: TaskCounts
    public var elapsed: Duration
}

public enum OrchestratorError: Error, CustomStringConvertible, Sendable {
    case heldElsewhere(run: String, holder: ProcessIdentity)
    /// This orchestrator's holder epoch is no longer the run's: someone took the run over.
    case holderLost(run: String, holder: ProcessIdentity?)
    case unknownRun(String)
    case alreadyFinished(String)

    public var description: String {
        switch self {
        case .heldElsewhere(let run, let holder):
            "run \(run) is being orchestrated by pid \(holder.pid) on \(holder.host); stop it with `muster cancel \(run)` or wait for it"
        case .holderLost(let run, let holder):
            "run \(run) was taken over by "
                + (holder.map { "pid \($0.pid) on \($0.host)" } ?? "another orchestrator")
                + " while this one was suspended past its lease; stopped without touching the new holder's tasks"
        case .unknownRun(let run): StoreError.unknownRun(run).description
        case .alreadyFinished(let run): "run \(run) already succeeded; nothing to resume"
        }
    }
}
