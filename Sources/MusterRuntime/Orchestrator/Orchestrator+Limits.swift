import Foundation
import MusterCore
import MusterStore

/// The loop's side of shared limits: starting tasks once the keys they `use` let them through,
/// charging what they really spent, and turning a rate-limit error into a shared cool-down and a
/// retry that does not spend one of the task's `retries`.
extension Orchestrator.Loop {
    /// Waits for limits that ended: the scheduler prepares and launches the tasks let through, and
    /// finishes the others unstarted (the run is stopping, or the wait failed).
    mutating func admit(_ admissions: [LimitGate.Admission]) async throws {
        var list: [RunScheduler.Admission] = []
        for admission in admissions {
            guard let task = claimed[admission.task] else { continue }
            let failure = admission.failure.map { "could not get a turn on \(task.spec.uses.joined(separator: ", ")): \($0)" }
            list.append(RunScheduler.Admission(task: task.id, waited: admission.waited, failure: failure, calledOff: admission.cancelled))
        }
        try await tell(.admissions(list))
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
                                                 maxWait: .greatestFiniteMagnitude, now: clock())
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
        let now = clock()
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
