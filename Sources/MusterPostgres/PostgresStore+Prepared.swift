import Foundation
import MusterStore
import PostgresNIO

/// The hot path's two statements (claim, finish), prepared once per pooled connection: the server
/// parses and plans them once, and each call is one round trip with its bindings. Columns are
/// listed, not `tasks.*`, so a column a later migration adds does not change a cached plan's rows.
/// The claim names its run as a constant (the fence is a one-time EXISTS), so PostgreSQL walks the
/// partial index of ready tasks in position order and stops at the limit: a join on the fence made
/// it read and sort every ready task of the run on every claim.
extension PostgresStore {
    struct ClaimStatement: PostgresPreparedStatement {
        static let name = "muster_claim_v2"
        static let sql = """
            WITH fence AS (
                SELECT id FROM runs WHERE id = $1::text AND NOT cancel_requested AND (holder IS NULL OR holder = $2::text)
                FOR KEY SHARE
            ), lapsed AS (
                SELECT t.run_id, t.id, t.position, t.pid AS old_pid, t.pgid AS old_pgid, t.host AS old_host FROM tasks t
                WHERE t.run_id = $1::text AND EXISTS (SELECT 1 FROM fence) AND t.state = 'running' AND t.lease_expires_at < $3::float8
                  AND t.holder IS DISTINCT FROM $2::text AND t.runs_on <@ $6::text[]
                ORDER BY t.position LIMIT $4::bigint FOR UPDATE OF t SKIP LOCKED
            ), fresh AS (
                SELECT t.run_id, t.id, t.position, NULL::bigint AS old_pid, NULL::bigint AS old_pgid, NULL::text AS old_host FROM tasks t
                WHERE t.run_id = $1::text AND EXISTS (SELECT 1 FROM fence) AND t.state = 'ready' AND t.not_before <= $3::float8
                  AND t.runs_on <@ $6::text[]
                ORDER BY t.position LIMIT $4::bigint FOR UPDATE OF t SKIP LOCKED
            ), chosen AS (
                SELECT * FROM (SELECT *, true AS retaken FROM lapsed UNION ALL SELECT *, false AS retaken FROM fresh) c
                ORDER BY retaken DESC, position LIMIT $4::bigint
            )
            UPDATE tasks SET state = 'running', holder = $2::text, lease_expires_at = $5::float8,
                attempt = tasks.attempt + 1, started_at = $3::float8, pid = NULL, pgid = NULL, host = NULL
            FROM chosen WHERE tasks.run_id = chosen.run_id AND tasks.id = chosen.id
            RETURNING \(taskColumns("tasks")), chosen.retaken, chosen.old_pid, chosen.old_pgid, chosen.old_host
            """
        typealias Row = PostgresRow
        /// `labels`: the claimer's; a task is taken only when its `runs_on` is a subset (`<@`; empty: anyone's).
        var run: String, holder: String, t: Double, limit: Int, leaseUntil: Double, labels: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(run)
            bindings.append(holder)
            bindings.append(t)
            bindings.append(limit)
            bindings.append(leaseUntil)
            bindings.append(labels)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    struct FinishStatement: PostgresPreparedStatement {
        static let name = "muster_finish_v1"
        static let sql = "SELECT o_task, o_applied, o_released FROM muster_finish($1::text, $2::text, $3::float8, $4::jsonb)"
        typealias Row = PostgresRow
        var run: String, holder: String, t: Double, outcomes: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(run)
            bindings.append(holder)
            bindings.append(t)
            bindings.append(outcomes)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Every column `taskRecord` reads, qualified by `table`.
    static func taskColumns(_ table: String) -> String {
        ["run_id", "id", "grp", "position", "idempotency_key", "spec", "state", "attempt", "failures", "not_before", "holder",
         "lease_expires_at", "pid", "pgid", "host", "exit_code", "error", "summary", "result_path", "has_usage", "input_tokens",
         "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "started_at", "finished_at", "git", "parent",
         "waiting", "agent_facts"].map { "\(table).\($0)" }.joined(separator: ", ")
    }

    /// A prepared statement outside any explicit transaction (it commits on its own): one round trip.
    func autocommit<S: PostgresPreparedStatement>(_ statement: S, caller: String = #function) async throws -> [PostgresRandomAccessRow] where S.Row == PostgresRow {
        try await retrying(caller) { held in
            try await self.client.withConnection { connection in
                try await self.hold(connection, for: held)
                var rows: [PostgresRandomAccessRow] = []
                for try await row in try await connection.execute(statement, logger: self.logger) { rows.append(row.makeRandomAccess()) }
                return rows
            }
        }
    }
}
