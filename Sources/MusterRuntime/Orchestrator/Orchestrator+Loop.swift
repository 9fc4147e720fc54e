import Foundation
import MusterCore
import MusterStore

extension Orchestrator {
    /// The driver of one run: it tells its `RunScheduler` what happened (exits, ticks, admissions,
    /// signals, the lease) and carries out what the scheduler decides against the Store, the
    /// supervisor, the sandbox and git. Only `execute` touches it, one wake-up at a time.
    struct Loop {
        let o: Orchestrator
        let run: RunRecord
        let supervisor: ProcessSupervisor
        /// Every decision: what to claim, when to stop a task, cancel, budget, retries, the lease.
        var scheduler: RunScheduler
        var running: [String: Running] = [:]
        /// Claimed tasks not yet launched or finished (waiting for their limits, being prepared).
        var claimed: [String: TaskRecord] = [:]
        /// Where prepared tasks will run, until they are launched.
        var placements: [String: Placement] = [:]
        /// Exited tasks until they are settled.
        var exiting: [String: (Running, ProcessExit)] = [:]
        let gate: LimitGate
        /// The run's holder epoch when this orchestrator took it: every renewal is fenced by it.
        let epoch: Int64
        var lastSlowTick = ContinuousClock.now
        var started = ContinuousClock.now
        var events: EventMirror
        var groupResults: [String: [TaskRecord]] = [:]
        /// What a `join: true` task sees of a group it needs: its members, then everything they spawned.
        var joinResults: [String: [TaskRecord]] = [:]
        /// Started processes not yet in the Store: recorded with the next completions (one
        /// transaction instead of two) or at the next tick. Until then a crash is covered by the
        /// /proc scan for the run's environment markers.
        var unrecordedStarts: [StartedProcess] = []
        /// The orchestrator's own environment, read once: every task starts from it.
        let baseEnvironment = ProcessInfo.processInfo.environment
        let conflicts: ConflictWatch?
        var lastConflictCheck = ContinuousClock.now
        /// nil when tasks run in place: outside git, or simulated.
        let worktrees: WorktreeManager?
        /// How tasks are sandboxed; set when the loop starts (`Sandbox/`).
        var sandbox: SandboxLaunch?
        /// When a worker last looked for tasks it may take (`nothingLeftForThisWorker`).
        var lastLabelCheck = ContinuousClock.now


        struct Running {
            var task: TaskRecord
            var process: LaunchedProcess
            var adapter: any AgentAdapter
            /// Why the scheduler stopped it, read when it exits (`RunScheduler.stopReason(of:)`).
            var stop: StopReason?
            var git: TaskGitState?
            /// `isolation: none`: the working tree before the task, to find what it changed.
            var snapshot: String?
            /// `isolation: none`: the `owns` of other in-place tasks that ran at the same time. Their
            /// changes show up in this task's before/after comparison too, and are not its violations.
            var peerOwns: [String] = []
            /// The sandbox it runs in, for the `task.sandbox` event; `none…` when it has none.
            var sandbox = "none"
        }

        /// Where a claimed task will run, decided before it starts.
        enum Placement: Sendable {
            case worktree(TaskGitState)
            case inPlace(snapshot: String?)
            /// Merging what it needs conflicted (why).
            case blocked(String)
            case failed(String)
        }

        typealias StopReason = RunScheduler.StopReason

        init(orchestrator: Orchestrator, run: RunRecord, epoch: Int64, worktrees: WorktreeManager?) throws {
            o = orchestrator
            self.epoch = epoch
            self.worktrees = worktrees
            conflicts = worktrees.map { ConflictWatch(repository: $0.workspace.root.path, store: orchestrator.store, run: run.id,
                                                    clock: orchestrator.clock) }
            self.run = run
            let inbox = orchestrator.inbox
            supervisor = ProcessSupervisor { exit in inbox.push(exit) }
            // A simulated run spends nothing real: it waits on buckets of its own, at the simulation's speed.
            gate = LimitGate(limiter: RateLimiter(store: orchestrator.store), limits: run.workflow.limits ?? [:],
                             leaseSeconds: orchestrator.options.leaseSeconds,
                             keyPrefix: run.simulate ? "simulated/\(run.id)/" : "",
                             rateScale: run.simulate ? max(orchestrator.options.simulationSpeed, 1) : 1)
            let runDir = orchestrator.workspace.runDirectory(run.id)
            try FileManager.default.createDirectory(at: runDir.appendingPathComponent("tasks"), withIntermediateDirectories: true)
            events = try EventMirror(path: runDir.appendingPathComponent("events.jsonl").path)
            let options = orchestrator.options
            // `muster cancel` of a run nobody orchestrates: take it over only to close it.
            scheduler = RunScheduler(config: RunScheduler.Config(
                concurrency: options.concurrency, grace: options.grace.seconds, leaseSeconds: options.leaseSeconds,
                budgetUSD: options.budgetUSD ?? run.workflow.budgetUSD,
                budgetHard: options.budgetHard || run.workflow.budgetHard == true,
                onFailure: run.workflow.onFailure, backoff: run.workflow.backoff), now: orchestrator.clock(), cancelled: run.cancelRequested)
        }

        var workflow: Workflow { run.workflow }
        var concurrency: Int { o.options.concurrency }
        var accepting: Bool { scheduler.accepting && !(o.options.worker?.stop.draining ?? false) }
        var cancelling: Bool { scheduler.cancelling }
        /// Tasks holding a worker slot: running (unless blocked in `muster wait`), or waiting for their limits.
        var occupied: Int { scheduler.occupied }

        mutating func run(started: ContinuousClock.Instant) async throws {
            self.started = started
            sandbox = try await SandboxLaunch.prepare(for: run, orchestrator: o)
            var wakes = o.inbox.stream.makeAsyncIterator()
            var needDispatch = true
            while true {
                if needDispatch && accepting {
                    needDispatch = false
                    try await dispatch()
                }
                if running.isEmpty && scheduler.waiting.isEmpty {
                    if !accepting { break }
                    if try await o.store.counts(run: run.id).unfinished == 0 { break }
                    if claimed.isEmpty, try await nothingLeftForThisWorker() { break }
                }
                guard let wake = await wakes.next() else { break }
                // Before acting on anything (an exit, a tick, a signal): still the run's holder?
                try await holdRun()
                switch wake {
                case .exits:
                    try await complete(o.inbox.take())
                    try await checkBudget()
                    needDispatch = true
                case .tick:
                    try await tick()
                    if occupied < concurrency { needDispatch = true }
                case .interrupt(let signal):
                    if let role = o.options.worker { try await workerInterrupt(signal, role: role) } else { try await tell(.interrupt(signal: signal)) }
                case .admitted:
                    try await admit(o.inbox.takeAdmissions())
                    try await checkBudget()
                    needDispatch = true
                case .signals:
                    try await act(on: o.inbox.takeSignals())
                }
            }
        }
    }
}
