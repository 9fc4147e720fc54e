import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// `StoreReader`'s aggregates in SQL (as `SQLiteStore+Aggregates`): one query each, rows summed
/// where they lie, so `/metrics` and the boards never load every task.
extension PostgresStore {
    public func runIndex() async throws -> [RunIndexEntry] {
        try await autocommit("SELECT id, status, created_at FROM runs ORDER BY created_at DESC, seq DESC").map {
            RunIndexEntry(id: try $0.get("id"), status: RunStatus(rawValue: try $0.get("status")) ?? .failed,
                          createdAt: Date(timeIntervalSince1970: try $0.get("created_at")))
        }
    }

    public func counts(runs: [String]) async throws -> [String: TaskCounts] {
        guard !runs.isEmpty else { return [:] }
        var out: [String: TaskCounts] = [:]
        for row in try await autocommit("""
            SELECT run_id, state, COUNT(*)::bigint AS n, COALESCE(SUM(cost_usd), 0)::float8 AS cost,
                   SUM(CASE WHEN cost_usd IS NULL AND attempt > 0 THEN 1 ELSE 0 END)::bigint AS unknown,
                   SUM(CASE WHEN waiting THEN 1 ELSE 0 END)::bigint AS w,
                   SUM(input_tokens)::bigint AS i, SUM(output_tokens)::bigint AS o,
                   SUM(cache_read_tokens)::bigint AS cr, SUM(cache_write_tokens)::bigint AS cw
            FROM tasks WHERE run_id = ANY(\(Array(Set(runs)))) GROUP BY run_id, state
            """) {
            guard let state = TaskState(rawValue: try row.get("state")) else { continue }
            let run: String = try row.get("run_id")
            var counts = out[run] ?? TaskCounts()
            counts.byState[state] = try row.get("n")
            counts.costUSD += try row.get("cost", as: Double.self)
            if state == .running { counts.waiting = try row.get("w") }
            if state != .running { counts.unknownCost += try row.get("unknown", as: Int.self) }
            counts.tokens = counts.tokens + TokenUsage(input: try row.get("i"), output: try row.get("o"),
                                                       cacheRead: try row.get("cr"), cacheWrite: try row.get("cw"))
            out[run] = counts
        }
        return out
    }

    public func usageTotals() async throws -> [UsageTotal] {
        try await autocommit("""
            SELECT spec::jsonb->>'agent' AS agent, spec::jsonb->>'model' AS model,
                   SUM(input_tokens)::bigint AS i, SUM(output_tokens)::bigint AS o,
                   SUM(cache_read_tokens)::bigint AS cr, SUM(cache_write_tokens)::bigint AS cw,
                   COALESCE(SUM(cost_usd), 0)::float8 AS cost
            FROM tasks WHERE has_usage OR cost_usd IS NOT NULL GROUP BY 1, 2
            """).map {
            UsageTotal(agent: try $0.get("agent", as: String?.self) ?? "?", model: try $0.get("model", as: String?.self),
                       tokens: TokenUsage(input: try $0.get("i"), output: try $0.get("o"), cacheRead: try $0.get("cr"),
                                          cacheWrite: try $0.get("cw")),
                       costUSD: try $0.get("cost"))
        }
    }

    public func durations(bounds: [Double]) async throws -> [String: Distribution] {
        let empty = Distribution(bounds: bounds)
        let value = "GREATEST(0, finished_at - started_at)"
        var out: [String: Distribution] = [:]
        for row in try await autocommit("""
            SELECT spec::jsonb->>'agent' AS agent, \(unescaped: Self.bin(value, empty.bounds)) AS bin, COUNT(*)::bigint AS n,
                   COALESCE(SUM(\(unescaped: value)), 0)::float8 AS total
            FROM tasks WHERE started_at IS NOT NULL AND finished_at IS NOT NULL
              AND state IN ('succeeded', 'failed', 'skipped', 'cancelled', 'blocked')
            GROUP BY 1, 2
            """) {
            let agent = try row.get("agent", as: String?.self) ?? "?"
            out[agent, default: empty].bins[try row.get("bin", as: Int.self)] = .init(count: try row.get("n"), sum: try row.get("total"))
        }
        return out
    }

    /// As `SQLiteStore.claimLatencies`: ready is the latest of the run's start, the last finish of
    /// each group or task it needs, and its retry time when that came later and no later than its start.
    public func claimLatencies(bounds: [Double]) async throws -> Distribution {
        var out = Distribution(bounds: bounds)
        let value = "GREATEST(0, started_at - CASE WHEN not_before > ready_at AND not_before <= started_at THEN not_before ELSE ready_at END)"
        for row in try await autocommit("""
            WITH needed AS (SELECT DISTINCT run_id, need FROM deps), finished AS (
                SELECT run_id, name, MAX(at) AS at FROM (
                    SELECT n.run_id, n.need AS name, t.finished_at AS at FROM needed n
                        JOIN tasks t ON t.run_id = n.run_id AND t.grp = n.need
                    UNION ALL SELECT n.run_id, n.need, t.finished_at FROM needed n
                        JOIN tasks t ON t.run_id = n.run_id AND t.id = n.need) f
                GROUP BY run_id, name
            ), ready AS (
                SELECT t.started_at, t.not_before, GREATEST(MAX(r.created_at), COALESCE(MAX(f.at), 0)) AS ready_at
                FROM tasks t JOIN runs r ON r.id = t.run_id
                LEFT JOIN deps d ON d.run_id = t.run_id AND d.task_id = t.id
                LEFT JOIN finished f ON f.run_id = d.run_id AND f.name = d.need
                WHERE t.started_at IS NOT NULL
                GROUP BY t.run_id, t.id, t.started_at, t.not_before
            )
            SELECT \(unescaped: Self.bin(value, out.bounds)) AS bin, COUNT(*)::bigint AS n, COALESCE(SUM(\(unescaped: value)), 0)::float8 AS total
            FROM ready GROUP BY 1
            """) {
            out.bins[try row.get("bin", as: Int.self)] = .init(count: try row.get("n"), sum: try row.get("total"))
        }
        return out
    }

    /// The bin index of `value` for finite, sorted `bounds` (numbers, never text from a user).
    static func bin(_ value: String, _ bounds: [Double]) -> String {
        guard !bounds.isEmpty else { return "0" }
        var sql = "CASE"
        for (i, bound) in bounds.enumerated() { sql += " WHEN \(value) <= \(bound)::float8 THEN \(i)" }
        return sql + " ELSE \(bounds.count) END"
    }
}
