extension Migrations {
    /// Migration pg8: `muster_finish` set-based. The same steps and answers as pg6's (fence, apply
    /// each outcome if its lease and attempt still hold, one event per applied outcome in the
    /// batch's order, promote what the successes and finished lineages release), but one UPDATE
    /// and one INSERT for the whole batch instead of two statements per outcome: the run's lock is
    /// held for a fraction of the time, which is what a batch of 16 from many workers waits on.
    static let setBasedFinish = [finishHead + finishLockedFirst + finishApply + finishEventsAndPromotion]

    /// `muster_finish`'s declaration, from pg8 on.
    static let finishHead = """
        CREATE OR REPLACE FUNCTION muster_finish(p_run TEXT, p_holder TEXT, p_t DOUBLE PRECISION, p_outcomes JSONB)
        RETURNS TABLE (o_task TEXT, o_applied BOOLEAN, o_released BIGINT)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_owner TEXT;
            v_applied TEXT[];
            v_groups TEXT[];
            v_n BIGINT;
        BEGIN

        """

    /// pg8: the run's lock first, then the run's holder.
    static let finishLockedFirst = """
            PERFORM pg_advisory_xact_lock(hashtextextended('muster:run:' || p_run, 0));
            SELECT holder INTO v_owner FROM runs WHERE id = p_run FOR KEY SHARE;
            IF v_owner IS NOT NULL AND v_owner <> p_holder THEN
                RETURN QUERY SELECT e->>'task', false, 0::bigint FROM jsonb_array_elements(p_outcomes) AS e;
                RETURN;
            END IF;

        """

    /// The batch applied to its tasks (fenced by holder and attempt on their rows): the tasks it
    /// applied to, and the groups and lineages whose dependents may now be released.
    static let finishApply = """
            WITH o AS (
                SELECT * FROM jsonb_to_recordset(p_outcomes) AS x(task TEXT, attempt BIGINT, state TEXT, not_before FLOAT8,
                    failed BIGINT, exit_code BIGINT, error TEXT, summary TEXT, result_path TEXT, has_usage BOOLEAN, input BIGINT,
                    output BIGINT, cache_read BIGINT, cache_write BIGINT, cost FLOAT8, finished_at FLOAT8, git TEXT,
                    agent_facts TEXT)
            ), done AS (
                UPDATE tasks SET state = o.state, not_before = o.not_before, failures = tasks.failures + o.failed,
                    holder = NULL, lease_expires_at = NULL, exit_code = o.exit_code, error = o.error,
                    summary = COALESCE(o.summary, tasks.summary), result_path = COALESCE(o.result_path, tasks.result_path),
                    has_usage = o.has_usage, input_tokens = tasks.input_tokens + o.input,
                    output_tokens = tasks.output_tokens + o.output, cache_read_tokens = tasks.cache_read_tokens + o.cache_read,
                    cache_write_tokens = tasks.cache_write_tokens + o.cache_write,
                    cost_usd = CASE WHEN o.cost IS NULL THEN NULL ELSE COALESCE(tasks.cost_usd, 0) + o.cost END,
                    finished_at = o.finished_at, git = COALESCE(o.git, tasks.git), waiting = false, agent_facts = o.agent_facts
                FROM o
                WHERE tasks.run_id = p_run AND tasks.id = o.task AND tasks.holder = p_holder AND tasks.attempt = o.attempt
                  AND tasks.state = 'running'
                RETURNING tasks.id, tasks.grp, tasks.origin, tasks.depth, tasks.state
            )
            SELECT COALESCE(array_agg(DISTINCT done.id), '{}'),
                   COALESCE(array_agg(g) FILTER (WHERE g IS NOT NULL), '{}')
              INTO v_applied, v_groups
              FROM done
              LEFT JOIN LATERAL (VALUES
                  (CASE WHEN done.state = 'succeeded' THEN done.grp END),
                  (CASE WHEN done.state = 'succeeded' THEN done.id END),
                  (CASE WHEN done.state IN ('succeeded', 'failed', 'skipped', 'cancelled', 'blocked') AND done.depth > 0
                        THEN done.origin END)) AS v(g) ON true;

        """

    /// One event per applied outcome, in the batch's order; the answer per outcome; then promotion
    /// of what the successes and finished lineages release.
    static let finishEventsAndPromotion = """
            INSERT INTO events (run_id, task_id, kind, message, at)
            SELECT p_run, e.value->>'task', e.value->>'kind', e.value->>'message', p_t
            FROM jsonb_array_elements(p_outcomes) WITH ORDINALITY AS e(value, n)
            WHERE e.value->>'task' = ANY(v_applied)
            ORDER BY e.n;
            RETURN QUERY SELECT e->>'task', (e->>'task') = ANY(v_applied), 0::bigint FROM jsonb_array_elements(p_outcomes) AS e;
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
        """
}
