import Foundation
import MusterCore
import MusterStore

/// The few places where an orchestrator acting as a worker (`RunOptions.worker`) differs: see `WorkerRole`.
extension Orchestrator.Loop {
    /// A worker holds no run lease: it renews the leases of its own tasks (and its heartbeat). A task
    /// it no longer holds (it was silent past the lease and another worker took the task) has its
    /// agent stopped at once; the outcome it would report is rejected by the Store anyway.
    mutating func renewTaskLeases(now: Date) async throws {
        let renewed = try await o.store.heartbeat(run: run.id, holder: o.identity.id, leaseSeconds: o.options.leaseSeconds, now: now)
        try await tell(.leaseRenewed(lapsed: false))
        try await o.store.heartbeatWorker(id: o.identity.id, task: running.keys.sorted().first, now: now)
        await gate.renewAll()
        try await handBackUnknownClaims(held: renewed, now: now)
        guard renewed < running.count + claimed.count else { return }
        for (id, entry) in running where entry.stop == nil {
            let record = try await o.store.task(run: run.id, id: id)
            guard record?.holder != o.identity.id || record?.attempt != entry.task.attempt else { continue }
            ProcessSupervisor.signalGroup(entry.process.pgid, SIGKILL)
            running[id]?.stop = .cancelled
            try await o.store.appendEvent(NewEvent(run: run.id, task: id, kind: "task.lease_lost",
                                                   message: "\(o.identity.host): this worker's lease on attempt \(entry.task.attempt) lapsed and the task was taken over; its agent was stopped",
                                                   at: now))
        }
    }

    /// A `muster worker` with nothing in hand whose run has only tasks needing labels it lacks could
    /// wait there while other runs have work for it: it leaves (an event says why). Only runs whose
    /// spec has `runs_on` are looked at, at most once a second.
    mutating func nothingLeftForThisWorker() async throws -> Bool {
        guard let role = o.options.worker, role.leavesWhenNothingToTake,
              workflow.tasks.contains(where: { !($0.runsOn ?? []).isEmpty }),
              ContinuousClock.now - lastLabelCheck >= .seconds(1) else { return false }
        lastLabelCheck = ContinuousClock.now
        let labels = o.options.claimLabels
        let open = try await o.store.tasks(run: run.id).filter { !$0.state.isFinal }
        guard !open.isEmpty, open.allSatisfy({ !$0.spec.runsOn.allSatisfy(labels.contains) }) else { return false }
        let needed = Set(open.flatMap(\.spec.runsOn)).subtracting(labels).sorted().joined(separator: ",")
        try await o.store.appendEvent(NewEvent(run: run.id, kind: "worker.left",
                                               message: "\(o.identity.id): every task left needs a label it lacks (\(needed)); serving other runs",
                                               at: clock()))
        return true
    }

    /// Fetches the run's base and the commits the tasks need; nil when all are here, else why not.
    func fetchForWorker(base: String, needed: [String: [TaskRecord]]) async -> String? {
        guard let worker = o.options.worker else { return nil }
        do {
            try await worker.fetch(run: run.id, base: base, needed: needed.values.flatMap { $0 })
            return nil
        } catch {
            return "could not fetch from \(worker.remote.url): \(error)"
        }
    }

    /// Pushes a succeeded attempt's commit before the Store hears of it; the error text when it could not.
    func publishAttempt(_ task: TaskRecord, git: TaskGitState?) async -> String? {
        guard let worker = o.options.worker, let head = git?.headCommit else { return nil }
        do {
            try await worker.publishAttempt(run: run.id, task: task, head: head)
            return nil
        } catch {
            return "could not push its commit to \(worker.remote.url): \(error)"
        }
    }

    /// Moves the remote branch of every accepted success to its commit. A failure here loses
    /// nothing: the attempt's ref holds the commit, and the Store records it.
    func publishBranches(_ outcomes: [TaskOutcome], applied: [String]) async {
        guard let worker = o.options.worker else { return }
        let accepted = Set(applied)
        for outcome in outcomes where outcome.result == .succeeded && accepted.contains(outcome.task) {
            guard let head = outcome.git?.headCommit else { continue }
            do {
                try await worker.publishBranch(run: run.id, task: outcome.task, head: head)
            } catch {
                try? await o.store.appendEvent(NewEvent(run: run.id, task: outcome.task, kind: "task.push_failed",
                                                        message: "branch not moved on \(worker.remote.url): \(error)", at: clock()))
            }
        }
    }

    /// A worker's end of its part in a run: what it started is recorded, the run itself is left to
    /// its coordinator. Returns the run's status as the Store has it now.
    mutating func leave() async throws -> RunStatus {
        try await recordStarts()
        try await events.mirror(o.store, run: run.id)
        events.close()
        return try await o.store.run(run.id)?.status ?? .running
    }
}

extension Orchestrator.Loop {
    /// A worker's stop request (its SIGTERM or SIGINT, counted by `WorkerStop`): the first drains
    /// (nothing new is claimed; what runs finishes and is recorded), the second stops the agents and
    /// leaves their leases to lapse to another worker.
    mutating func workerInterrupt(_ signal: Int32, role: WorkerRole) async throws {
        if role.stop.handingBack {
            try await o.store.appendEvent(NewEvent(run: run.id, kind: "worker.handed_back",
                                                   message: "\(o.identity.id): stopped at once by signal \(signal); \(running.count) tasks left to lapse to other workers", at: clock()))
            throw WorkerError.handedBack(tasks: running.count)
        }
        try await o.store.appendEvent(NewEvent(run: run.id, kind: "worker.draining",
                                               message: "\(o.identity.id): signal \(signal): finishing its \(running.count) running tasks, claiming no more", at: clock()))
    }
}
