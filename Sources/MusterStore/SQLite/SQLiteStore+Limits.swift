import Foundation
import GRDB

/// Shared limits: token buckets, semaphores and cool-downs, each decided in one `BEGIN IMMEDIATE`
/// transaction, so every process sharing the file sees one bucket.
extension SQLiteStore {
    /// Dates carry about 0.1 µs of rounding: a bucket within 1 µs of refill of the amount counts as
    /// holding it (20 + 0.3 s × 100/s is 50, not 49.99999).
    static func slack(_ perMinute: Int) -> Double { Double(perMinute) / 60 * 1e-6 + 1e-9 }

    /// The buckets a request draws from: (dimension, amount wanted, per-minute figure).
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
    static func level(_ db: Database, key: String, dimension: String, perMinute: Int, limit: RateLimit, at t: Double) throws -> Double {
        let capacity = limit.capacity(perMinute)
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT level, updated_at FROM limit_buckets WHERE key = ? AND dimension = ?"),
                                         arguments: [key, dimension]) else { return capacity }
        let (level, updated): (Double, Double) = (row["level"], row["updated_at"])
        // Another process's clock may run a little ahead: never refill backwards.
        return min(capacity, level + max(0, t - updated) * Double(perMinute) / 60)
    }

    static func store(_ db: Database, key: String, dimension: String, level: Double, at t: Double) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO limit_buckets (key, dimension, level, updated_at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [key, dimension, level, t])
    }

    static func activeCooldown(_ db: Database, key: String, at t: Double) throws -> Cooldown? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT attempt, until FROM limit_cooldowns WHERE key = ?"),
                                         arguments: [key]) else { return nil }
        let until: Double = row["until"]
        return until > t ? Cooldown(key: key, attempt: row["attempt"], until: Date(timeIntervalSince1970: until)) : nil
    }

    public func acquireTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, now: Date) async throws -> Acquisition {
        try Self.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await write { db in
            if let cooldown = try Self.activeCooldown(db, key: key, at: t) { return .wait(cooldown.until.timeIntervalSince1970 - t) }
            var levels: [(String, Double, Double)] = []
            var wait = 0.0
            for demand in Self.demands(requests: requests, tokens: tokens, limit: limit) {
                let level = try Self.level(db, key: key, dimension: demand.dimension, perMinute: demand.perMinute, limit: limit, at: t)
                // A request bigger than the bucket goes through when the bucket is full, leaving it in debt.
                let needed = min(demand.amount, limit.capacity(demand.perMinute))
                if level + Self.slack(demand.perMinute) < needed { wait = max(wait, (needed - level) / (Double(demand.perMinute) / 60)) }
                levels.append((demand.dimension, level, demand.amount))
            }
            for (dimension, level, amount) in levels {
                try Self.store(db, key: key, dimension: dimension, level: wait > 0 ? level : level - amount, at: t)
            }
            return wait > 0 ? .wait(wait) : .granted
        }
    }

    public func reserveTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double,
                              now: Date) async throws -> Acquisition {
        try Self.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await write { db in
            if let cooldown = try Self.activeCooldown(db, key: key, at: t) { return .wait(cooldown.until.timeIntervalSince1970 - t) }
            var levels: [(String, Double)] = []
            var start = 0.0
            for demand in Self.demands(requests: requests, tokens: tokens, limit: limit) {
                let level = try Self.level(db, key: key, dimension: demand.dimension, perMinute: demand.perMinute, limit: limit, at: t)
                let after = level - demand.amount
                // An oversized request waits only until the bucket would be full, as in `acquireTokens`.
                let debtAllowed = max(0, demand.amount - limit.capacity(demand.perMinute))
                if after + Self.slack(demand.perMinute) < -debtAllowed { start = max(start, (-debtAllowed - after) / (Double(demand.perMinute) / 60)) }
                levels.append((demand.dimension, after))
            }
            if start > maxWait { return .wait(start - maxWait) }
            for (dimension, level) in levels { try Self.store(db, key: key, dimension: dimension, level: level, at: t) }
            return start > 0 ? .reserved(start) : .granted
        }
    }

    public func acquireSlot(key: String, capacity: Int, holder: String, leaseSeconds: Double, now: Date) async throws -> SlotAcquisition {
        guard capacity > 0 else { throw LimitError.invalid("limit \(key): concurrent must be a positive whole number, not \(capacity)") }
        guard leaseSeconds > 0 else { throw LimitError.invalid("limit \(key): a slot's lease must be more than zero seconds") }
        let t = now.timeIntervalSince1970
        return try await write { db in
            try db.cachedStatement(sql: "DELETE FROM limit_slots WHERE key = ? AND expires_at <= ?").execute(arguments: [key, t])
            try db.cachedStatement(sql: "UPDATE limit_slots SET expires_at = ? WHERE key = ? AND holder = ?")
                .execute(arguments: [t + leaseSeconds, key, holder])
            let renewed = db.changesCount == 1
            let held = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM limit_slots WHERE key = ?"), arguments: [key]) ?? 0
            if renewed { return .acquired(holders: held) }
            guard held < capacity else {
                let soonest = try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(expires_at) FROM limit_slots WHERE key = ?"),
                                                  arguments: [key]) ?? t
                return .full(holders: held, retryAfter: max(0, soonest - t))
            }
            try db.cachedStatement(sql: "INSERT INTO limit_slots (key, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)")
                .execute(arguments: [key, holder, t, t + leaseSeconds])
            return .acquired(holders: held + 1)
        }
    }

    public func releaseSlot(key: String, holder: String) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM limit_slots WHERE key = ? AND holder = ?").execute(arguments: [key, holder])
            return db.changesCount == 1
        }
    }

    public func startCooldown(key: String, attempt: Int, now: Date) async throws -> Cooldown {
        guard !key.isEmpty else { throw LimitError.invalid("a cool-down needs a non-empty key") }
        let t = now.timeIntervalSince1970
        let jitter = Double.random(in: 0.75...1.25)
        return try await write { db in
            var effective = max(attempt, 1)
            var current: Cooldown?
            if let row = try Row.fetchOne(db, sql: "SELECT attempt, until FROM limit_cooldowns WHERE key = ?", arguments: [key]) {
                let (previous, until): (Int, Double) = (row["attempt"], row["until"])
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
            try db.execute(sql: "INSERT OR REPLACE INTO limit_cooldowns (key, attempt, started_at, until) VALUES (?, ?, ?, ?)",
                           arguments: [key, effective, t, chosen])
            return Cooldown(key: key, attempt: effective, until: Date(timeIntervalSince1970: chosen))
        }
    }

    public func cooldown(key: String, now: Date) async throws -> Cooldown? {
        try await read { db in try Self.activeCooldown(db, key: key, at: now.timeIntervalSince1970) }
    }

    public func activeCooldowns(now: Date) async throws -> [Cooldown] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT key, attempt, until FROM limit_cooldowns WHERE until > ? ORDER BY until",
                             arguments: [now.timeIntervalSince1970]).map { row in
                Cooldown(key: row["key"], attempt: row["attempt"], until: Date(timeIntervalSince1970: row["until"]))
            }
        }
    }
}
