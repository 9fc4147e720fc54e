import Foundation
import MusterStore
import PostgresNIO

/// Shared limits: token buckets, semaphores and cool-downs. Each decision runs in one transaction
/// holding the key's advisory lock, so every process on every host sees one bucket. The arithmetic
/// is `LimitRules`', shared with the SQLite store, on the same `now` (see `PostgresStore` on clocks).
extension PostgresStore {
    /// The key's stored buckets and cool-down, in one round trip: what `LimitRules` decides from.
    static func stored(_ sql: SQL, key: String) async throws -> (buckets: [String: BucketLevel], cooldown: StoredCooldown?) {
        var buckets: [String: BucketLevel] = [:]
        var cooldown: StoredCooldown?
        for row in try await sql.rows("""
            SELECT dimension, level, updated_at, NULL::bigint AS attempt FROM limit_buckets WHERE key = \(key)
            UNION ALL SELECT NULL, until, NULL, attempt FROM limit_cooldowns WHERE key = \(key)
            """) {
            if let dimension = try row.get("dimension", as: String?.self) {
                buckets[dimension] = BucketLevel(level: try row.get("level"), updatedAt: try row.get("updated_at"))
            } else {
                cooldown = StoredCooldown(attempt: try row.get("attempt"), until: try row.get("level"))
            }
        }
        return (buckets, cooldown)
    }

    static func apply(_ sql: SQL, key: String, _ decision: BucketDecision, at t: Double) async throws -> Acquisition {
        guard !decision.writes.isEmpty else { return decision.answer }
        try await sql.rows("""
            INSERT INTO limit_buckets (key, dimension, level, updated_at)
            SELECT \(key), w.dimension, w.level, \(t)
            FROM unnest(\(decision.writes.map(\.dimension))::text[], \(decision.writes.map(\.level))::float8[]) AS w(dimension, level)
            ON CONFLICT (key, dimension) DO UPDATE SET level = EXCLUDED.level, updated_at = EXCLUDED.updated_at
            """)
        return decision.answer
    }

    public func acquireTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, now: Date) async throws -> Acquisition {
        try LimitRules.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockKey("limit:" + key)
            let (buckets, cooldown) = try await Self.stored(sql, key: key)
            return try await Self.apply(sql, key: key, LimitRules.acquire(key: key, requests: requests, tokens: tokens, limit: limit,
                                                                          buckets: buckets, cooldown: cooldown, at: t), at: t)
        }
    }

    public func reserveTokens(key: String, requests: Int, tokens: Int, limit: RateLimit, maxWait: Double,
                              now: Date) async throws -> Acquisition {
        try LimitRules.validate(key: key, requests: requests, tokens: tokens, limit: limit)
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockKey("limit:" + key)
            let (buckets, cooldown) = try await Self.stored(sql, key: key)
            return try await Self.apply(sql, key: key, LimitRules.reserve(key: key, requests: requests, tokens: tokens, limit: limit,
                                                                          maxWait: maxWait, buckets: buckets, cooldown: cooldown, at: t),
                                        at: t)
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
            let stored = try await sql.row("SELECT attempt, until FROM limit_cooldowns WHERE key = \(key)")
                .map { StoredCooldown(attempt: try $0.get("attempt"), until: try $0.get("until")) }
            let (cooldown, write) = LimitRules.cooldown(key: key, attempt: attempt, stored: stored, jitter: jitter, at: t)
            if write {
                try await sql.rows("""
                    INSERT INTO limit_cooldowns (key, attempt, started_at, until)
                    VALUES (\(key), \(cooldown.attempt), \(t), \(cooldown.until.timeIntervalSince1970))
                    ON CONFLICT (key) DO UPDATE SET attempt = EXCLUDED.attempt, started_at = EXCLUDED.started_at, until = EXCLUDED.until
                    """)
            }
            return cooldown
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
