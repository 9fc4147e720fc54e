import Foundation
import MusterStore
import PostgresNIO

/// Schema history, by name, in order. A shipped migration is never edited: add a new one at the end.
/// `muster_migrations` records which ran; every process opening the store applies the missing
/// ones under an advisory lock, so two opening at once never race.
enum Migrations {
    static let all: [(name: String, statements: [String])] = [
        ("pg1-runs-tasks-events-workers", [
            """
            CREATE TABLE runs (
                seq BIGSERIAL NOT NULL,
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                workflow TEXT NOT NULL,
                spec_path TEXT NOT NULL,
                root TEXT NOT NULL,
                concurrency BIGINT NOT NULL,
                simulate BOOLEAN NOT NULL,
                status TEXT NOT NULL,
                cancel_requested BOOLEAN NOT NULL DEFAULT false,
                holder TEXT, holder_host TEXT, holder_pid BIGINT,
                holder_epoch BIGINT NOT NULL DEFAULT 0,
                lease_until DOUBLE PRECISION,
                heartbeat_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION,
                base_commit TEXT)
            """,
            """
            CREATE TABLE tasks (
                run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                grp TEXT NOT NULL,
                position BIGINT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                spec TEXT NOT NULL,
                state TEXT NOT NULL,
                attempt BIGINT NOT NULL DEFAULT 0,
                failures BIGINT NOT NULL DEFAULT 0,
                not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
                holder TEXT,
                lease_expires_at DOUBLE PRECISION,
                pid BIGINT, pgid BIGINT, host TEXT,
                exit_code BIGINT,
                error TEXT,
                summary TEXT,
                result_path TEXT,
                has_usage BOOLEAN NOT NULL DEFAULT false,
                input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0,
                cache_read_tokens BIGINT NOT NULL DEFAULT 0,
                cache_write_tokens BIGINT NOT NULL DEFAULT 0,
                cost_usd DOUBLE PRECISION,
                started_at DOUBLE PRECISION,
                finished_at DOUBLE PRECISION,
                git TEXT,
                parent TEXT,
                depth BIGINT NOT NULL DEFAULT 0,
                origin TEXT,
                joins BOOLEAN NOT NULL DEFAULT false,
                waiting BOOLEAN NOT NULL DEFAULT false,
                PRIMARY KEY (run_id, id))
            """,
            // Claims walk the ready tasks of a run in position order, and the lapsed running ones.
            "CREATE INDEX tasks_ready ON tasks (run_id, position) WHERE state = 'ready'",
            "CREATE INDEX tasks_running ON tasks (run_id, lease_expires_at) WHERE state = 'running'",
            "CREATE INDEX tasks_by_state ON tasks (run_id, state, position)",
            "CREATE INDEX tasks_by_group ON tasks (run_id, grp, state)",
            "CREATE INDEX tasks_by_origin ON tasks (run_id, origin, state) WHERE depth > 0",
            "CREATE INDEX tasks_by_parent ON tasks (run_id, parent) WHERE parent IS NOT NULL",
            """
            CREATE TABLE deps (
                run_id TEXT NOT NULL,
                task_id TEXT NOT NULL,
                need TEXT NOT NULL,
                on_task TEXT,
                PRIMARY KEY (run_id, task_id, need))
            """,
            "CREATE INDEX deps_by_need ON deps (run_id, need)",
            """
            CREATE TABLE events (
                seq BIGSERIAL PRIMARY KEY,
                run_id TEXT NOT NULL,
                task_id TEXT,
                kind TEXT NOT NULL,
                message TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX events_by_run ON events (run_id, seq)",
            """
            CREATE TABLE workers (
                id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL,
                role TEXT NOT NULL,
                host TEXT NOT NULL,
                pid BIGINT NOT NULL,
                task_id TEXT,
                agent TEXT,
                started_at DOUBLE PRECISION NOT NULL,
                heartbeat_at DOUBLE PRECISION NOT NULL)
            """,
            """
            CREATE TABLE locks (
                path TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                holder_host TEXT NOT NULL,
                holder_pid BIGINT NOT NULL,
                run_id TEXT,
                task_id TEXT,
                acquired_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        ("pg2-messages", [
            """
            CREATE TABLE messages (
                id BIGSERIAL PRIMARY KEY,
                run_id TEXT NOT NULL,
                recipient TEXT NOT NULL,
                sender TEXT,
                body TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'waiting',
                attempt BIGINT NOT NULL DEFAULT 0,
                holder TEXT,
                lease_expires_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                claimed_at DOUBLE PRECISION,
                acked_at DOUBLE PRECISION)
            """,
            "CREATE INDEX messages_open ON messages (run_id, recipient, id) WHERE state <> 'acked'",
            "CREATE INDEX messages_by_run ON messages (run_id, id)",
        ]),
        ("pg3-limits", [
            // One bucket row per key and dimension ("requests", "tokens"); its level may go negative
            // while reservations are outstanding (see RateLimit).
            """
            CREATE TABLE limit_buckets (
                key TEXT NOT NULL,
                dimension TEXT NOT NULL,
                level DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (key, dimension))
            """,
            """
            CREATE TABLE limit_slots (
                key TEXT NOT NULL,
                holder TEXT NOT NULL,
                acquired_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (key, holder))
            """,
            """
            CREATE TABLE limit_cooldowns (
                key TEXT PRIMARY KEY,
                attempt BIGINT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                until DOUBLE PRECISION NOT NULL)
            """,
        ]),
    ]

    static func migrate(_ store: PostgresStore) async throws {
        let schema = store.location.schema
        try await store.transaction { sql in
            try await sql.rows("SELECT pg_advisory_xact_lock(hashtextextended(\("muster:migrate:" + (schema ?? "public")), 0))")
            if let schema { try await sql.rows(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)")) }
            try await sql.rows("""
                CREATE TABLE IF NOT EXISTS muster_migrations (
                    seq BIGSERIAL NOT NULL,
                    name TEXT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            let applied = Set(try await sql.rows("SELECT name FROM muster_migrations").map { try $0.get("name", as: String.self) })
            for migration in all where !applied.contains(migration.name) {
                for statement in migration.statements { try await sql.rows(PostgresQuery(unsafeSQL: statement)) }
                try await sql.rows("INSERT INTO muster_migrations (name) VALUES (\(migration.name))")
            }
        }
    }
}

extension PostgresStore {
    /// The migrations this store's schema has had, in the order they ran.
    public func appliedMigrations() async throws -> [String] {
        try await autocommit("SELECT name FROM muster_migrations ORDER BY seq").map { try $0.get("name") }
    }

    /// Drops the store's own schema and everything in it (tests and throw-away stores). Refuses the
    /// default schema: a store opened without `schema=` shares it with whatever else lives there.
    public func dropSchema() async throws {
        guard let schema = location.schema else {
            throw StoreError.unusable(path: location.description, problem: "has no schema of its own to drop",
                                      fix: "open it with ?schema=NAME")
        }
        _ = try await autocommit(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"))
    }
}
