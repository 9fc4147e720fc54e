import Foundation
import MusterStore
import MusterSystem
import Synchronization

/// `muster worker`: on any host, keeps a cached clone of the shared remote and runs tasks of runs
/// held by no orchestrator (`muster run --slots`), one run at a time, through the same orchestrator
/// code a local run uses (`RunOptions.worker`): claims, sandbox, limits, parsers, ownership checks.
public final class Worker: Sendable {
    public struct Options: Sendable {
        public var repository: String
        /// Where the clone is cached; nil: `${MUSTER_CACHE:-~/.cache/muster}`.
        public var cache: URL?
        public var slots: Int
        public var labels: Set<String> = []
        /// Only this run; nil: any run that has work.
        public var run: String?
        public var leaseSeconds: Double = 30
        public var grace: Duration = .seconds(5)
        /// How long a stop may take once no agent runs (after the second signal: `grace` plus this,
        /// whatever runs); past it the worker stops its agents and exits (`WorkerStopDeadline`).
        public var stopTimeout: Duration = .seconds(60)
        /// How the worker ends when its stop took too long (tests catch it; the CLI exits).
        public var exit: @Sendable (Int32) -> Void = { Foundation.exit($0) }
        /// Simulated runs: estimated minutes per real second.
        public var simulationSpeed: Double = 60
        /// Between looks for a run with work while idle.
        public var poll: Duration = .seconds(1)
        /// Stop once no run has work (instead of waiting for the next one).
        public var exitWhenIdle = false

        public init(repository: String, slots: Int) {
            self.repository = repository
            self.slots = slots
        }
    }

    /// What a worker did before it stopped.
    public struct Summary: Sendable, Codable {
        public var worker: String
        public var host: String
        public var runs: [String]
        public var clone: String
        public var stoppedBy: String
    }

    public let store: any Store
    public let storePath: String
    public let options: Options
    public let stop = WorkerStop()
    let identity = ProcessIdentity.current(role: "worker")
    /// The run this worker is taking part in now, for the hand-back of a forced stop.
    let serving = Mutex<String?>(nil)

    public init(store: any Store, storePath: String, options: Options) {
        self.store = store
        self.storePath = storePath
        self.options = options
    }

    public func serve(say: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Summary {
        let remote = RemoteRepository(url: options.repository, clone: RemoteRepository.cacheFolder(for: options.repository, cache: options.cache))
        try await remote.open()
        let workspace = Workspace(root: remote.clone, isGitRepository: true)
        try workspace.prepare()
        say("worker \(identity.id): clone \(remote.clone.path), \(options.slots) slots" + (options.labels.isEmpty ? "" : ", labels \(options.labels.sorted().joined(separator: ","))"))
        // The worker itself, listed by `muster ps` beside the per-run entries of the orchestrators it runs.
        try await store.registerWorker(WorkerRecord(id: identity.id, run: options.run ?? "*", role: "worker", host: identity.host,
                                                    pid: identity.pid, startedAt: store.clock(), heartbeatAt: store.clock(),
                                                    labels: options.labels.isEmpty ? nil : options.labels.sorted()))
        // Its own heartbeat, whether idle or running a run (the orchestrators it runs beat for themselves).
        let shared = self.store, id = identity.id
        let beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                try? await shared.heartbeatWorker(id: id, task: nil, now: shared.clock())
            }
        }
        defer { beat.cancel() }
        var served: [String] = []
        var stoppedBy = "signal"
        // The worker traps SIGTERM/SIGINT for its whole life (a process traps a signal once); the
        // orchestrator running a run hears of them through `WorkerStop`.
        let trap = SignalTrap(stop)
        defer { trap.cancel() }
        // However its loop fares, a stop ends within a bound (a stuck `await` must not outlast SIGTERM).
        let deadline = WorkerStopDeadline(stop: stop, bound: options.stopTimeout, grace: options.grace) { [self] reason, groups in
            forceStop(reason: reason, groups: groups)
        }
        defer { deadline.cancel() }
        while !stop.draining {
            let next: RunRecord?
            do {
                next = try await nextRun()
            } catch {
                say("worker: cannot read the store: \(error)")
                try await idle()
                continue
            }
            guard let run = next else {
                if options.exitWhenIdle { stoppedBy = "idle"; break }
                try await idle()
                continue
            }
            say("worker: joining run \(run.id)")
            var runOptions = RunOptions(concurrency: options.slots)
            runOptions.leaseSeconds = options.leaseSeconds
            runOptions.grace = options.grace
            runOptions.simulate = run.simulate
            runOptions.simulationSpeed = run.simulate ? options.simulationSpeed : 1
            runOptions.tick = .milliseconds(100)
            runOptions.worker = WorkerRole(remote: remote, labels: options.labels, stop: stop)
            runOptions.worker?.leavesWhenNothingToTake = true
            serving.withLock { $0 = run.id }
            defer { serving.withLock { $0 = nil } }
            do {
                _ = try await WorkflowRunner.execute(run: run.id, store: store, storePath: storePath, workspace: workspace, options: runOptions)
                if !served.contains(run.id) { served.append(run.id) }
            } catch let error as WorkerError {
                say("worker: \(error)")
                stoppedBy = "signal (handed back)"
                break
            } catch {
                // One run's trouble (its spec, a network blip) must not stop the worker: say it, look again.
                say("worker: run \(run.id): \(error)")
                try await idle()
            }
            if options.run != nil, (try? await store.run(run.id))?.status.isFinal == true { stoppedBy = "run finished"; break }
        }
        try? await store.removeWorker(id: identity.id)
        return Summary(worker: identity.id, host: identity.host, runs: served, clone: remote.clone.path, stoppedBy: stoppedBy)
    }

    /// Waits one poll while idle; a stop request ends the wait.
    func idle() async throws {
        let deadline = ContinuousClock.now + options.poll
        while ContinuousClock.now < deadline && !stop.draining { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// The oldest running run that a live coordinator shares (and no orchestrator holds) with work this worker may take: ready tasks,
    /// or tasks whose holder's lease lapsed, that need no label this worker lacks (`runs_on`). Runs stopping after a failure or
    /// cancelled are left alone.
    func nextRun() async throws -> RunRecord? {
        let now = store.clock()
        let candidates = try await store.runs(limit: 200).filter {
            $0.status == .running && !$0.cancelRequested && $0.holder == nil && (options.run == nil || $0.id == options.run)
        }
        for run in candidates.sorted(by: { $0.createdAt < $1.createdAt }) {
            // Only runs recorded for workers (`muster run --slots`): a local run is between record and take-over.
            guard try await Coordinator.isCoordinated(run.id, store: store, now: now) else { continue }
            let counts = try await store.counts(run: run.id)
            if run.workflow.onFailure == .stop && counts[.failed] > 0 { continue }
            guard counts[.ready] > 0 || counts[.running] > 0 else { continue }
            let labels = options.labels
            if try await store.tasks(run: run.id).contains(where: { task in
                let takeable = task.state == .ready || (task.state == .running && (task.leaseExpiresAt.map { $0 < now } ?? false))
                return takeable && task.spec.runsOn.allSatisfy(labels.contains)
            }) { return run }
        }
        return nil
    }
}

/// SIGTERM and SIGINT turned into `WorkerStop` requests.
final class SignalTrap {
    let signals: UnixSignals
    let relay: Task<Void, Never>

    init(_ stop: WorkerStop) {
        let trapped = UnixSignals(trapping: [SIGINT, SIGTERM])
        signals = trapped
        relay = Task { for await _ in trapped { stop.request() } }
    }

    /// Stops trapping, leaving the signals ignored (the worker is on its way out).
    func cancel() {
        signals.cancel(restoringDefaults: false)
        relay.cancel()
    }
}
