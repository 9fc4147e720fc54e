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
        // The common finish (successes, retries, cancellations) in one round trip: the same steps as
        // `PostgresStore.finish`'s transaction, run by the server. Each statement in a function takes
        // its own snapshot, so the promotion sees every outcome committed before the run's lock was granted.
        ("pg4-finish-function", [
            """
            CREATE FUNCTION muster_finish(p_run TEXT, p_holder TEXT, p_t DOUBLE PRECISION, p_outcomes JSONB)
            RETURNS TABLE (o_task TEXT, o_applied BOOLEAN, o_released BIGINT)
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_owner TEXT;
                o JSONB;
                v_grp TEXT;
                v_origin TEXT;
                v_depth BIGINT;
                v_groups TEXT[] := '{}';
                v_n BIGINT;
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtextextended('muster:run:' || p_run, 0));
                SELECT holder INTO v_owner FROM runs WHERE id = p_run FOR KEY SHARE;
                IF v_owner IS NOT NULL AND v_owner <> p_holder THEN
                    RETURN QUERY SELECT e->>'task', false, 0::bigint FROM jsonb_array_elements(p_outcomes) AS e;
                    RETURN;
                END IF;
                FOR o IN SELECT value FROM jsonb_array_elements(p_outcomes) LOOP
                    UPDATE tasks SET state = o->>'state', not_before = (o->>'not_before')::float8,
                        failures = failures + (o->>'failed')::bigint, holder = NULL, lease_expires_at = NULL,
                        exit_code = (o->>'exit_code')::bigint, error = o->>'error',
                        summary = COALESCE(o->>'summary', summary), result_path = COALESCE(o->>'result_path', result_path),
                        has_usage = (o->>'has_usage')::boolean, input_tokens = input_tokens + (o->>'input')::bigint,
                        output_tokens = output_tokens + (o->>'output')::bigint,
                        cache_read_tokens = cache_read_tokens + (o->>'cache_read')::bigint,
                        cache_write_tokens = cache_write_tokens + (o->>'cache_write')::bigint,
                        cost_usd = CASE WHEN o->>'cost' IS NULL THEN NULL ELSE COALESCE(cost_usd, 0) + (o->>'cost')::float8 END,
                        finished_at = (o->>'finished_at')::float8, git = COALESCE(o->>'git', git), waiting = false
                    WHERE run_id = p_run AND id = o->>'task' AND holder = p_holder AND attempt = (o->>'attempt')::bigint
                      AND state = 'running'
                    RETURNING grp, origin, depth INTO v_grp, v_origin, v_depth;
                    IF NOT FOUND THEN
                        o_task := o->>'task'; o_applied := false; o_released := 0;
                        RETURN NEXT;
                        CONTINUE;
                    END IF;
                    INSERT INTO events (run_id, task_id, kind, message, at) VALUES (p_run, o->>'task', o->>'kind', o->>'message', p_t);
                    IF o->>'state' = 'succeeded' THEN
                        v_groups := v_groups || v_grp || (o->>'task');
                    END IF;
                    IF o->>'state' IN ('succeeded', 'failed', 'skipped', 'cancelled', 'blocked') AND v_depth > 0 AND v_origin IS NOT NULL THEN
                        v_groups := v_groups || v_origin;
                    END IF;
                    o_task := o->>'task'; o_applied := true; o_released := 0;
                    RETURN NEXT;
                END LOOP;
                IF cardinality(v_groups) > 0 THEN
                    UPDATE tasks SET state = 'ready' WHERE run_id = p_run AND state = 'pending' AND NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.grp = d.need
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NULL AND t.state <> 'succeeded')
                    AND NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.id = d.on_task
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NOT NULL AND t.state <> 'succeeded')
                    AND (NOT tasks.joins OR NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.origin = d.need AND t.depth > 0
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NULL
                          AND t.state IN ('pending', 'ready', 'running')))
                    AND tasks.id IN (SELECT d.task_id FROM deps d WHERE d.run_id = p_run AND d.need = ANY(v_groups));
                    GET DIAGNOSTICS v_n = ROW_COUNT;
                    o_task := NULL; o_applied := NULL; o_released := v_n;
                    RETURN NEXT;
                END IF;
            END
            $fn$
            """,
        ]),
        // A semaphore slot in one round trip (holders retry in a loop: each try must be cheap).
        ("pg5-slot-function", [
            """
            CREATE FUNCTION muster_acquire_slot(p_key TEXT, p_capacity BIGINT, p_holder TEXT, p_lease DOUBLE PRECISION,
                                                p_t DOUBLE PRECISION)
            RETURNS TABLE (o_acquired BOOLEAN, o_holders BIGINT, o_retry DOUBLE PRECISION)
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_renewed BOOLEAN;
                v_held BIGINT;
                v_soonest DOUBLE PRECISION;
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtextextended('muster:key:limit:' || p_key, 0));
                DELETE FROM limit_slots WHERE key = p_key AND expires_at <= p_t;
                UPDATE limit_slots SET expires_at = p_t + p_lease WHERE key = p_key AND holder = p_holder;
                v_renewed := FOUND;
                SELECT COUNT(*), MIN(expires_at) INTO v_held, v_soonest FROM limit_slots WHERE key = p_key;
                IF v_renewed THEN
                    RETURN QUERY SELECT true, v_held, 0::float8;
                    RETURN;
                END IF;
                IF v_held >= p_capacity THEN
                    RETURN QUERY SELECT false, v_held, GREATEST(0, COALESCE(v_soonest, p_t) - p_t);
                    RETURN;
                END IF;
                INSERT INTO limit_slots (key, holder, acquired_at, expires_at) VALUES (p_key, p_holder, p_t, p_t + p_lease);
                RETURN QUERY SELECT true, v_held + 1, 0::float8;
            END
            $fn$
            """,
        ]),
        // What the agent reported of a task's attempt (AgentFacts as JSON, as SQLite's v7-agent-facts),
        // and `muster_finish` writing it (an absent key stores NULL, as the Swift transaction does).
        ("pg6-agent-facts", [
            "ALTER TABLE tasks ADD COLUMN agent_facts TEXT",
            """
            CREATE OR REPLACE FUNCTION muster_finish(p_run TEXT, p_holder TEXT, p_t DOUBLE PRECISION, p_outcomes JSONB)
            RETURNS TABLE (o_task TEXT, o_applied BOOLEAN, o_released BIGINT)
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_owner TEXT;
                o JSONB;
                v_grp TEXT;
                v_origin TEXT;
                v_depth BIGINT;
                v_groups TEXT[] := '{}';
                v_n BIGINT;
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtextextended('muster:run:' || p_run, 0));
                SELECT holder INTO v_owner FROM runs WHERE id = p_run FOR KEY SHARE;
                IF v_owner IS NOT NULL AND v_owner <> p_holder THEN
                    RETURN QUERY SELECT e->>'task', false, 0::bigint FROM jsonb_array_elements(p_outcomes) AS e;
                    RETURN;
                END IF;
                FOR o IN SELECT value FROM jsonb_array_elements(p_outcomes) LOOP
                    UPDATE tasks SET state = o->>'state', not_before = (o->>'not_before')::float8,
                        failures = failures + (o->>'failed')::bigint, holder = NULL, lease_expires_at = NULL,
                        exit_code = (o->>'exit_code')::bigint, error = o->>'error',
                        summary = COALESCE(o->>'summary', summary), result_path = COALESCE(o->>'result_path', result_path),
                        has_usage = (o->>'has_usage')::boolean, input_tokens = input_tokens + (o->>'input')::bigint,
                        output_tokens = output_tokens + (o->>'output')::bigint,
                        cache_read_tokens = cache_read_tokens + (o->>'cache_read')::bigint,
                        cache_write_tokens = cache_write_tokens + (o->>'cache_write')::bigint,
                        cost_usd = CASE WHEN o->>'cost' IS NULL THEN NULL ELSE COALESCE(cost_usd, 0) + (o->>'cost')::float8 END,
                        finished_at = (o->>'finished_at')::float8, git = COALESCE(o->>'git', git), waiting = false,
                        agent_facts = o->>'agent_facts'
                    WHERE run_id = p_run AND id = o->>'task' AND holder = p_holder AND attempt = (o->>'attempt')::bigint
                      AND state = 'running'
                    RETURNING grp, origin, depth INTO v_grp, v_origin, v_depth;
                    IF NOT FOUND THEN
                        o_task := o->>'task'; o_applied := false; o_released := 0;
                        RETURN NEXT;
                        CONTINUE;
                    END IF;
                    INSERT INTO events (run_id, task_id, kind, message, at) VALUES (p_run, o->>'task', o->>'kind', o->>'message', p_t);
                    IF o->>'state' = 'succeeded' THEN
                        v_groups := v_groups || v_grp || (o->>'task');
                    END IF;
                    IF o->>'state' IN ('succeeded', 'failed', 'skipped', 'cancelled', 'blocked') AND v_depth > 0 AND v_origin IS NOT NULL THEN
                        v_groups := v_groups || v_origin;
                    END IF;
                    o_task := o->>'task'; o_applied := true; o_released := 0;
                    RETURN NEXT;
                END LOOP;
                IF cardinality(v_groups) > 0 THEN
                    UPDATE tasks SET state = 'ready' WHERE run_id = p_run AND state = 'pending' AND NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.grp = d.need
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NULL AND t.state <> 'succeeded')
                    AND NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.id = d.on_task
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NOT NULL AND t.state <> 'succeeded')
                    AND (NOT tasks.joins OR NOT EXISTS (
                        SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.origin = d.need AND t.depth > 0
                        WHERE d.run_id = p_run AND d.task_id = tasks.id AND d.on_task IS NULL
                          AND t.state IN ('pending', 'ready', 'running')))
                    AND tasks.id IN (SELECT d.task_id FROM deps d WHERE d.run_id = p_run AND d.need = ANY(v_groups));
                    GET DIAGNOSTICS v_n = ROW_COUNT;
                    o_task := NULL; o_applied := NULL; o_released := v_n;
                    RETURN NEXT;
                END IF;
            END
            $fn$
            """,
        ]),
        ("pg7-notify-changes", notifyChanges),
        ("pg8-set-based-finish", setBasedFinish),
        ("pg9-task-labels", taskLabels),
        ("pg10-finish-run-lock-late", lateRunLockFinish),
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
