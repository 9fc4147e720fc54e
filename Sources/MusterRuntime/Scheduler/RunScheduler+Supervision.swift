import Foundation
import MusterStore

/// Timeouts, stalls, the kill after the grace, cancel and the budget.
extension RunScheduler {
    mutating func supervise(lastOutput: [String: Date], now: Date, into effects: inout [SchedulerEffect]) {
        for id in running.keys.sorted() {
            guard let entry = running[id] else { continue }
            if let sent = entry.stopSentAt {
                if !entry.killed, now.timeIntervalSince(sent) >= config.grace {
                    effects.append(.signal(task: id, .kill))
                    running[id]?.killed = true
                }
                continue
            }
            if let deadline = entry.deadline, now >= deadline, let timeout = entry.launch.timeout {
                stop(id, reason: .timeout(timeout), now: now, into: &effects)
            } else if let stall = entry.launch.stallTimeout, let output = lastOutput[id],
                      now.timeIntervalSince(max(output, resumedAt ?? .distantPast)) >= stall.seconds {
                stop(id, reason: .stalled(stall), now: now, into: &effects)
                effects.append(.appendEvent(kind: "task.stalled", task: id, message: StopReason.stalled(stall).text))
            }
        }
    }

    /// SIGTERM to the task's process group, once; the kill follows after the grace (`supervise`).
    mutating func stop(_ id: String, reason: StopReason, now: Date, into effects: inout [SchedulerEffect]) {
        guard let entry = running[id], entry.stopSentAt == nil else { return }
        effects.append(.signal(task: id, .terminate))
        running[id]?.stop = reason
        running[id]?.stopSentAt = now
    }

    mutating func beginCancel(reason: String, now: Date, into effects: inout [SchedulerEffect]) {
        cancelling = true
        effects.append(.appendEvent(kind: "run.cancelling", task: nil, message: reason))
        for id in running.keys.sorted() { stop(id, reason: .cancelled, now: now, into: &effects) }
    }

    /// Whether the budget is watched at all: the driver reads what was spent only then.
    public var watchesBudget: Bool { !overBudget && config.budgetUSD != nil }

    /// Stops dispatching once what was spent plus the estimated cost of the running tasks reaches
    /// the budget. A running task counts at its `estimate`; one waiting for its limits is about to
    /// start, so it counts like a running one.
    mutating func checkBudget(spent: Double, now: Date, into effects: inout [SchedulerEffect]) {
        guard !overBudget, let budget = config.budgetUSD else { return }
        let estimated = running.values.reduce(0.0) { $0 + $1.launch.estimatedCostUSD } + waiting.values.reduce(0.0, +)
        guard spent + estimated >= budget else { return }
        overBudget = true
        let message = String(format: "spent $%.4f + $%.4f estimated for %d running tasks reaches the budget of $%.2f: ",
                             spent, estimated, occupied, budget)
            + (config.budgetHard ? "stopping running tasks" : "no new tasks start; running ones finish")
        effects.append(.appendEvent(kind: "budget.exceeded", task: nil, message: message))
        if config.budgetHard {
            for id in running.keys.sorted() { stop(id, reason: .cancelled, now: now, into: &effects) }
        }
    }
}
