extension Migrations {
    /// Migration pg10: `muster_finish` takes the run's lock late. pg8 took it first, so it was held
    /// through parsing the batch and updating its tasks while every other finish of the run queued
    /// (16 claimers on two cores: 22 of a finish's 24 ms went to waiting for it). The tasks' own
    /// UPDATE needs no run lock: it is fenced by holder and attempt on the task rows. The lock is
    /// taken before the steps that need it, and held to commit:
    /// - events take their sequence numbers under it, so a run's events commit in sequence order
    ///   (readers page by sequence and must never skip one that commits late);
    /// - promotion reads the run's tasks under it, after this finish's own UPDATE, so of two
    ///   finishes that release one dependent, the second to take the lock sees the first's outcome;
    /// - the run's holder is checked again under it: a takeover that committed after the first
    ///   check undoes the whole call (a serialization failure, which the store runs again).
    static let lateRunLockFinish = [finishHead + finishHolderChecked + finishApply + finishLockedLate + finishEventsAndPromotion]

    /// pg10: the run's holder first, without the lock (a stale holder's batch is rejected at once).
    static let finishHolderChecked = """
            SELECT holder INTO v_owner FROM runs WHERE id = p_run;
            IF v_owner IS NOT NULL AND v_owner <> p_holder THEN
                RETURN QUERY SELECT e->>'task', false, 0::bigint FROM jsonb_array_elements(p_outcomes) AS e;
                RETURN;
            END IF;

        """

    /// pg10: the run's lock once the batch is applied, and the holder again under it.
    static let finishLockedLate = """
            -- The run's lock, held to commit: events numbered in commit order, promotion after every earlier finish.
            PERFORM pg_advisory_xact_lock(hashtextextended('muster:run:' || p_run, 0));
            SELECT holder INTO v_owner FROM runs WHERE id = p_run FOR KEY SHARE;
            IF v_owner IS NOT NULL AND v_owner <> p_holder THEN
                -- Taken over since the check above: undo all of it; the store runs the call again,
                -- and the check above then rejects every outcome.
                RAISE EXCEPTION 'run % changed holder during a finish', p_run USING ERRCODE = 'serialization_failure';
            END IF;

        """
}
