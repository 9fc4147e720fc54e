import Foundation
import MusterCore
import MusterStore
import MusterSystem
import Synchronization

/// `muster run --slots 0` (and `muster resume --slots 0`): coordinates a run that workers on any
/// host execute, without running tasks itself. It leaves the run unheld (so workers may claim its
/// tasks; the Store fences each outcome by holder and attempt) and holds instead the lease-backed
/// lock `coordinator:<run>`, so one coordinator acts at a time and another host's `resume --slots 0`
/// takes over once it is gone. What it decides: the end of the run, closing what cannot start after
/// a failure (`on_failure: stop`), past the budget, or on `muster cancel`. Promotion of dependents
/// and spawning happen in the Store's own transactions; workers expand `foreach: from` tasks.
public struct Coordinator: Sendable {
    public let store: any Store
    public let run: String
    public var leaseSeconds: Double = 30
    public var tick: Duration = .milliseconds(250)
    public var progress: (@Sendable (RunProgress) -> Void)?
    /// `muster resume --slots`: once coordination is taken, put failed, skipped and cancelled tasks back in line.
    public var reopen = false
    let identity = ProcessIdentity.current(role: "coordinator")

    public init(store: any Store, run: String) {
        self.store = store
        self.run = run
    }

    public static func lockPath(run: String) -> String { "coordinator:\(run)" }

    /// Whether a live coordinator holds the run (its lock's lease runs): `muster cancel` then only asks.
    public static func isCoordinated(_ run: String, store: any Store, now: Date? = nil) async throws -> Bool {
        let now = now ?? store.clock()
        return try await store.locks().contains { $0.path == lockPath(run: run) && $0.expiresAt > now }
    }

    /// Pushes the run's base commit to the shared remote, where workers fetch it.
    public static func publishBase(run: String, base: String, repository: URL, remote: String) async throws {
        try await RemoteRepository(url: remote, clone: repository).push(base, to: RemoteRepository.baseRef(run: run))
    }

    public func execute() async throws -> RunOutcome {
        let started = ContinuousClock.now
        guard let record = try await store.run(run) else { throw OrchestratorError.unknownRun(run) }
        try await hold()
        if reopen { _ = try await store.reopen(run, now: store.clock()) }
        try await store.registerWorker(WorkerRecord(id: identity.id, run: run, role: "coordinator", host: identity.host,
                                                    pid: identity.pid, startedAt: store.clock(), heartbeatAt: store.clock()))
        try await store.appendEvent(NewEvent(run: run, kind: "run.coordinated",
                                             message: "\(identity.id) coordinates; tasks run on `muster worker` hosts", at: store.clock()))
        let signals = UnixSignals(trapping: [SIGINT, SIGTERM, SIGHUP])
        let interrupted = Interrupted()
        let watch = Task { for await _ in signals { interrupted.set() } }
        defer {
            signals.cancel()
            watch.cancel()
        }
        var closed = false
        var lastHold = ContinuousClock.now
        let budget = record.workflow.budgetUSD
        while true {
            let counts = try await store.counts(run: run)
            progress?(RunProgress(run: run, counts: counts, elapsed: ContinuousClock.now - started))
            guard let current = try await store.run(run) else { throw OrchestratorError.unknownRun(run) }
            if current.status.isFinal {
                try await leave()
                return RunOutcome(run: run, status: current.status, counts: counts, elapsed: ContinuousClock.now - started)
            }
            if !closed, let reason = closing(current, counts: counts, budget: budget) {
                closed = true
                _ = try await store.closeUnstarted(run: run, state: reason.state, reason: reason.text, now: store.clock())
            }
            if counts.unfinished == 0 {
                let status: RunStatus = current.cancelRequested ? .cancelled : (counts[.succeeded] == counts.total ? .succeeded : .failed)
                try await store.finishRun(run, status: status, now: store.clock())
                try await leave()
                return RunOutcome(run: run, status: status, counts: try await store.counts(run: run), elapsed: ContinuousClock.now - started)
            }
            if interrupted.value {
                // Workers go on; another `muster resume --slots 0` (any host) takes coordination over.
                try await leave()
                return RunOutcome(run: run, status: .running, counts: counts, elapsed: ContinuousClock.now - started)
            }
            if ContinuousClock.now - lastHold >= .seconds(leaseSeconds / 3) {
                try await hold()
                try await store.heartbeatWorker(id: identity.id, task: nil, now: store.clock())
                lastHold = ContinuousClock.now
            }
            try await Task.sleep(for: tick)
        }
    }

    /// What closes the tasks not started yet, if anything.
    func closing(_ run: RunRecord, counts: TaskCounts, budget: Double?) -> (state: TaskState, text: String)? {
        if run.cancelRequested { return (.cancelled, "cancelled before it started") }
        if run.workflow.onFailure == .stop && counts[.failed] > 0 {
            return (.skipped, "not started: the run stopped after a failure (on_failure: stop)")
        }
        if let budget, counts.costUSD >= budget { return (.skipped, "not started: the budget was reached") }
        return nil
    }

    /// Takes (or renews) the coordinator lock: one coordinator at a time, a lapsed one replaced.
    func hold() async throws {
        let request = LockRequest(path: Self.lockPath(run: run), holder: identity.id, host: identity.host, pid: identity.pid,
                                  run: run, ttl: leaseSeconds)
        if case .heldBy(let lock) = try await store.acquireLock(request, now: store.clock()) {
            throw WorkerError.coordinatedElsewhere(run: run, holder: lock.holder, host: lock.host)
        }
    }

    func leave() async throws {
        _ = try await store.releaseLock(path: Self.lockPath(run: run), holder: identity.id)
        try await store.removeWorker(id: identity.id)
    }
}

/// Set once from the signal relay, read by the loop.
final class Interrupted: Sendable {
    let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var value: Bool { flag.withLock { $0 } }
}
