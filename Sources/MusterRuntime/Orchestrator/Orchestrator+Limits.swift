import Foundation
import MusterCore
import MusterStore

/// The loop's side of shared limits: starting tasks once the keys they `use` let them through,
/// charging what they really spent, and turning a rate-limit error into a shared cool-down and a
/// retry that does not spend one of the task's `retries`.
extension Orchestrator.Loop {
    /// A wait shorter than this is not worth an event.
    static let reportedWait = 1.0

    /// Starts the tasks their limits let through. A wait that was called off (the run is stopping)
    /// or that failed ends with the task unstarted.
    mutating func admit(_ admissions: [LimitGate.Admission]) async throws {
        var ready: [TaskRecord] = []
        var outcomes: [TaskOutcome] = []
        for admission in admissions {
            guard let task = waiting.removeValue(forKey: admission.task) else { continue }
            try await tell(.admitted(task: task.id))
            if !accepting || admission.cancelled {
                outcomes.append(notStarted(task))
            } else if let problem = admission.failure {
                outcomes.append(failure(task, error: "could not get a turn on \(task.spec.uses.joined(separator: ", ")): \(problem)",
                                        retryable: true))
            } else {
                if admission.waited >= Self.reportedWait {
                    let message = String(format: "waited %.1f s for ", admission.waited) + task.spec.uses.joined(separator: ", ")
                    try await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "limit.waiting", message: message, at: Date()))
                }
                ready.append(task)
            }
        }
        outcomes += try await start(ready)
        try await apply(outcomes)
    }

    /// A claimed task whose wait for its limits ended because the run is stopping.
    func notStarted(_ task: TaskRecord) -> TaskOutcome {
        if cancelling {
            return TaskOutcome(task: task.id, attempt: task.attempt, result: .cancelled, error: "cancelled while waiting for its limits")
        }
        // Back in line without a failure; `finish` then closes it like every task that did not start.
        var outcome = TaskOutcome(task: task.id, attempt: task.attempt, result: .failed(retryAt: Date()),
                                  error: "not started: the run stopped while it waited for its limits")
        outcome.countsAsFailure = false
        return outcome
    }

    /// After tasks end: charges the tokens they spent beyond their estimate to the limits they use
    /// (so later starts wait for the real spend), and retries a rate-limited failure for free.
    mutating func settleLimits(_ ended: [Ended], tasks: [String: TaskRecord]) async throws -> [TaskOutcome] {
        var outcomes: [TaskOutcome] = []
        for item in ended {
            var outcome = item.outcome
            if let task = tasks[outcome.task] {
                if let usage = outcome.usage { await chargeExtraTokens(task, usage: usage) }
                if item.rateLimited { outcome = try await rateLimitRetry(task, outcome) }
            }
            outcomes.append(outcome)
        }
        return outcomes
    }

    func chargeExtraTokens(_ task: TaskRecord, usage: TokenUsage) async {
        let extra = usage.input + usage.output - LimitGate.estimatedTokens(task.spec)
        guard extra > 0 else { return }
        for key in task.spec.uses {
            guard let limit = gate.rateLimit(key), limit.tokensPerMinute != nil else { continue }
            // Spent already: taken even when it leaves the bucket in debt.
            _ = try? await o.store.reserveTokens(key: gate.storeKey(key), requests: 0, tokens: extra, limit: limit,
                                                 maxWait: .greatestFiniteMagnitude, now: Date())
        }
    }

    /// Starts a shared cool-down on each `limits:` key the task uses (pools are not rate-limited) and puts
    /// the task back in line for when it ends, without counting a failure. A task on no limit waits
    /// `Cooldown.delay` on its own.
    mutating func rateLimitRetry(_ task: TaskRecord, _ failed: TaskOutcome) async throws -> TaskOutcome {
        var outcome = failed
        // The scheduler counts the free retries taken so far (attempts that were neither failures nor the first).
        guard let attempt = scheduler.freeRetry(attempt: task.attempt, failures: task.failures) else {
            outcome.error = TaskIssue.rateLimited(.exhausted(retries: scheduler.config.maxRateLimitRetries,
                                                             error: failed.error ?? "?")).text
            return outcome
        }
        let now = Date()
        var until = now
        var keys: [String] = []
        for key in task.spec.uses where gate.limits[key]?.isResource == false {
            let cooldown = try await gate.limiter.backOff(key: gate.storeKey(key), attempt: attempt)
            keys.append(key)
            until = max(until, cooldown.until)
            let message = "\(key): task \(task.id) was rate-limited; cool-down #\(cooldown.attempt) until \(Self.timestamp(cooldown.until))"
                + String(format: " (%.1f s)", cooldown.until.timeIntervalSince(now))
            try await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "limit.cooldown", message: message, at: now))
        }
        if keys.isEmpty {
            until = now.addingTimeInterval(Cooldown.delay(attempt: attempt))
            outcome.error = TaskIssue.rateLimited(.retrying(seconds: until.timeIntervalSince(now))).text
        } else {
            outcome.error = TaskIssue.rateLimited(.coolingDown(keys: keys, until: Self.timestamp(until))).text
        }
        outcome.result = .failed(retryAt: until)
        outcome.countsAsFailure = false
        return outcome
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
