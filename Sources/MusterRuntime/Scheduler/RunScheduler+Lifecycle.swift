import Foundation
import MusterStore

/// A task's way from the Store's claim to its recorded outcome, as effects: claim, expand or wait
/// for limits, prepare git (worktree or in-place snapshot), launch, settle git (commit, ownership
/// check) and finish (the Store's transaction). The driver performs each effect and reports back;
/// the scheduler decides what follows, builds the outcomes of tasks that could not start, and
/// closes a batch with one `finish` so its failures go to the Store in one transaction.
extension RunScheduler {
    /// A task the Store gave out, as the scheduler needs to know it.
    public struct Claimed: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        public var failures: Int
        /// Its spec's `retries`.
        public var retries: Int
        /// A `foreach: from` stand-in: it is expanded, never launched.
        public var isExpander: Bool
        /// The `limits:` keys it uses: it waits for them before it is prepared.
        public var uses: [String]
        public var estimatedCostUSD: Double

        public init(task: String, attempt: Int = 1, failures: Int = 0, retries: Int = 0, isExpander: Bool = false,
                    uses: [String] = [], estimatedCostUSD: Double = 0) {
            self.task = task
            self.attempt = attempt
            self.failures = failures
            self.retries = retries
            self.isExpander = isExpander
            self.uses = uses
            self.estimatedCostUSD = estimatedCostUSD
        }
    }

    /// Where a prepared task will run, as the driver reports it (it keeps the git state itself).
    public enum Placement: Sendable, Equatable {
        /// Its worktree (or in-place snapshot) is ready: it is launched.
        case ready(task: String)
        /// Merging what it needs conflicted: it ends `blocked`, its dependents are skipped.
        case blocked(task: String, reason: String)
        /// Git could not set it up: a retryable failure.
        case failed(task: String, reason: String)
    }

    /// How a task's wait for its limits ended.
    public struct Admission: Sendable, Equatable {
        public var task: String
        /// Seconds it waited.
        public var waited: Double
        /// Why it could not get a turn (the whole message), nil when every key let it through.
        public var failure: String?
        /// The wait was called off (the run is stopping).
        public var calledOff: Bool

        public init(task: String, waited: Double = 0, failure: String? = nil, calledOff: Bool = false) {
            self.task = task
            self.waited = waited
            self.failure = failure
            self.calledOff = calledOff
        }
    }

    /// A task whose process exited, to settle: why the scheduler stopped it, if it did.
    public struct Exit: Sendable, Equatable {
        public var task: String
        public var stop: StopReason?
    }

    /// A settled task: its outcome, and what its `error` says as a case.
    public struct Settled: Sendable, Equatable {
        public var outcome: TaskOutcome
        public var issue: TaskIssue?
        public init(outcome: TaskOutcome, issue: TaskIssue? = nil) {
            self.outcome = outcome
            self.issue = issue
        }
    }

    /// The tasks of one claim (or one round of admissions) on their way to a launch. It closes when
    /// none is left under way: its failures go to the Store together, then the next claim when the
    /// claim filled every slot it asked for, expanded a task, or some of its tasks could not start.
    struct Batch: Sendable, Equatable {
        /// Claim again once it closes: the claim filled every slot asked for, or expanded a task.
        var again: Bool
        /// Tasks still being expanded, prepared or launched.
        var underWay: Set<String>
        /// Outcomes of tasks that could not start.
        var failures: [TaskOutcome] = []
    }

    /// A `.claim`, if the run accepts new tasks and has free slots.
    mutating func claimEffects() -> [SchedulerEffect] {
        let free = config.concurrency - occupied
        guard accepting && free > 0 else { return [] }
        asked = free
        return [.claim(free)]
    }

    mutating func claimed(_ tasks: [Claimed], into effects: inout [SchedulerEffect]) {
        // Nothing ready: the round of claims ends.
        guard !tasks.isEmpty else { return }
        var ready: [String] = []
        var expanders: [String] = []
        for task in tasks {
            claims[task.task] = task
            if task.isExpander {
                expanders.append(task.task)
            } else if task.uses.isEmpty {
                ready.append(task.task)
            } else {
                // Holds a slot until its wait ends (`admissions`).
                waiting[task.task] = task.estimatedCostUSD
                effects.append(.waitForLimits(task: task.task))
            }
        }
        batch = Batch(again: tasks.count >= asked || !expanders.isEmpty, underWay: Set(expanders + ready))
        for id in expanders { effects.append(.expand(task: id)) }
        if !ready.isEmpty { effects.append(.prepare(ready)) }
        closeIfDone(into: &effects)
    }

    mutating func admissions(_ list: [Admission], now: Date, into effects: inout [SchedulerEffect]) {
        var ready: [String] = []
        var failures: [TaskOutcome] = []
        for admission in list {
            guard let claim = claims[admission.task], waiting[admission.task] != nil else { continue }
            waiting[admission.task] = nil
            if !accepting || admission.calledOff {
                failures.append(notStarted(claim, now: now))
            } else if let problem = admission.failure {
                failures.append(failure(claim, error: problem, retryable: true, now: now))
            } else {
                if admission.waited >= Self.reportedWait {
                    let message = String(format: "waited %.1f s for ", admission.waited) + claim.uses.joined(separator: ", ")
                    effects.append(.appendEvent(kind: "limit.waiting", task: claim.task, message: message))
                }
                ready.append(claim.task)
            }
        }
        batch = Batch(again: false, underWay: Set(ready), failures: failures)
        if !ready.isEmpty { effects.append(.prepare(ready)) }
        closeIfDone(into: &effects)
    }

    mutating func expanded(_ task: String, error: String?, now: Date, into effects: inout [SchedulerEffect]) {
        guard let claim = claims[task] else { return }
        if let error {
            let outcome = failure(claim, error: error, retryable: false, now: now)
            batch?.failures.append(outcome)
        }
        finishedStarting(task, into: &effects)
    }

    mutating func placed(_ placements: [Placement], now: Date, into effects: inout [SchedulerEffect]) {
        var launch: [String] = []
        var ended: [String] = []
        for placement in placements {
            switch placement {
            case .ready(let task):
                launch.append(task)
            case .blocked(let task, let reason):
                guard let claim = claims[task] else { continue }
                batch?.failures.append(TaskOutcome(task: task, attempt: claim.attempt, result: .blocked, error: reason, costUSD: 0))
                ended.append(task)
            case .failed(let task, let reason):
                guard let claim = claims[task] else { continue }
                let outcome = failure(claim, error: reason, retryable: true, now: now)
                batch?.failures.append(outcome)
                ended.append(task)
            }
        }
        if !launch.isEmpty { effects.append(.launch(launch)) }
        for task in ended { finishedStarting(task, into: &effects) }
    }

    mutating func launchFailed(_ task: String, error: String, retryable: Bool, now: Date, into effects: inout [SchedulerEffect]) {
        guard let claim = claims[task] else { return }
        let outcome = failure(claim, error: error, retryable: retryable, now: now)
        batch?.failures.append(outcome)
        finishedStarting(task, into: &effects)
    }

    /// One task of the batch is launched, expanded or could not start.
    mutating func finishedStarting(_ task: String, into effects: inout [SchedulerEffect]) {
        claims[task] = nil
        guard batch?.underWay.remove(task) != nil else { return }
        closeIfDone(into: &effects)
    }

    mutating func closeIfDone(into effects: inout [SchedulerEffect]) {
        guard let open = batch, open.underWay.isEmpty else { return }
        batch = nil
        for outcome in open.failures { claims[outcome.task] = nil }
        if !open.failures.isEmpty {
            // Slots the failures left are claimed again, once the Store took them (an `on_failure:
            // stop` may end the run).
            claimAfterFinish = true
            effects.append(.finish(open.failures))
        } else if open.again {
            effects += claimEffects()
        }
    }

    mutating func exited(_ tasks: [String], into effects: inout [SchedulerEffect]) {
        let exits = tasks.map { Exit(task: $0, stop: running[$0]?.stop) }
        for task in tasks { running[task] = nil }
        if !exits.isEmpty { effects.append(.settle(exits)) }
    }

    /// Settled tasks go to the Store in one transaction; then what views and notifications follow:
    /// ownership violations, refused tool calls, owned files left unchanged.
    func settled(_ list: [Settled], into effects: inout [SchedulerEffect]) {
        guard !list.isEmpty else { return }
        let outcomes = list.map(\.outcome)
        effects.append(.finish(outcomes))
        for outcome in outcomes {
            guard let violations = outcome.git?.violations, !violations.isEmpty else { continue }
            effects.append(.appendEvent(kind: "ownership.violation", task: outcome.task, message: violations.joined(separator: ", ")))
        }
        for outcome in outcomes where outcome.agentFacts?.denied == true && outcome.result == .failed(retryAt: nil) {
            let list = outcome.agentFacts!.denials.prefix(10).map(\.shown).joined(separator: ", ")
            effects.append(.appendEvent(kind: "task.denied", task: outcome.task, message: list))
        }
        for item in list {
            guard case .warning(.unchanged)? = item.issue else { continue }
            effects.append(.appendEvent(kind: "task.unchanged", task: item.outcome.task, message: item.outcome.error ?? ""))
        }
    }

    /// A wait shorter than this is not worth an event.
    static let reportedWait = 1.0

    /// A failed outcome, retried after the back-off while the task has retries left.
    func failure(_ claim: Claimed, error: String, retryable: Bool, now: Date) -> TaskOutcome {
        let retryAt = retryAt(failures: claim.failures, retries: claim.retries, retryable: retryable, now: now)
        return TaskOutcome(task: claim.task, attempt: claim.attempt, result: .failed(retryAt: retryAt), error: error, costUSD: nil)
    }

    /// A claimed task whose wait for its limits ended because the run is stopping.
    func notStarted(_ claim: Claimed, now: Date) -> TaskOutcome {
        if cancelling {
            return TaskOutcome(task: claim.task, attempt: claim.attempt, result: .cancelled, error: "cancelled while waiting for its limits")
        }
        // Back in line without a failure; the run's end then closes it like every task that did not start.
        var outcome = TaskOutcome(task: claim.task, attempt: claim.attempt, result: .failed(retryAt: now),
                                  error: "not started: the run stopped while it waited for its limits")
        outcome.countsAsFailure = false
        return outcome
    }
}
