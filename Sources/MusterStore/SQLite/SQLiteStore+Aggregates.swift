import Foundation
import GRDB
import MusterCore

/// `StoreReader`'s aggregates in SQL: one query each, rows summed where they lie.
extension SQLiteStore {
    public func runIndex() async throws -> [RunIndexEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, status, created_at FROM runs ORDER BY created_at DESC, rowid DESC").map {
                RunIndexEntry(id: $0["id"], status: RunStatus(rawValue: $0["status"]) ?? .failed,
                              createdAt: Date(timeIntervalSince1970: $0["created_at"]))
            }
        }
    }

    public func counts(runs: [String]) async throws -> [String: TaskCounts] {
        guard !runs.isEmpty else { return [:] }
        let ids = try JSONCoding.encodeString(Array(Set(runs)))
        return try await read { db in
            var out: [String: TaskCounts] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT run_id, state, COUNT(*) AS n, TOTAL(cost_usd) AS cost,
                       SUM(CASE WHEN cost_usd IS NULL AND attempt > 0 THEN 1 ELSE 0 END) AS unknown,
                       SUM(waiting) AS w, SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw
                FROM tasks WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id, state
                """, arguments: [ids]) {
                guard let state = TaskState(rawValue: row["state"]) else { continue }
                var counts = out[row["run_id"]] ?? TaskCounts()
                counts.byState[state] = row["n"]
                counts.costUSD += row["cost"] as Double
                if state == .running { counts.waiting = row["w"] }
                if state != .running { counts.unknownCost += row["unknown"] as Int }
                counts.tokens = counts.tokens + TokenUsage(input: row["i"], output: row["o"], cacheRead: row["cr"], cacheWrite: row["cw"])
                out[row["run_id"]] = counts
            }
            return out
        }
    }

    public func usageTotals() async throws -> [UsageTotal] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT json_extract(spec, '$.agent') AS agent, json_extract(spec, '$.model') AS model,
                       SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw,
                       TOTAL(cost_usd) AS cost
                FROM tasks WHERE has_usage != 0 OR cost_usd IS NOT NULL GROUP BY 1, 2
                """).map {
                UsageTotal(agent: $0["agent"] ?? "?", model: $0["model"],
                           tokens: TokenUsage(input: $0["i"], output: $0["o"], cacheRead: $0["cr"], cacheWrite: $0["cw"]),
                           costUSD: $0["cost"])
            }
        }
    }

    public func durations(bounds: [Double]) async throws -> [String: Distribution] {
        let empty = Distribution(bounds: bounds)
        let value = "MAX(0, finished_at - started_at)"
        return try await read { db in
            var out: [String: Distribution] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT json_extract(spec, '$.agent') AS agent, \(Self.bin(value, empty.bounds)) AS bin, COUNT(*) AS n, TOTAL(\(value)) AS total
                FROM tasks WHERE started_at IS NOT NULL AND finished_at IS NOT NULL
                  AND state IN ('succeeded', 'failed', 'skipped', 'cancelled', 'blocked')
                GROUP BY 1, 2
                """) {
                out[row["agent"] ?? "?", default: empty].bins[row["bin"]] = .init(count: row["n"], sum: row["total"])
            }
            return out
        }
    }

    /// Ready: the latest of the run's start, the last finish of each group or task it needs, and its
    /// retry time when that came later and no later than its start (`RecordAggregates.claimLatencies`).
    /// Finish times are gathered only for names something needs (index lookups), not for every group.
    public func claimLatencies(bounds: [Double]) async throws -> Distribution {
        let empty = Distribution(bounds: bounds)
        let value = "MAX(0, started_at - CASE WHEN not_before > ready_at AND not_before <= started_at THEN not_before ELSE ready_at END)"
        return try await read { db in
            var out = empty
            for row in try Row.fetchAll(db, sql: """
                WITH needed AS (SELECT DISTINCT run_id, need FROM deps), finished AS (
                    SELECT run_id, name, MAX(at) AS at FROM (
                        SELECT n.run_id, n.need AS name, t.finished_at AS at FROM needed n
                            JOIN tasks t ON t.run_id = n.run_id AND t.grp = n.need
                        UNION ALL SELECT n.run_id, n.need, t.finished_at FROM needed n
                            JOIN tasks t ON t.run_id = n.run_id AND t.id = n.need)
                    GROUP BY run_id, name
                ), ready AS (
                    SELECT t.started_at, t.not_before, MAX(r.created_at, COALESCE(MAX(f.at), 0)) AS ready_at
                    FROM tasks t JOIN runs r ON r.id = t.run_id
                    LEFT JOIN deps d ON d.run_id = t.run_id AND d.task_id = t.id
                    LEFT JOIN finished f ON f.run_id = d.run_id AND f.name = d.need
                    WHERE t.started_at IS NOT NULL
                    GROUP BY t.run_id, t.id
                )
                SELECT \(Self.bin(value, empty.bounds)) AS bin, COUNT(*) AS n, TOTAL(\(value)) AS total FROM ready GROUP BY 1
                """) {
                out.bins[row["bin"]] = .init(count: row["n"], sum: row["total"])
            }
            return out
        }
    }

    /// The bin index of `value` for finite, sorted `bounds` (numbers, never text from a user).
    static func bin(_ value: String, _ bounds: [Double]) -> String {
        guard !bounds.isEmpty else { return "0" }
        var sql = "CASE"
        for (i, bound) in bounds.enumerated() { sql += " WHEN \(value) <= \(bound) THEN \(i)" }
        return sql + " ELSE \(bounds.count) END"
    }
}
