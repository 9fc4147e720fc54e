import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// Runs: creation, the holder's compare-and-swap with its epoch and lease, the end of a run.
extension PostgresStore {
    public func createRun(_ run: NewRun, tasks: [PlannedTask]) async throws {
        let workflowJSON = try JSONCoding.encodeString(run.workflow)
        let specs = try tasks.map { try StoredSpec.encode($0) }
        try await transaction { sql in
            try await sql.lockRun(run.id)
            let inserted = try await sql.count("""
                INSERT INTO runs (id, name, workflow, spec_path, root, concurrency, simulate, status, created_at, base_commit)
                VALUES (\(run.id), \(run.workflow.name), \(workflowJSON), \(run.specPath), \(run.root), \(run.concurrency),
                        \(run.simulate), 'running', \(run.createdAt.timeIntervalSince1970), \(run.baseCommit))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """)
            guard inserted == 1 else { throw StoreError.runExists(run.id) }
            try await Self.insert(sql, run: run.id, tasks: tasks, specs: specs, firstPosition: 0)
            try await Self.event(sql, run: run.id, task: nil, kind: "run.created",
                                 message: "\(tasks.count) tasks, concurrency \(run.concurrency)", at: run.createdAt)
        }
    }

    /// Inserts tasks and their dependencies in two statements, whatever their number.
    /// `origin`: the spec group a spawned lineage started from (nil: each task's own group).
    /// `keys`: idempotency keys (nil: `IdempotencyKey.make` for each task).
    static func insert(_ sql: SQL, run: String, tasks: [PlannedTask], specs: [String], firstPosition: Int,
                       origin: String? = nil, keys: [String]? = nil) async throws {
        guard !tasks.isEmpty else { return }
        let ids = tasks.map(\.id), groups = tasks.map(\.group)
        let positions = tasks.indices.map { firstPosition + $0 }
        let idempotency = keys ?? tasks.map { IdempotencyKey.make(run: run, task: $0) }
        let states = tasks.map { $0.needs.isEmpty && $0.after.isEmpty ? "ready" : "pending" }
        let parents = tasks.map { $0.parent ?? "" }, depths = tasks.map(\.depth)
        let origins = tasks.map { origin ?? $0.group }, joins = tasks.map(\.join)
        try await sql.rows("""
            INSERT INTO tasks (run_id, id, grp, position, idempotency_key, spec, state, parent, depth, origin, joins)
            SELECT \(run), t.id, t.grp, t.position, t.key, t.spec, t.state, NULLIF(t.parent, ''), t.depth, t.origin, t.joins
            FROM unnest(\(ids)::text[], \(groups)::text[], \(positions)::bigint[], \(idempotency)::text[], \(specs)::text[],
                        \(states)::text[], \(parents)::text[], \(depths)::bigint[], \(origins)::text[], \(joins)::boolean[])
                 AS t(id, grp, position, key, spec, state, parent, depth, origin, joins)
            """)
        // Labels are few and most tasks have none: set after the insert (unnest cannot hold ragged arrays).
        var labelled: [String] = [], labels: [String] = []
        for task in tasks where !task.runsOn.isEmpty {
            for label in task.runsOn { labelled.append(task.id); labels.append(label) }
        }
        if !labelled.isEmpty {
            try await sql.rows("""
                UPDATE tasks SET runs_on = l.labels
                FROM (SELECT id, array_agg(label ORDER BY label) AS labels
                      FROM unnest(\(labelled)::text[], \(labels)::text[]) AS u(id, label) GROUP BY id) l
                WHERE tasks.run_id = \(run) AND tasks.id = l.id
                """)
        }
        var depTasks: [String] = [], needs: [String] = [], onTasks: [String] = []
        for task in tasks {
            for need in task.needs { depTasks.append(task.id); needs.append(need); onTasks.append("") }
            for before in task.after { depTasks.append(task.id); needs.append(before); onTasks.append(before) }
        }
        guard !depTasks.isEmpty else { return }
        try await sql.rows("""
            INSERT INTO deps (run_id, task_id, need, on_task)
            SELECT \(run), d.task_id, d.need, NULLIF(d.on_task, '')
            FROM unnest(\(depTasks)::text[], \(needs)::text[], \(onTasks)::text[]) AS d(task_id, need, on_task)
            ON CONFLICT DO NOTHING
            """)
    }

    public func run(_ id: String) async throws -> RunRecord? {
        try await autocommit("SELECT * FROM runs WHERE id = \(id)").first.map(Self.runRecord)
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await autocommit("SELECT * FROM runs ORDER BY created_at DESC, seq DESC LIMIT \(limit)").map(Self.runRecord)
    }

    public func acquireRun(_ id: String, holder: ProcessIdentity, leaseSeconds: Double, now: Date) async throws -> RunAcquisition {
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            // The run's lock, then its row: a second caller waits and then sees the first one's holder,
            // so exactly one of them takes the run. FOR UPDATE also waits out claims in flight.
            try await sql.lockRun(id)
            guard let row = try await sql.row("""
                SELECT holder, holder_host, holder_pid, heartbeat_at, lease_until, holder_epoch FROM runs WHERE id = \(id) FOR UPDATE
                """) else { return .notFound }
            let previous: String? = try row.get("holder")
            let previousHost = try row.get("holder_host", as: String?.self) ?? "?"
            let previousPid = Int32(truncatingIfNeeded: try row.get("holder_pid", as: Int?.self) ?? 0)
            if let previous, previous != holder.id {
                let current = ProcessIdentity(id: previous, host: previousHost, pid: previousPid)
                let heartbeat: Double? = try row.get("heartbeat_at")
                let until = try row.get("lease_until", as: Double?.self) ?? (heartbeat.map { $0 + leaseSeconds } ?? 0)
                if until >= t && current.isAliveHere != false {
                    return .heldBy(current, leaseUntil: Date(timeIntervalSince1970: until))
                }
            }
            let epoch = try row.get("holder_epoch", as: Int64.self) + (previous == holder.id ? 0 : 1)
            try await sql.rows("""
                UPDATE runs SET holder = \(holder.id), holder_host = \(holder.host), holder_pid = \(Int(holder.pid)),
                    heartbeat_at = \(t), lease_until = \(t + leaseSeconds), holder_epoch = \(epoch),
                    status = 'running', finished_at = NULL WHERE id = \(id)
                """)
            if let previous, previous != holder.id {
                // The previous orchestrator is gone: its tasks may be claimed at once (the claimer stops their orphans).
                try await sql.rows("""
                    UPDATE tasks SET lease_expires_at = 0 WHERE run_id = \(id) AND state = 'running' AND holder = \(previous)
                    """)
            }
            let taken = previous.map { $0 == holder.id ? "" : " (taken over from \(previousHost) pid \(previousPid))" } ?? ""
            try await Self.event(sql, run: id, task: nil, kind: previous == nil ? "run.started" : "run.resumed",
                                 message: "orchestrator \(holder.host) pid \(holder.pid), holder epoch \(epoch)\(taken)", at: now)
            return .acquired(previousHolder: previous, epoch: epoch)
        }
    }

    public func renewRun(_ id: String, holder: String, epoch: Int64, leaseSeconds: Double, now: Date) async throws -> RunRenewal {
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            // The old lease_until comes from the row as it was before the update (a self-join).
            let renewed = try await sql.row("""
                UPDATE runs SET heartbeat_at = \(t), lease_until = \(t + leaseSeconds)
                FROM runs old WHERE runs.id = \(id) AND runs.holder = \(holder) AND runs.holder_epoch = \(epoch) AND old.id = runs.id
                RETURNING old.lease_until < \(t) AS lapsed
                """)
            guard let renewed else {
                let row = try await sql.row("SELECT holder, holder_host, holder_pid, holder_epoch FROM runs WHERE id = \(id)")
                let current = try (row?.get("holder", as: String?.self)).flatMap { $0 }.map { name in
                    ProcessIdentity(id: name, host: try row?.get("holder_host", as: String?.self) ?? "?",
                                    pid: Int32(truncatingIfNeeded: try row?.get("holder_pid", as: Int?.self) ?? 0))
                }
                return .lost(by: current, epoch: try row?.get("holder_epoch", as: Int64.self) ?? 0)
            }
            let tasks = try await sql.count("""
                UPDATE tasks SET lease_expires_at = \(t + leaseSeconds)
                WHERE run_id = \(id) AND holder = \(holder) AND state = 'running' RETURNING 1
                """)
            return .renewed(tasks: tasks, lapsed: try renewed.get("lapsed", as: Bool?.self) ?? false)
        }
    }

    public func releaseRun(_ id: String, holder: String) async throws {
        _ = try await autocommit("""
            UPDATE runs SET holder = NULL, heartbeat_at = NULL, lease_until = NULL WHERE id = \(id) AND holder = \(holder)
            """)
    }

    public func finishRun(_ id: String, status: RunStatus, now: Date) async throws {
        try await transaction { sql in
            try await sql.lockRun(id)
            let finished: Double? = status.isFinal ? now.timeIntervalSince1970 : nil
            try await sql.rows("UPDATE runs SET status = \(status.rawValue), finished_at = \(finished) WHERE id = \(id)")
            try await Self.event(sql, run: id, task: nil, kind: "run.\(status.rawValue)", message: "run \(status.rawValue)", at: now)
        }
    }

    public func requestCancel(_ id: String, now: Date) async throws {
        try await transaction { sql in
            try await sql.lockRun(id)
            guard try await sql.count("UPDATE runs SET cancel_requested = true WHERE id = \(id) RETURNING 1") == 1 else {
                throw StoreError.unknownRun(id)
            }
            try await Self.event(sql, run: id, task: nil, kind: "run.cancel_requested", message: "cancel requested", at: now)
        }
    }

    public func reopen(_ id: String, now: Date) async throws -> Int {
        try await transaction { sql in
            try await sql.lockRun(id)
            let reopened = try await sql.count("""
                UPDATE tasks SET state = 'pending', failures = 0, error = NULL, exit_code = NULL, not_before = 0, finished_at = NULL
                WHERE run_id = \(id) AND state IN ('failed', 'skipped', 'cancelled', 'blocked') RETURNING 1
                """)
            try await sql.rows("UPDATE runs SET status = 'running', cancel_requested = false, finished_at = NULL WHERE id = \(id)")
            _ = try await Self.promote(sql, run: id, scope: .all)
            if reopened > 0 {
                try await Self.event(sql, run: id, task: nil, kind: "run.reopened", message: "\(reopened) unfinished tasks back in line", at: now)
            }
            return reopened
        }
    }

    // MARK: Events

    /// Appends to the run's event log; the caller holds the run's lock (`SQL.lockRun`), so the
    /// sequence numbers of one run follow commit order and a reader paging by sequence misses nothing.
    static func event(_ sql: SQL, run: String, task: String?, kind: String, message: String, at: Date) async throws {
        try await sql.rows("""
            INSERT INTO events (run_id, task_id, kind, message, at) VALUES (\(run), \(task), \(kind), \(message), \(at.timeIntervalSince1970))
            """)
    }

    public func appendEvent(_ event: NewEvent) async throws {
        try await transaction { sql in
            try await sql.lockRun(event.run)
            try await Self.event(sql, run: event.run, task: event.task, kind: event.kind, message: event.message, at: event.at)
        }
    }

    public func events(run: String, after sequence: Int64, limit: Int) async throws -> [EventRecord] {
        try await autocommit("SELECT * FROM events WHERE run_id = \(run) AND seq > \(sequence) ORDER BY seq LIMIT \(limit)").map { row in
            EventRecord.restored(sequence: try row.get("seq"), run: try row.get("run_id"), task: try row.get("task_id"),
                        kind: try row.get("kind"), message: try row.get("message"),
                        at: Date(timeIntervalSince1970: try row.get("at")))
        }
    }
}
