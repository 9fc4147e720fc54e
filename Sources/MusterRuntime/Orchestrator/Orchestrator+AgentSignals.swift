import Foundation
import MusterCore
import MusterStore

extension Orchestrator {
    /// A live signal from one attempt of a running task.
    struct TaskSignal: Sendable {
        var task: String
        var attempt: Int
        var signal: LiveSignal
    }
}

/// The loop's side of what agents say: signals read from their output while they run (a 429 the
/// CLI is still retrying starts the shared cool-down at once), and, when they end, refused tool
/// calls (`denied`), the model they used and what their usage cost.
extension Orchestrator.Loop {
    /// The line handler that feeds a task's output to its agent's live parser and posts what it
    /// finds to the loop; nil when the agent has no live parser.
    func liveLineHandler(_ adapter: any AgentAdapter, task: TaskRecord) -> OutputLineHandler? {
        guard let parser = adapter.liveSignals() else { return nil }
        let inbox = o.inbox
        let id = task.id, attempt = task.attempt
        return { line, fromStdout, truncated in
            guard let signal = parser.signal(in: line, fromStdout: fromStdout, truncated: truncated) else { return }
            inbox.push(Orchestrator.TaskSignal(task: id, attempt: attempt, signal: signal))
        }
    }

    /// Starts the shared cool-down on the `limits:` keys a task uses the first time its agent
    /// reports a 429/529 it is retrying, so every other acquirer holds off now rather than when
    /// this task gives up. The same Store call as `rateLimitRetry` after an exit.
    mutating func act(on signals: [Orchestrator.TaskSignal]) async throws {
        for item in signals {
            switch item.signal {
            case .rateLimited(_, let detail):
                // Once per attempt, and not for a task being stopped: the scheduler decides.
                try await tell(.rateLimitedLive(task: item.task, attempt: item.attempt, detail: detail))
            }
        }
    }

    /// The scheduler's `.startCooldown`: the cool-down on each `limits:` key the task uses (pools are not rate-limited).
    func startLiveCooldown(_ id: String, detail: String, attempt: Int) async throws {
        guard let task = running[id]?.task else { return }
        let now = clock()
        for key in task.spec.uses where gate.limits[key]?.isResource == false {
            let cooldown = try await gate.limiter.backOff(key: gate.storeKey(key), attempt: attempt)
            let message = "\(key): task \(task.id) is being rate-limited (\(detail)); cool-down #\(cooldown.attempt) until "
                + Self.timestamp(cooldown.until) + String(format: " (%.1f s)", cooldown.until.timeIntervalSince(now))
            try await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "limit.cooldown", message: message, at: now))
        }
    }

    /// The agent's own cost when it gives one, else its tokens at the price of the model it says it
    /// used (the task's when it says none). A reported $0 for real tokens means the agent has no
    /// price for its model: unknown (nil), never free.
    func cost(of report: AgentReport, task: PlannedTask, spendsTokens: Bool) -> Double? {
        let tokens = report.usage?.total ?? 0
        if let reported = report.costUSD, reported > 0 || tokens == 0 { return reported }
        if let usage = report.usage { return o.options.prices.cost(model: report.model ?? task.model, usage: usage) }
        return spendsTokens ? nil : 0
    }

    /// Records what the agent reported, and ends a task whose tool calls were refused as `denied`
    /// (a failure, not retried: the same permissions refuse the same calls) unless it may
    /// (`allow_denials: true`), in which case it succeeds with a warning listing them.
    /// Returns the issue it recorded, if any.
    func judgeDenials(_ report: AgentReport, task: TaskRecord, into outcome: inout TaskOutcome) -> TaskIssue? {
        var facts = AgentFacts(model: report.model, denials: Array(report.denials.prefix(AgentFacts.maxDenials)),
                               usagePartial: report.usagePartial)
        defer { outcome.agentFacts = facts.isEmpty ? nil : facts }
        guard !report.denials.isEmpty else { return nil }
        let shown = report.denials.prefix(5).map(\.shown).joined(separator: ", ") + (report.denials.count > 5 ? ", …" : "")
        let what = "\(report.denials.count) tool call\(report.denials.count == 1 ? " was" : "s were") refused: \(shown)"
        if task.spec.allowDenials {
            guard outcome.result == .succeeded, outcome.error == nil else { return nil }
            let issue = TaskIssue.warning(.deniedAllowed(what))
            outcome.error = issue.text
            return issue
        }
        guard outcome.result == .succeeded else { return nil }
        facts.denied = true
        let issue = TaskIssue.denied(what)
        outcome = failure(task, error: issue.text, retryable: issue.retryable, exitCode: outcome.exitCode)
        return issue
    }
}
