import Foundation
import MusterCore

/// A shared limit on a key (an API, a connection pool): any of requests per minute, tokens per
/// minute and concurrent holders. `nil` means no limit on that dimension; zero or negative is refused.
///
/// Each per-minute figure is a token bucket that refills continuously at figure/60 per second and
/// holds at most `capacity(perMinute) = max(1, figure / 60 × burstSeconds)`: with the default burst
/// of 1 s, `requestsPerMinute: 600` lets 10 requests through at once after a quiet spell, then
/// one every 100 ms. Over any window of W seconds the bucket grants at most capacity + rate × W.
public struct RateLimit: Sendable, Codable, Equatable, Hashable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrent: Int?
    /// How many seconds of the rate the bucket may grant at once after a quiet spell.
    public var burstSeconds: Double

    public static let defaultBurstSeconds = 1.0

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrent: Int? = nil,
                burstSeconds: Double = RateLimit.defaultBurstSeconds) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrent = concurrent
        self.burstSeconds = burstSeconds
    }

    public var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrent == nil }

    /// The most a bucket refilling at `perMinute` holds.
    public func capacity(_ perMinute: Int) -> Double { max(1, Double(perMinute) / 60 * burstSeconds) }

    /// Refuses zero or negative limits (and a non-positive burst), naming the key and the field.
    public func validate(key: String) throws {
        guard !key.isEmpty else { throw LimitError.invalid("a limit needs a non-empty key") }
        for (name, value) in [("requests_per_minute", requestsPerMinute), ("tokens_per_minute", tokensPerMinute),
                              ("concurrent", concurrent)] {
            if let value, value <= 0 {
                throw LimitError.invalid("limit \(key): \(name) must be a positive whole number, not \(value)")
            }
        }
        guard burstSeconds > 0, burstSeconds.isFinite else {
            throw LimitError.invalid("limit \(key): burst must be more than zero seconds, not \(burstSeconds)")
        }
    }
}

extension RateLimit {
    /// The limit a workflow's `limits:` or `resources:` entry describes.
    public init(_ spec: LimitSpec) {
        self.init(requestsPerMinute: spec.requestsPerMinute, tokensPerMinute: spec.tokensPerMinute, concurrent: spec.concurrent,
                  burstSeconds: spec.burstSeconds ?? RateLimit.defaultBurstSeconds)
    }
}

/// The answer of a token bucket.
public enum Acquisition: Sendable, Equatable {
    /// Go now: the tokens are spent.
    case granted
    /// Nothing was taken: ask again after this many seconds (a cool-down, or an empty bucket).
    case wait(Double)
    /// The tokens are spent on your behalf, in arrival order: start after this many seconds.
    /// Only `reserveTokens` answers this; it is what keeps waiters from starving one another.
    case reserved(Double)
}

/// The answer of a concurrency slot (a semaphore).
public enum SlotAcquisition: Sendable, Equatable {
    /// `holder` holds a slot (a repeat acquisition renews its lease); `holders` counts them all, this one included.
    case acquired(holders: Int)
    /// Every slot is taken by a live lease; the soonest one expires in `retryAfter` seconds unless renewed or released.
    case full(holders: Int, retryAfter: Double)
}

/// A shared cool-down on a key after a rate-limit or overload error: nobody acquires until `until`.
public struct Cooldown: Sendable, Equatable, Codable {
    public var key: String
    /// How many cool-downs in a row (the back-off exponent).
    public var attempt: Int
    public var until: Date

    public init(key: String, attempt: Int, until: Date) {
        self.key = key
        self.attempt = attempt
        self.until = until
    }

    /// Exponential back-off: 1 s, 2 s, 4 s … capped at 5 min, times a random factor in 0.75...1.25 so a
    /// fleet that hit the same 429 does not come back in lockstep. A new cool-down within `escalationWindow`
    /// of the previous one's end counts as the next attempt even when the caller passes a lower one.
    public static let baseSeconds = 1.0
    public static let maxSeconds = 300.0
    public static let escalationWindow = 300.0

    public static func delay(attempt: Int, jitter: Double = Double.random(in: 0.75...1.25)) -> Double {
        let exponent = Double(min(max(attempt, 1) - 1, 30))
        return min(maxSeconds, baseSeconds * pow(2, exponent)) * jitter
    }
}

public enum LimitError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let text): text
        }
    }
}
