import Foundation

/// A token bucket as stored: its level when it was last written, and when (seconds since 1970).
public struct BucketLevel: Sendable, Equatable {
    public var level: Double
    public var updatedAt: Double
    public init(level: Double, updatedAt: Double) {
        self.level = level
        self.updatedAt = updatedAt
    }
}

/// A cool-down as stored: how many in a row, and when it ends.
public struct StoredCooldown: Sendable, Equatable {
    public var attempt: Int
    public var until: Double
    public init(attempt: Int, until: Double) {
        self.attempt = attempt
        self.until = until
    }
}

/// What a limit decision writes back: each dimension's new level (stored at the decision's time),
/// and the answer. No writes: the buckets stay as they were.
public struct BucketDecision: Sendable, Equatable {
    public var answer: Acquisition
    public var writes: [Write]
    public init(answer: Acquisition, writes: [Write]) {
        self.answer = answer
        self.writes = writes
    }

    public struct Write: Sendable, Equatable {
        public var dimension: String
        public var level: Double
        public init(dimension: String, level: Double) {
            self.dimension = dimension
            self.level = level
        }
    }
}

/// The arithmetic of shared limits, once for every store: a store reads the key's cool-down and
/// buckets inside its transaction, asks here, and writes back what it is told. Pure: no clock but `t`.
public enum LimitRules {
    /// One bucket a request draws from.
    public struct Demand: Sendable, Equatable {
        public var dimension: String
        public var amount: Double
        public var perMinute: Int
    }

    /// The buckets a request draws from, in a fixed order ("requests", then "tokens").
    public static func demands(requests: Int, tokens: Int, limit: RateLimit) -> [Demand] {
        var demands: [Demand] = []
        if let rpm = limit.requestsPerMinute { demands.append(Demand(dimension: "requests", amount: Double(requests), perMinute: rpm)) }
        if let tpm = limit.tokensPerMinute { demands.append(Demand(dimension: "tokens", amount: Double(tokens), perMinute: tpm)) }
        return demands
    }

    /// Refuses bad limits and negative amounts before anything is read or written.
    public static func validate(key: String, requests: Int, tokens: Int, limit: RateLimit) throws {
        try limit.validate(key: key)
        guard requests >= 0, tokens >= 0 else {
            throw LimitError.invalid("limit \(key): cannot take a negative amount (requests \(requests), tokens \(tokens))")
        }
    }

    /// Dates carry about 0.1 µs of rounding: a bucket within 1 µs of refill of the amount counts as
    /// holding it (20 + 0.3 s × 100/s is 50, not 49.99999).
    public static func slack(_ perMinute: Int) -> Double { Double(perMinute) / 60 * 1e-6 + 1e-9 }

    /// The bucket's level at `t`: refilled since its last update, never above capacity; a new bucket starts full.
    /// Another host's clock may run a little ahead: never refill backwards.
    public static func level(_ stored: BucketLevel?, perMinute: Int, limit: RateLimit, at t: Double) -> Double {
        let capacity = limit.capacity(perMinute)
        guard let stored else { return capacity }
        return min(capacity, stored.level + max(0, t - stored.updatedAt) * Double(perMinute) / 60)
    }

    /// The cool-down still running at `t`, if any.
    public static func active(_ stored: StoredCooldown?, key: String, at t: Double) -> Cooldown? {
        guard let stored, stored.until > t else { return nil }
        return Cooldown(key: key, attempt: stored.attempt, until: Date(timeIntervalSince1970: stored.until))
    }

    /// Takes the amounts if every bucket holds them, else nothing and `.wait` for the slowest refill.
    /// A request bigger than a bucket goes through when the bucket is full, leaving it in debt.
    public static func acquire(key: String, requests: Int, tokens: Int, limit: RateLimit, buckets: [String: BucketLevel],
                               cooldown: StoredCooldown?, at t: Double) -> BucketDecision {
        if let active = active(cooldown, key: key, at: t) {
            return BucketDecision(answer: .wait(active.until.timeIntervalSince1970 - t), writes: [])
        }
        var levels: [(String, Double, Double)] = []
        var wait = 0.0
        for demand in demands(requests: requests, tokens: tokens, limit: limit) {
            let level = level(buckets[demand.dimension], perMinute: demand.perMinute, limit: limit, at: t)
            let needed = min(demand.amount, limit.capacity(demand.perMinute))
            if level + slack(demand.perMinute) < needed { wait = max(wait, (needed - level) / (Double(demand.perMinute) / 60)) }
            levels.append((demand.dimension, level, demand.amount))
        }
        // Written even when waiting: the refilled level at `t` is the same bucket, and a later read is cheaper.
        let writes = levels.map { BucketDecision.Write(dimension: $0.0, level: wait > 0 ? $0.1 : $0.1 - $0.2) }
        return BucketDecision(answer: wait > 0 ? .wait(wait) : .granted, writes: writes)
    }

    /// Spends the amounts ahead of time when a bucket is short (`.reserved(start)`: arrival order,
    /// so no waiter starves); nothing when the start would be later than `maxWait`, or during a cool-down.
    public static func reserve(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double,
                               buckets: [String: BucketLevel], cooldown: StoredCooldown?, at t: Double) -> BucketDecision {
        if let active = active(cooldown, key: key, at: t) {
            return BucketDecision(answer: .wait(active.until.timeIntervalSince1970 - t), writes: [])
        }
        var writes: [BucketDecision.Write] = []
        var start = 0.0
        for demand in demands(requests: requests, tokens: tokens, limit: limit) {
            let after = level(buckets[demand.dimension], perMinute: demand.perMinute, limit: limit, at: t) - demand.amount
            // An oversized request waits only until the bucket would be full, as in `acquire`.
            let debtAllowed = max(0, demand.amount - limit.capacity(demand.perMinute))
            if after + slack(demand.perMinute) < -debtAllowed { start = max(start, (-debtAllowed - after) / (Double(demand.perMinute) / 60)) }
            writes.append(.init(dimension: demand.dimension, level: after))
        }
        if start > maxWait { return BucketDecision(answer: .wait(start - maxWait), writes: []) }
        return BucketDecision(answer: start > 0 ? .reserved(start) : .granted, writes: writes)
    }

    /// The cool-down to record after a rate-limit error (attempt `attempt`, back-off jittered by
    /// `jitter`), given the key's stored one; `write` false: the running one already covers it.
    /// Workers hitting the same wave of 429s share one cool-down: never shorter, never escalated twice.
    public static func cooldown(key: String, attempt: Int, stored: StoredCooldown?, jitter: Double,
                                at t: Double) -> (cooldown: Cooldown, write: Bool) {
        var effective = max(attempt, 1)
        var current: Cooldown?
        if let stored {
            if stored.until > t {
                current = Cooldown(key: key, attempt: stored.attempt, until: Date(timeIntervalSince1970: stored.until))
                effective = max(effective, stored.attempt)
            } else if t - stored.until < Cooldown.escalationWindow {
                effective = max(effective, stored.attempt + 1)
            }
        }
        let until = t + Cooldown.delay(attempt: effective, jitter: jitter)
        if let current, current.until.timeIntervalSince1970 >= until, current.attempt >= effective { return (current, false) }
        let chosen = max(until, current?.until.timeIntervalSince1970 ?? 0)
        return (Cooldown(key: key, attempt: effective, until: Date(timeIntervalSince1970: chosen)), true)
    }
}
