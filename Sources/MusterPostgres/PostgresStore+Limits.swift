import Foundation
import MusterStore
import PostgresNIO

/// Shared limits: token buckets, semaphores and cool-downs. Each decision runs in one transaction
/// holding the key's advisory lock, so every process on every host sees one bucket. The arithmetic
/// is the SQLite store's, on the same `now` (see `PostgresStore` on clocks).
extension PostgresStore {
    /// Dates carry about 0.1 µs of rounding: a bucket within 1 µs of refill of the amount counts as holding it.
    static func slack(_ perMinute: Int) -> Double { Double(perMinute) / 60 * 1e-6 + 1e-9 }

    static func demands(requests: Int, tokens: Int, limit: RateLimit) -> [(dimension: String, amount: Double, perMinute: Int)] {
        var demands: [(String, Double, Int)] = []
        if let rpm = limit.requestsPerMinute { demands.append(("requests", Double(requests), rpm)) }
        if let tpm = limit.tokensPerMinute { demands.append(("tokens", Double(tokens), tpm)) }
        return demands
    }

    static func validate(key: String, requests: Int, tokens: Int, limit: RateLimit) throws {
        try limit.validate(key: key)
        guard requests >= 0, tokens >= 0 else {
            throw LimitError.invalid("limit \(key): cannot take a negative amount (requests \(requests), tokens \(tokens))")
        }
    }

    /// The bucket's level at `t`: refilled since its last update, never above capacity; a new bucket starts full.
    static func level(_ sql: SQL, key: String, dimension: String, perMinute: Int, limit: RateLimit, at t: Double) async throws -> Double {
        let capacity = limit.capacity(perMinute)
        guard let row = try await sql.row("""
            SELECT level, updated_at FROM limit_buckets WHERE key = \(key) AND dimension = \(dimension)
            """) else { return capacity }
        let level: Double = try row.get("level"), updated: Double = try row.get("updated_at")
        // Another host's clock may run a little ahead: never refill backwards.
        return min(capacity, level + max(0, t - updated) * Double(perMinute) / 60)
    }

    static func store(_ sql: SQL, key: String, dimension: String, level: Double, at t: Double) async throws {
        try await sql.rows("""
            INSERT INTO limit_buckets (key, dimension, level, updated_at) VALUES (\(key), \(dimension), \(level), \(t))
            ON CONFLICT (key, dimension) DO UPDATE SET level = EXCLUDED.level, updated_at = EXCLUDED.updated_at
            """)
    }

    static func activeCooldown(_ sql: SQL, key: String, at t: Double) async throws -> Cooldown? {
        guard let row = try await sql.row("SELECT attempt, until FROM limit_cooldowns WHERE key = \(key)") else { return nil }
        let until: Double = try row.get("until")
        return until > t ? Cooldown(key: key, attempt: try row.get("attempt"), until: Date(timeIntervalSince1970: until)) : nil
    }

    public func acquireTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, now: Date) async throws -> Acquisition {
        try Self.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockKey("limit:" + key)
            if let cooldown = try await Self.activeCooldown(sql, key: key, at: t) { return .wait(cooldown.until.timeIntervalSince1970 - t) }
            var levels: [(String, Double, Double)] = []
            var wait = 0.0
            for demand in Self.demands(requests: requests, tokens: tokens, limit: limit) {
                let level = try await Self.level(sql, key: key, dimension: demand.dimension, perMinute: demand.perMinute, limit: limit, at: t)
                // A request bigger than the bucket goes through when the bucket is full, leaving it in debt.
                let needed = min(demand.amount, limit.capacity(demand.perMinute))
                if level + Self.slack(demand.perMinute) < needed { wait = max(wait, (needed - level) / (Double(demand.perMinute) / 60)) }
                levels.append((demand.dimension, level, demand.amount))
            }
            for (dimension, level, amount) in levels {
                try await Self.store(sql, key: key, dimension: dimension, level: wait > 0 ? level : level - amount, at: t)
            }
            return wait > 0 ? .wait(wait) : .granted
        }
    }

    public func reserveTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double,
                              now: Date) async throws -> Acquisition {
        try Self.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockKey("limit:" + key)
            if let cooldown = try await Self.activeCooldown(sql, key: key, at: t) { return .wait(cooldown.until.timeIntervalSince1970 - t) }
            var levels: [(String, Double)] = []
            var start = 0.0
            for demand in Self.demands(requests: requests, tokens: tokens, limit: limit) {
                let level = try await Self.level(sql, key: key, dimension: demand.dimension, perMinute: demand.perMinute, limit: limit, at: t)
                let after = level - demand.amount
                // An oversized request waits only until the bucket would be full, as in `acquireTokens`.
                let debtAllowed = max(0, demand.amount - limit.capacity(demand.perMinute))
                if after + Self.slack(demand.perMinute) < -debtAllowed { start = max(start, (-debtAllowed - after) / (Double(demand.perMinute) / 60)) }
                levels.append((demand.dimension, after))
            }
            if start > maxWait { return .wait(start - maxWait) }
            for (dimension, level) in levels { try await Self.store(sql, key: key, dimension: dimension, level: level, at: t) }
            return start > 0 ? .reserved(start) : .granted
        }
    }

    public func acquireSlot(key: String, capacity: Int, holder: String, leaseSeconds: Double, now: Date) async throws -> SlotAcquisition {
        guard capacity > 0 else { throw LimitError.invalid("limit \(key): concurrent must be a positive whole number, not \(capacity)") }
        guard leaseSeconds > 0 else { throw LimitError.invalid("limit \(key): a slot's lease must be more than zero seconds") }
        let t = now.timeIntervalSince1970
        // One round trip (migration pg5): the same steps as the token buckets', under the key's lock.
        guard let row = try await autocommit("""
            SELECT * FROM muster_acquire_slot(\(key), \(capacity), \(holder), \(leaseSeconds), \(t))
            """).first else { throw StoreError.corrupt("muster_acquire_slot returned nothing") }
        let holders: Int = try row.get("o_holders")
        return try row.get("o_acquired", as: Bool.self) ? .acquired(holders: holders)
            : .full(holders: holders, retryAfter: try row.get("o_retry"))
    }

    public func releaseSlot(key: String, holder: String) async throws -> Bool {
        try await autocommit("DELETE FROM limit_slots WHERE key = \(key) AND holder = \(holder) RETURNING 1").count == 1
    }

    public func startCooldown(key: String, attempt: Int, now: Date) async throws -> Cooldown {
        guard !key.isEmpty else { throw LimitError.invalid("a cool-down needs a non-empty key") }
        let t = now.timeIntervalSince1970
        let jitter = Double.random(in: 0.75...1.25)
        return try await transaction { sql in
            try await sql.lockKey("limit:" + key)
            var effective = max(attempt, 1)
            var current: Cooldown?
            if let row = try await sql.row("SELECT attempt, until FROM limit_cooldowns WHERE key = \(key)") {
                let previous: Int = try row.get("attempt"), until: Double = try row.get("until")
                if until > t {
                    // Workers hitting the same wave of 429s share one cool-down: never shorten it, never escalate twice.
                    current = Cooldown(key: key, attempt: previous, until: Date(timeIntervalSince1970: until))
                    effective = max(effective, previous)
                } else if t - until < Cooldown.escalationWindow {
                    effective = max(effective, previous + 1)
                }
            }
            let until = t + Cooldown.delay(attempt: effective, jitter: jitter)
            if let current, current.until.timeIntervalSince1970 >= until, current.attempt >= effective { return current }
            let chosen = max(until, current?.until.timeIntervalSince1970 ?? 0)
            try await sql.rows("""
                INSERT INTO limit_cooldowns (key, attempt, started_at, until) VALUES (\(key), \(effective), \(t), \(chosen))
                ON CONFLICT (key) DO UPDATE SET attempt = EXCLUDED.attempt, started_at = EXCLUDED.started_at, until = EXCLUDED.until
                """)
            return Cooldown(key: key, attempt: effective, until: Date(timeIntervalSince1970: chosen))
        }
    }

    public func cooldown(key: String, now: Date) async throws -> Cooldown? {
        let t = now.timeIntervalSince1970
        guard let row = try await autocommit("SELECT attempt, until FROM limit_cooldowns WHERE key = \(key) AND until > \(t)").first else {
            return nil
        }
        return Cooldown(key: key, attempt: try row.get("attempt"), until: Date(timeIntervalSince1970: try row.get("until")))
    }

    public func activeCooldowns(now: Date) async throws -> [Cooldown] {
        try await autocommit("""
            SELECT key, attempt, until FROM limit_cooldowns WHERE until > \(now.timeIntervalSince1970) ORDER BY until
            """).map { row in
            Cooldown(key: try row.get("key"), attempt: try row.get("attempt"), until: Date(timeIntervalSince1970: try row.get("until")))
        }
    }
}
