import Foundation
import MusterCore
import MusterStore

/// The decisions of one run, with no clock but the `now` it is handed and no Store, process or
/// git inside: events in, effects out (`handle(_:now:)`). The driver (`Orchestrator.Loop`) tells
/// it what happened and carries out what it answers; tests feed it events on a manual clock.
///
/// A task's lifecycle is effects too (`RunScheduler+Lifecycle`): claim, expand or wait for limits,
/// prepare git, launch, settle git, finish. The driver performs an effect and reports back what
/// came of it, depth first: the effects an answer brings are carried out before the next effect of
/// the same list, so a batch of claimed tasks is launched (or failed) before the next claim.
///
/// It decides: how many tasks to claim, timeouts, stalls and the kill after the grace, cancel
/// (first graceful, second kill), the budget (soft: nothing new starts; hard: running tasks stop),
/// `on_failure: stop`, retries with jittered back-off, rate-limit free retries, the live
/// rate-limit cool-down, and the run's lease: a woken orchestrator renews or stops.
public struct RunScheduler: Sendable {
    public struct Config: Sendable {
        public var concurrency: Int
        /// Seconds between SIGTERM and SIGKILL.
        public var grace: Double
        public var leaseSeconds: Double
        public var budgetUSD: Double?
        public var budgetHard: Bool
        public var onFailure: FailurePolicy
        public var backoff: Backoff
        /// Free retries after rate-limit errors, per task: past this a permanent 429 fails the task as usual.
        public var maxRateLimitRetries: Int

        public init(concurrency: Int, grace: Double = 5, leaseSeconds: Double = 30, budgetUSD: Double? = nil,
                    budgetHard: Bool = false, onFailure: FailurePolicy = .stop, backoff: Backoff = Backoff(),
                    maxRateLimitRetries: Int = 20) {
            self.concurrency = concurrency
            self.grace = grace
            self.leaseSeconds = leaseSeconds
            self.budgetUSD = budgetUSD
            self.budgetHard = budgetHard
            self.onFailure = onFailure
            self.backoff = backoff
            self.maxRateLimitRetries = maxRateLimitRetries
        }
    }

    /// A started task, as the scheduler needs to know it.
    public struct Launch: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        /// Failures so far: with `attempt`, how many free (rate-limit) retries it took.
        public var failures: Int
        public var timeout: Duration?
        public var stallTimeout: Duration?
        public var estimatedCostUSD: Double

        public init(task: String, attempt: Int = 1, failures: Int = 0, timeout: Duration? = nil,
                    stallTimeout: Duration? = nil, estimatedCostUSD: Double = 0) {
            self.task = task
            self.attempt = attempt
            self.failures = failures
            self.timeout = timeout
            self.stallTimeout = stallTimeout
            self.estimatedCostUSD = estimatedCostUSD
        }
    }

    public enum Signal: Sendable, Equatable { case terminate, kill }

    /// Why the scheduler stopped a task; its outcome says so.
    public enum StopReason: Sendable, Equatable {
        case timeout(Duration), stalled(Duration), cancelled, lostOrchestrator
        public var text: String {
            switch self {
            case .timeout(let d): "timed out after \(d.humanized)"
            case .stalled(let d): "stalled: no output for \(d.humanized)"
            case .cancelled: "cancelled"
            case .lostOrchestrator: "stopped: orchestrator error"
            }
        }
    }

    public enum StopCause: Sendable, Equatable { case holderLost(ProcessIdentity?) }

    /// A running task under supervision.
    public struct Supervised: Sendable, Equatable {
        public var launch: Launch
        public var deadline: Date?
        public var stop: StopReason?
        public var stopSentAt: Date?
        public var killed = false
        /// A live rate-limit signal already started the shared cool-down for this attempt.
        public var cooledDownLive = false
    }

    public let config: Config
    let random: any RandomSource
    public internal(set) var running: [String: Supervised] = [:]
    /// Claimed tasks waiting for their limits, with their estimated cost: they count against the concurrency.
    public internal(set) var waiting: [String: Double] = [:]
    /// `on_failure: stop` tripped: nothing new starts; running tasks finish.
    public internal(set) var stopping = false
    public internal(set) var cancelling = false
    /// The budget was reached: nothing new starts.
    public internal(set) var overBudget = false
    public internal(set) var interrupts = 0
    /// Running tasks blocked in `muster wait`: their slots lend out (to their children), or a fleet
    /// of waiting parents would hold every slot and deadlock the run.
    public internal(set) var blockedInWait = 0
    /// The last renewal of the run's lease.
    public internal(set) var lastRenewal: Date
    /// When the driver came back from being suspended past its lease: silence before it is not a
    /// task's stall (the orchestrator was not reading their output either).
    public internal(set) var resumedAt: Date?
    /// The silence measured when the renewal in flight was asked for.
    var renewalSilence: Double?
    /// Claimed tasks not yet launched or finished (see `RunScheduler+Lifecycle`).
    public internal(set) var claims: [String: Claimed] = [:]
    /// The claim (or round of admissions) whose tasks are on their way to a launch.
    var batch: Batch?
    /// How many tasks the last `.claim` asked for.
    var asked = 0
    /// Claim again once the Store took the closed batch's failures.
    var claimAfterFinish = false

    /// `cancelled`: `muster cancel` of a run nobody orchestrates; it is taken over only to close it.
    public init(config: Config, now: Date, cancelled: Bool = false, random: any RandomSource = SystemRandomSource()) {
        self.config = config
        self.random = random
        self.lastRenewal = now
        self.cancelling = cancelled
    }

    /// Nothing new starts once the run stops after a failure, is cancelled, or reached its budget.
    public var accepting: Bool { !stopping && !cancelling && !overBudget }
    /// Running tasks that hold a slot: those not blocked in `muster wait`.
    public var busy: Int { running.count - min(blockedInWait, running.count) }
    /// Tasks holding a worker slot: running (unless blocked in `muster wait`), or waiting for their limits.
    public var occupied: Int { busy + waiting.count }
    /// Nothing runs and nothing waits.
    public var idle: Bool { running.isEmpty && waiting.isEmpty }
    /// Why a running task was stopped, if it was: read by the driver before it reports the exit.
    public func stopReason(of task: String) -> StopReason? { running[task]?.stop }

    public mutating func handle(_ event: SchedulerEvent, now: Date) -> [SchedulerEffect] {
        var effects: [SchedulerEffect] = []
        switch event {
        case .dispatch:
            effects += claimEffects()
        case .claimed(let tasks):
            claimed(tasks, into: &effects)
        case .expanded(let task, let error):
            expanded(task, error: error, now: now, into: &effects)
        case .waitingForLimits(let task, let cost):
            waiting[task] = cost
        case .admitted(let task):
            waiting[task] = nil
        case .admissions(let list):
            admissions(list, now: now, into: &effects)
        case .placed(let placements):
            placed(placements, now: now, into: &effects)
        case .launched(let launch):
            running[launch.task] = Supervised(launch: launch, deadline: launch.timeout.map { now.addingTimeInterval($0.seconds) })
            finishedStarting(launch.task, into: &effects)
        case .launchFailed(let task, let error, let retryable):
            launchFailed(task, error: error, retryable: retryable, now: now, into: &effects)
        case .exited(let tasks):
            exited(tasks, into: &effects)
        case .settled(let list):
            settled(list, into: &effects)
        case .outcomesApplied(let outcomes, let applied):
            if config.onFailure == .stop,
               outcomes.contains(where: { applied.contains($0.task) && $0.result == .failed(retryAt: nil) }) {
                stopping = true
            }
            if claimAfterFinish {
                claimAfterFinish = false
                effects += claimEffects()
            }
        case .tick(let lastOutput):
            supervise(lastOutput: lastOutput, now: now, into: &effects)
        case .spent(let cost):
            checkBudget(spent: cost, now: now, into: &effects)
        case .blockedInWait(let count):
            blockedInWait = count
        case .cancelRequested:
            if accepting { beginCancel(reason: "cancel requested", now: now, into: &effects) }
        case .interrupt(let signal):
            interrupts += 1
            if interrupts == 1 {
                beginCancel(reason: "interrupted by signal \(signal)", now: now, into: &effects)
            } else {
                // A second Ctrl-C: no more grace.
                for id in running.keys.sorted() { effects.append(.signal(task: id, .kill)) }
            }
        case .rateLimitedLive(let task, let attempt, let detail):
            guard let entry = running[task], entry.launch.attempt == attempt, !entry.cooledDownLive,
                  entry.stopSentAt == nil else { break }
            running[task]?.cooledDownLive = true
            effects.append(.startCooldown(task: task, detail: detail, attempt: freeRetriesTaken(entry.launch) + 1))
        case .awake:
            checkLease(now: now, into: &effects)
        case .leaseRenewed(let lapsed):
            leaseRenewed(lapsed: lapsed, now: now, into: &effects)
        case .leaseLost(let holder):
            renewalSilence = nil
            effects.append(.stop(.holderLost(holder)))
        }
        // Stopping, cancelled or over budget: nothing waiting starts; each wait reports back as called off.
        if !accepting && !waiting.isEmpty { effects.append(.callOffWaits) }
        return effects
    }
}
