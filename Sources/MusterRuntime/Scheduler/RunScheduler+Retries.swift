import Foundation
import MusterCore

/// Where the jitter of back-offs comes from: the system's generator in a run, a fixed sequence in tests.
public protocol RandomSource: Sendable {
    /// A number in 0..<1.
    func unit() -> Double
}

public struct SystemRandomSource: RandomSource {
    public init() {}
    public func unit() -> Double { Double.random(in: 0..<1) }
}

/// Retries: when a failed task goes back in line, and how many free retries a rate limit buys.
extension RunScheduler {
    /// When a failed task retries, or nil when it failed for good: `retryable` failures retry while
    /// the task has `retries` left, after the workflow's back-off with jitter.
    public func retryAt(failures: Int, retries: Int, retryable: Bool, now: Date) -> Date? {
        guard retryable && failures + 1 <= retries else { return nil }
        return now.addingTimeInterval(config.backoff.delay(attempt: failures + 1, unit: random.unit()).seconds)
    }

    /// Attempts that were neither failures nor the first: the free (rate-limit) retries taken so far.
    func freeRetriesTaken(_ launch: Launch) -> Int { launch.attempt - 1 - launch.failures }

    /// The number of the next free retry after a rate-limit error (the cool-down's attempt), or nil
    /// when the task took all of them and fails as usual.
    public func freeRetry(attempt: Int, failures: Int) -> Int? {
        let taken = attempt - 1 - failures
        return taken < config.maxRateLimitRetries ? taken + 1 : nil
    }
}
