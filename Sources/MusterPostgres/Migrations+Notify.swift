extension Migrations {
    /// Migration pg7: NOTIFY `muster_changes_<schema>` with the run's id when an event is appended
    /// (a task finished, became ready, was spawned or expanded, a message was sent) or a run's cancel
    /// request or status changes. Notifications of one transaction arrive at its commit, once per run.
    static let notifyChanges = [
        """
        CREATE FUNCTION muster_notify_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_TABLE_NAME = 'runs' THEN
                PERFORM pg_notify('muster_changes_' || TG_TABLE_SCHEMA, NEW.id);
            ELSE
                PERFORM pg_notify('muster_changes_' || TG_TABLE_SCHEMA, NEW.run_id);
            END IF;
            RETURN NULL;
        END
        $fn$
        """,
        "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION muster_notify_change()",
        """
        CREATE TRIGGER runs_notify AFTER UPDATE OF cancel_requested, status ON runs FOR EACH ROW
        WHEN (OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested OR OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION muster_notify_change()
        """,
    ]
}
