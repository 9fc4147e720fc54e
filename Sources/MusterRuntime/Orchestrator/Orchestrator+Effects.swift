import Foundation
import MusterCore
import MusterStore

/// The driver proper: it tells the scheduler an event and performs the effects it answers with,
/// in order, against the Store, the supervisor, the limit gate and git. An effect that has an
/// answer (`.claim` → `.claimed`, `.prepare` → `.placed`, `.settle` → `.settled`, `.finish` →
/// `.outcomesApplied`, …) is told back at once, so the effects that answer brings are performed
/// before the next of the list: depth first, one wake-up at a time.
extension Orchestrator.Loop {
    /// The run's wall clock (`RunOptions.clock`): the scheduler's `now` and every record's time.
    func clock() -> Date { o.clock() }

    mutating func tell(_ event: SchedulerEvent) async throws {
        let now = clock()
        for effect in scheduler.handle(event, now: now) { try await perform(effect, now: now) }
    }

    mutating func perform(_ effect: SchedulerEffect, now: Date) async throws {
        switch effect {
        case .claim(let limit):
            try await claim(limit)
        case .expand(let task):
            try await expand(task)
        case .waitForLimits(let id):
            guard let task = claimed[id] else { return }
            // Waits off the loop; the gate's answer comes back through the inbox (`admit`).
            let inbox = o.inbox
            gate.admit(task, run: run.id) { admission in inbox.push(admission) }
        case .prepare(let tasks):
            try await prepare(tasks)
        case .launch(let tasks):
            try await launch(tasks)
        case .settle(let exits):
            try await settle(exits)
        case .finish(let outcomes):
            try await apply(outcomes)
        case .signal(let task, let signal):
            guard let entry = running[task] else { return }
            ProcessSupervisor.signalGroup(entry.process.pgid, signal == .kill ? SIGKILL : SIGTERM)
        case .appendEvent(let kind, let task, let message):
            try await o.store.appendEvent(NewEvent(run: run.id, task: task, kind: kind, message: message, at: now))
        case .callOffWaits:
            gate.cancelPending()
        case .startCooldown(let task, let detail, let attempt):
            try await startLiveCooldown(task, detail: detail, attempt: attempt)
        case .renewLease:
            try await renewLease(now: now)
        case .stop(.holderLost(let holder)):
            throw OrchestratorError.holderLost(run: run.id, holder: holder)
        }
    }
}
