import Foundation
import MusterCore
import MusterStore
import MusterSystem
import Synchronization

/// Runs one run to its end: claims ready tasks from the Store up to the concurrency, starts each as
/// an agent process, supervises timeouts and stalls, records every outcome, and fans out
/// `foreach: from` tasks when their source is done. Everything that must survive a crash is in the
/// Store before it is acted on; a killed orchestrator is replaced by `muster resume`.
///
/// State lives in one loop (`execute`): process exits, ticks and signals arrive as wake-ups, and
/// exits that pile up while the loop is busy are completed together in one transaction. The loop is
/// the driver of a `RunScheduler`, which makes every decision (see `Orchestrator+Supervision.swift`).
public final class Orchestrator: Sendable {
    public let store: any Store
    public let workspace: Workspace
    public let storePath: String
    public let runID: String
    public let options: RunOptions
    /// `options.clock`, else the store's.
    let clock: @Sendable () -> Date
    /// `worker@…` when this orchestrator is a worker (`RunOptions.worker`): it then holds tasks, never the run.
    let identity: ProcessIdentity
    let resolver = ExecutableResolver()
    let inbox: Inbox

    enum Wake: Sendable {
        case exits, tick, interrupt(Int32)
        /// Tasks waiting for their limits were let through (or their wait ended otherwise).
        case admitted
        /// Running agents printed something to act on now (see `LiveSignal`).
        case signals
    }

    /// Where the supervisor's I/O queue leaves exits, and the limit gate admissions, for the loop.
    final class Inbox: Sendable {
        let exits = Mutex<[ProcessExit]>([])
        let admissions = Mutex<[LimitGate.Admission]>([])
        let stream: AsyncStream<Wake>
        let continuation: AsyncStream<Wake>.Continuation

        init() {
            (stream, continuation) = AsyncStream.makeStream(of: Wake.self)
        }

        func push(_ exit: ProcessExit) {
            let first = exits.withLock { list in
                list.append(exit)
                return list.count == 1
            }
            if first { continuation.yield(.exits) }
        }

        func take() -> [ProcessExit] { exits.withLock { list in defer { list.removeAll() }; return list } }

        func push(_ admission: LimitGate.Admission) {
            let first = admissions.withLock { list in
                list.append(admission)
                return list.count == 1
            }
            if first { continuation.yield(.admitted) }
        }

        func takeAdmissions() -> [LimitGate.Admission] { admissions.withLock { list in defer { list.removeAll() }; return list } }

        let signals = Mutex<[TaskSignal]>([])

        /// From the supervisor's I/O thread: never blocks; at most a few signals per task pile up.
        func push(_ signal: TaskSignal) {
            let first = signals.withLock { list in
                guard list.count < 1000 else { return false }
                list.append(signal)
                return list.count == 1
            }
            if first { continuation.yield(.signals) }
        }

        func takeSignals() -> [TaskSignal] { signals.withLock { list in defer { list.removeAll() }; return list } }
    }

    public init(store: any Store, workspace: Workspace, storePath: String, run: String, options: RunOptions) {
        self.store = store
        self.workspace = workspace
        self.storePath = storePath
        self.runID = run
        self.options = options
        self.clock = options.clock ?? store.clock
        self.inbox = Inbox()
        self.identity = ProcessIdentity.current(role: options.worker == nil ? "orchestrator" : "worker")
    }

    /// Takes the run over (refusing if a live orchestrator holds it), stops orphans of a previous
    /// holder, and runs until every task is final, the run is cancelled, or it stops after a failure.
    public func execute() async throws -> RunOutcome {
        let started = ContinuousClock.now
        guard try await store.run(runID) != nil else { throw OrchestratorError.unknownRun(runID) }
        let epoch = options.worker == nil ? try await acquire() : 0
        // Read again: a resume's reopen changed it.
        guard let record = try await store.run(runID) else { throw OrchestratorError.unknownRun(runID) }
        let usesGit = record.baseCommit != nil && !record.simulate && workspace.isGitRepository
        var loop = try Loop(orchestrator: self, run: record, epoch: epoch,
                            worktrees: usesGit ? try await WorktreeManager.make(workspace: workspace, ready: record.workflow.worktree) : nil)
        let ticker = startTicker()
        // A worker's signals are trapped by the worker, which tells its `WorkerStop`.
        let signals = options.worker == nil ? SignalWatch(signals: [SIGINT, SIGTERM, SIGHUP]) { [inbox] signal in inbox.continuation.yield(.interrupt(signal)) } : nil
        let observation = options.worker?.stop.observe { [inbox] in inbox.continuation.yield(.interrupt(SIGTERM)) }
        defer {
            ticker.cancel()
            signals?.cancel()
            if let observation { options.worker?.stop.unobserve(observation) }
        }
        let watcher = try await startWatcher()
        defer { watcher?.cancel() }
        try await store.registerWorker(WorkerRecord(id: identity.id, run: runID, role: options.worker == nil ? "orchestrator" : "worker", host: identity.host,
                                                    pid: identity.pid, startedAt: clock(), heartbeatAt: clock(),
                                                    labels: options.claimLabels.isEmpty ? nil : options.claimLabels.sorted()))
        do {
            try await loop.run(started: started)
        } catch {
            // Leave the run resumable: stop what we started, keep every recorded state.
            await loop.stopAll(reason: "orchestrator error: \(error)")
            try? await store.removeWorker(id: identity.id)
            try? await store.releaseRun(runID, holder: identity.id)
            throw error
        }
        let status = options.worker == nil ? try await loop.finish() : try await loop.leave()
        try? await store.removeWorker(id: identity.id)
        try await store.releaseRun(runID, holder: identity.id)
        return RunOutcome(run: runID, status: status, counts: try await store.counts(run: runID),
                          elapsed: ContinuousClock.now - started)
    }

    /// Takes the run over (one compare-and-swap in the Store: a live holder whose lease runs is
    /// never displaced) and stops orphans of a previous holder. Returns the holder epoch, the
    /// fencing token every renewal checks.
    func acquire() async throws -> Int64 {
        switch try await store.acquireRun(runID, holder: identity, leaseSeconds: options.leaseSeconds, now: clock()) {
        case .acquired(let previous, let epoch):
            if previous != nil {
                let orphans = OrphanReaper.groupsOf(run: runID, store: storePath)
                let stopped = await OrphanReaper.stop(groups: orphans, grace: options.grace)
                if stopped > 0 {
                    try await store.appendEvent(NewEvent(run: runID, kind: "run.orphans_stopped",
                                                         message: "stopped \(stopped) process groups left by the previous orchestrator", at: clock()))
                }
            }
            if options.reopen {
                // Only the holder puts tasks back in line: a second `resume` refused above changes nothing.
                let reopened = try await store.reopen(runID, now: clock())
                options.reopened?(reopened)
            }
            return epoch
        case .heldBy(let holder, _): throw OrchestratorError.heldElsewhere(run: runID, holder: holder)
        case .notFound: throw OrchestratorError.unknownRun(runID)
        }
    }

    func startTicker() -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "muster.ticker"))
        let interval = Int(options.tick.seconds * 1000)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval), leeway: .milliseconds(10))
        timer.setEventHandler { [inbox] in inbox.continuation.yield(.tick) }
        timer.resume()
        return timer
    }
}

/// Turns signals into wake-ups of the loop instead of killing the process, so Ctrl-C can stop
/// every agent's process group cleanly and leave the run resumable.
final class SignalWatch {
    let signals: UnixSignals
    let relay: Task<Void, Never>

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        let trapped = UnixSignals(trapping: signals)
        self.signals = trapped
        relay = Task { for await signal in trapped { handler(signal) } }
    }

    func cancel() {
        signals.cancel()
    }
}
