import Foundation
import MusterCore
import MusterStore

/// The driver's side of supervision: it hands the scheduler the time and what it observed (output,
/// spend, cancel requests, signals, the lease); `Orchestrator+Effects` carries out what it answers.
extension Orchestrator.Loop {
    /// Renews the run's lease, fenced by the holder epoch, and tells the scheduler how it went.
    mutating func renewLease(now: Date) async throws {
        if o.options.worker != nil { return try await renewTaskLeases(now: now) }
        switch try await o.store.renewRun(run.id, holder: o.identity.id, epoch: epoch, leaseSeconds: o.options.leaseSeconds, now: now) {
        case .renewed(_, let lapsed):
            try await tell(.leaseRenewed(lapsed: lapsed))
            try await o.store.heartbeatWorker(id: o.identity.id, task: nil, now: now)
            await gate.renewAll()
            try await handBackUnknownClaims(held: try await o.store.counts(run: run.id)[.running], now: now)
        case .lost(let holder, _):
            try await tell(.leaseLost(holder: holder))
        }
    }

    /// Before acting on anything (an exit, a tick, a signal, a long dispatch): still the run's holder?
    /// See `RunScheduler+Lease`.
    mutating func holdRun() async throws {
        try await tell(.awake)
    }

    /// Stops dispatching once what was spent plus the estimated cost of the running tasks reaches
    /// the budget (decided by the scheduler; `--budget-hard` stops running tasks too).
    mutating func checkBudget(counts known: TaskCounts? = nil) async throws {
        guard scheduler.watchesBudget else { return }
        let counts: TaskCounts
        if let known { counts = known } else { counts = try await o.store.counts(run: run.id) }
        try await tell(.spent(costUSD: counts.costUSD))
    }

    func estimatedCost(_ task: TaskRecord) -> Double {
        let usage = TokenUsage(input: task.spec.estimate?.inputTokens ?? 0, output: task.spec.estimate?.outputTokens ?? 0)
        return o.options.prices.cost(model: task.spec.model, usage: usage) ?? 0
    }

    mutating func recordStarts() async throws {
        guard !unrecordedStarts.isEmpty else { return }
        try await o.store.recordProcesses(run: run.id, holder: o.identity.id, unrecordedStarts, now: clock())
        unrecordedStarts.removeAll()
    }

    mutating func tick() async throws {
        // Exits that arrived while the loop was busy come first: a task that already ended is
        // never judged stalled or timed out.
        let pending = o.inbox.take()
        if !pending.isEmpty { try await complete(pending) }
        try await recordStarts()
        try await tell(.tick(lastOutput: running.mapValues { $0.process.output.lastOutput }))
        let clock = ContinuousClock.now
        if let conflicts, clock - lastConflictCheck >= o.options.conflictCheckInterval {
            lastConflictCheck = clock
            conflicts.check(running.values.compactMap { entry in
                guard let git = entry.git, let path = git.worktree else { return nil }
                return ConflictPredictor.Worktree(task: entry.task.id, path: path, baseCommit: git.baseCommit,
                                                  scratch: entry.adapter.scratchFiles)
            })
        }
        if clock - lastSlowTick >= .milliseconds(250) {
            lastSlowTick = clock
            // One read of the counts serves the slots lent by `muster wait`, the budget and the progress line.
            let counts = try await o.store.counts(run: run.id)
            try await tell(.blockedInWait(counts.waiting))
            if accepting, try await o.store.run(run.id)?.cancelRequested == true {
                try await tell(.cancelRequested)
            }
            try await checkBudget(counts: counts)
            try await events.mirror(o.store, run: run.id)
            try await reportProgress(counts)
        }
    }

    /// Error path: stop every process group, leaving the tasks leased so `resume` picks them up.
    mutating func stopAll(reason: String) async {
        gate.cancelPending()
        // Not the groups of tasks already known to have ended: their ids may have been reused
        // (a new holder's task, say, when this one lost the run).
        let ended = Set(o.inbox.take().map(\.key))
        await OrphanReaper.stop(groups: Set(running.filter { !ended.contains($0.key) }.values.map(\.process.pgid)), grace: o.options.grace)
        await gate.releaseAll()
    }

    func reportProgress(_ known: TaskCounts? = nil) async throws {
        guard let progress = o.options.progress else { return }
        let counts: TaskCounts
        if let known { counts = known } else { counts = try await o.store.counts(run: run.id) }
        progress(RunProgress(run: run.id, counts: counts, elapsed: ContinuousClock.now - started))
    }

    mutating func finish() async throws -> RunStatus {
        try await recordStarts()
        if scheduler.cancelling {
            _ = try await o.store.closeUnstarted(run: run.id, state: .cancelled, reason: "cancelled before it started", now: clock())
        } else if scheduler.stopping {
            _ = try await o.store.closeUnstarted(run: run.id, state: .skipped,
                                                 reason: "not started: the run stopped after a failure (on_failure: stop)", now: clock())
        } else if scheduler.overBudget {
            _ = try await o.store.closeUnstarted(run: run.id, state: .skipped, reason: "not started: the budget was reached", now: clock())
        }
        let counts = try await o.store.counts(run: run.id)
        let status: RunStatus = scheduler.cancelling ? .cancelled : (counts[.succeeded] == counts.total ? .succeeded : .failed)
        try await o.store.finishRun(run.id, status: status, now: clock())
        try await events.mirror(o.store, run: run.id)
        try await reportProgress()
        events.close()
        return status
    }
}
