import Foundation
import GRDB

/// Shared limits: token buckets, semaphores and cool-downs, each decided in one `BEGIN IMMEDIATE`
/// transaction, so every process sharing the file sees one bucket. The arithmetic is `LimitRules`'.
extension SQLiteStore {
    /// The key's stored buckets and cool-down, what `LimitRules` decides from.
    static func stored(_ db: Database, key: String) throws -> (buckets: [String: BucketLevel], cooldown: StoredCooldown?) {
        var buckets: [String: BucketLevel] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT dimension, level, updated_at FROM limit_buckets WHERE key = ?"),
                                    arguments: [key]) {
            buckets[row["dimension"]] = BucketLevel(level: row["level"], updatedAt: row["updated_at"])
        }
        return (buckets, try storedCooldown(db, key: key))
    }

    static func storedCooldown(_ db: Database, key: String) throws -> StoredCooldown? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT attempt, until FROM limit_cooldowns WHERE key = ?"), arguments: [key])
            .map { StoredCooldown(attempt: $0["attempt"], until: $0["until"]) }
    }

    static func apply(_ db: Database, key: String, _ decision: BucketDecision, at t: Double) throws -> Acquisition {
        for write in decision.writes {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO limit_buckets (key, dimension, level, updated_at) VALUES (?, ?, ?, ?)")
                .execute(arguments: [key, write.dimension, write.level, t])
        }
        return decision.answer
    }

    public func acquireTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, now: Date) async throws -> Acquisition {
        try LimitRules.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await write { db in
            let (buckets, cooldown) = try Self.stored(db, key: key)
            return try Self.apply(db, key: key, LimitRules.acquire(key: key, requests: requests, tokens: tokens, limit: limit,
                                                                   buckets: buckets, cooldown: cooldown, at: t), at: t)
        }
    }

    public func reserveTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double,
                              now: Date) async throws -> Acquisition {
        try LimitRules.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await write { db in
            let (buckets, cooldown) = try Self.stored(db, key: key)
            return try Self.apply(db, key: key, LimitRules.reserve(key: key, requests: requests, tokens: tokens, limit: limit,
                                                                   maxWait: maxWait, buckets: buckets, cooldown: cooldown, at: t), at: t)
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
            let (cooldown, write) = LimitRules.cooldown(key: key, attempt: attempt, stored: try Self.storedCooldown(db, key: key),
                                                        jitter: jitter, at: t)
            if write {
                try db.execute(sql: "INSERT OR REPLACE INTO limit_cooldowns (key, attempt, started_at, until) VALUES (?, ?, ?, ?)",
                               arguments: [key, cooldown.attempt, t, cooldown.until.timeIntervalSince1970])
            }
            return cooldown
        }
    }

    public func cooldown(key: String, now: Date) async throws -> Cooldown? {
        try await read { db in LimitRules.active(try Self.storedCooldown(db, key: key), key: key, at: now.timeIntervalSince1970) }
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
