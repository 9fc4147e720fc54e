import GRDB

/// Schema history. Shipped migrations are never edited: add a new one instead.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs-tasks-events-workers") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    workflow TEXT NOT NULL,
                    spec_path TEXT NOT NULL,
                    root TEXT NOT NULL,
                    concurrency INTEGER NOT NULL,
                    simulate INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    cancel_requested INTEGER NOT NULL DEFAULT 0,
                    holder TEXT, holder_host TEXT, holder_pid INTEGER,
                    heartbeat_at REAL,
                    created_at REAL NOT NULL,
                    finished_at REAL);
                CREATE TABLE tasks (
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    grp TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    spec TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempt INTEGER NOT NULL DEFAULT 0,
                    failures INTEGER NOT NULL DEFAULT 0,
                    not_before REAL NOT NULL DEFAULT 0,
                    holder TEXT,
                    lease_expires_at REAL,
                    pid INTEGER, pgid INTEGER, host TEXT,
                    exit_code INTEGER,
                    error TEXT,
                    summary TEXT,
                    result_path TEXT,
                    has_usage INTEGER NOT NULL DEFAULT 0,
                    input_tokens INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
                    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
                    cost_usd REAL,
                    started_at REAL,
                    finished_at REAL,
                    PRIMARY KEY (run_id, id));
                CREATE INDEX tasks_by_state ON tasks(run_id, state, position);
                CREATE INDEX tasks_by_group ON tasks(run_id, grp, state);
                CREATE TABLE deps (
                    run_id TEXT NOT NULL,
                    task_id TEXT NOT NULL,
                    need TEXT NOT NULL,
                    PRIMARY KEY (run_id, task_id, need));
                CREATE INDEX deps_by_need ON deps(run_id, need);
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL,
                    task_id TEXT,
                    kind TEXT NOT NULL,
                    message TEXT NOT NULL,
                    at REAL NOT NULL);
                CREATE INDEX events_by_run ON events(run_id, seq);
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY,
                    run_id TEXT NOT NULL,
                    role TEXT NOT NULL,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    task_id TEXT,
                    agent TEXT,
                    started_at REAL NOT NULL,
                    heartbeat_at REAL NOT NULL);
                """)
        }
        migrator.registerMigration("v2-git-and-locks") { db in
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN base_commit TEXT;
                ALTER TABLE tasks ADD COLUMN git TEXT;
                -- A task-level dependency (colliding `owns` ordered by the plan): `need` and `on_task` name the task.
                ALTER TABLE deps ADD COLUMN on_task TEXT;
                CREATE TABLE locks (
                    path TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    holder_host TEXT NOT NULL,
                    holder_pid INTEGER NOT NULL,
                    run_id TEXT,
                    task_id TEXT,
                    acquired_at REAL NOT NULL,
                    expires_at REAL NOT NULL);
                """)
        }
        migrator.registerMigration("v3-messages") { db in
            try db.execute(sql: """
                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    sender TEXT,
                    body TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'waiting',
                    attempt INTEGER NOT NULL DEFAULT 0,
                    holder TEXT,
                    lease_expires_at REAL,
                    created_at REAL NOT NULL,
                    claimed_at REAL,
                    acked_at REAL);
                -- Claims walk the open messages of one recipient oldest first; acknowledged ones drop out.
                CREATE INDEX messages_open ON messages(run_id, recipient, id) WHERE state != 'acked';
                CREATE INDEX messages_by_run ON messages(run_id, id);
                """)
        }
        migrator.registerMigration("v4-limits") { db in
            // Shared limits (see RateLimit): one bucket row per key and dimension ("requests", "tokens"),
            // whose level may go negative while reservations are outstanding.
            try db.execute(sql: """
                CREATE TABLE limit_buckets (
                    key TEXT NOT NULL,
                    dimension TEXT NOT NULL,
                    level REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (key, dimension));
                CREATE TABLE limit_slots (
                    key TEXT NOT NULL,
                    holder TEXT NOT NULL,
                    acquired_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    PRIMARY KEY (key, holder));
                CREATE TABLE limit_cooldowns (
                    key TEXT PRIMARY KEY,
                    attempt INTEGER NOT NULL,
                    started_at REAL NOT NULL,
                    until REAL NOT NULL);
                """)
        }
        migrator.registerMigration("v5-spawning") { db in
            // Tasks spawned at run time: `parent` and `depth` (0 for spec tasks) bound delegation;
            // `origin` is the group of the spec task a lineage started from, so a `join` task can wait
            // for every descendant of what it needs; `waiting` marks a task blocked in `muster wait`,
            // whose concurrency slot its children may use.
            try db.execute(sql: """
                ALTER TABLE tasks ADD COLUMN parent TEXT;
                ALTER TABLE tasks ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE tasks ADD COLUMN origin TEXT;
                ALTER TABLE tasks ADD COLUMN joins INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX tasks_by_origin ON tasks(run_id, origin, state) WHERE depth > 0;
                CREATE INDEX tasks_by_parent ON tasks(run_id, parent) WHERE parent IS NOT NULL;
                """)
        }
        migrator.registerMigration("v6-holder-fence") { db in
            // One holder per run: `holder_epoch` counts take-overs (a fencing token: a holder whose
            // epoch is no longer the run's has been replaced and must stop); `lease_until` is when the
            // holder's lease lapses unless it renews.
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN holder_epoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE runs ADD COLUMN lease_until REAL;
                """)
        }
        migrator.registerMigration("v7-agent-facts") { db in
            // What the agent reported of a task's attempt (AgentFacts as JSON: the model it used, the
            // tool calls it was refused, whether it ended `denied`). Read by name, not position, so
            // columns other migrations append do not move it.
            try db.execute(sql: "ALTER TABLE tasks ADD COLUMN agent_facts TEXT;")
        }
        migrator.registerMigration("v8-task-labels") { db in
            // `runs_on`: the labels a claimer must all have (a JSON array of text; NULL: anyone may
            // claim). `workers.labels`: the labels a worker claims with (JSON array; NULL: none).
            try db.execute(sql: """
                ALTER TABLE tasks ADD COLUMN runs_on TEXT;
                ALTER TABLE workers ADD COLUMN labels TEXT;
                """)
        }
        return migrator
    }
}
