import Foundation
import GRDB
import MusterCore

/// Runs: recording a run with its tasks, its holder (one compare-and-swap per take-over, fenced
/// by epoch), cancel requests and reopening for `resume`.
extension SQLiteStore {
    // MARK: Runs

    public func createRun(_ run: NewRun, tasks: [PlannedTask]) async throws {
        let workflowJSON = try JSONCoding.encodeString(run.workflow)
        let specs = try tasks.map { try StoredSpec.encode($0) }
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [run.id]) == true {
                throw StoreError.runExists(run.id)
            }
            try db.execute(sql: """
                INSERT INTO runs (id, name, workflow, spec_path, root, concurrency, simulate, status, created_at, base_commit)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)
                """, arguments: [run.id, run.workflow.name, workflowJSON, run.specPath, run.root, run.concurrency,
                                 run.simulate, run.createdAt.timeIntervalSince1970, run.baseCommit])
            try Self.insert(db, run: run.id, tasks: tasks, specs: specs, firstPosition: 0)
            try Self.event(db, run: run.id, task: nil, kind: "run.created",
                           message: "\(tasks.count) tasks, concurrency \(run.concurrency)", at: run.createdAt)
        }
    }

    /// `origin`: the spec group a spawned lineage started from (nil: each task's own group).
    /// `keys`: idempotency keys (nil: `IdempotencyKey.make` for each task).
    static func insert(_ db: Database, run: String, tasks: [PlannedTask], specs: [String], firstPosition: Int,
                       origin: String? = nil, keys: [String]? = nil) throws {
        let taskStatement = try db.cachedStatement(sql: """
            INSERT INTO tasks (run_id, id, grp, position, idempotency_key, spec, state, parent, depth, origin, joins, runs_on)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let depStatement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO deps (run_id, task_id, need, on_task) VALUES (?, ?, ?, ?)")
        for (offset, task) in tasks.enumerated() {
            try taskStatement.execute(arguments: [run, task.id, task.group, firstPosition + offset,
                                                  keys?[offset] ?? IdempotencyKey.make(run: run, task: task), specs[offset],
                                                  task.needs.isEmpty && task.after.isEmpty ? "ready" : "pending",
                                                  task.parent, task.depth, origin ?? task.group, task.join,
                                                  task.runsOn.isEmpty ? nil : JSONCoding.encodeString(task.runsOn)])
            for need in task.needs { try depStatement.execute(arguments: [run, task.id, need, nil]) }
            for before in task.after { try depStatement.execute(arguments: [run, task.id, before, before]) }
        }
    }

    public func run(_ id: String) async throws -> RunRecord? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(Self.runRecord) }
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?", arguments: [limit])
                .map(Self.runRecord)
        }
    }

    public func acquireRun(_ id: String, holder: ProcessIdentity, leaseSeconds: Double, now: Date) async throws -> RunAcquisition {
        let t = now.timeIntervalSince1970
        return try await write { db in
            // Read and swap inside one BEGIN IMMEDIATE transaction: a second caller waits for the
            // write lock and then sees the first one's holder, so exactly one of them takes the run.
            guard let row = try Row.fetchOne(db, sql: """
                SELECT holder, holder_host, holder_pid, heartbeat_at, lease_until, holder_epoch FROM runs WHERE id = ?
                """, arguments: [id]) else { return .notFound }
            let previous: String? = row["holder"]
            if let previous, previous != holder.id {
                let current = ProcessIdentity(id: previous, host: row["holder_host"] ?? "?", pid: row["holder_pid"] ?? 0)
                // Rows written before leases were stored: the heartbeat plus this caller's lease.
                let until: Double = row["lease_until"] ?? ((row["heartbeat_at"] as Double?).map { $0 + leaseSeconds } ?? 0)
                if until >= t && current.isAliveHere != false {
                    return .heldBy(current, leaseUntil: Date(timeIntervalSince1970: until))
                }
            }
            let epoch = (row["holder_epoch"] as Int64? ?? 0) + (previous == holder.id ? 0 : 1)
            try db.execute(sql: """
                UPDATE runs SET holder = ?, holder_host = ?, holder_pid = ?, heartbeat_at = ?, lease_until = ?, holder_epoch = ?,
                    status = 'running', finished_at = NULL WHERE id = ?
                """, arguments: [holder.id, holder.host, holder.pid, t, t + leaseSeconds, epoch, id])
            if let previous, previous != holder.id {
                // The previous orchestrator is gone: its tasks may be claimed at once (the claimer stops their orphans).
                try db.execute(sql: "UPDATE tasks SET lease_expires_at = 0 WHERE run_id = ? AND state = 'running' AND holder = ?",
                               arguments: [id, previous])
            }
            let taken = previous.map { $0 == holder.id ? "" : " (taken over from \(row["holder_host"] ?? "?") pid \(row["holder_pid"] ?? 0))" } ?? ""
            try Self.event(db, run: id, task: nil, kind: previous == nil ? "run.started" : "run.resumed",
                           message: "orchestrator \(holder.host) pid \(holder.pid), holder epoch \(epoch)\(taken)", at: now)
            return .acquired(previousHolder: previous, epoch: epoch)
        }
    }

    public func renewRun(_ id: String, holder: String, epoch: Int64, leaseSeconds: Double, now: Date) async throws -> RunRenewal {
        let t = now.timeIntervalSince1970
        return try await write { db in
            let until = try Double.fetchOne(db, sql: "SELECT lease_until FROM runs WHERE id = ? AND holder = ? AND holder_epoch = ?",
                                            arguments: [id, holder, epoch])
            try db.execute(sql: "UPDATE runs SET heartbeat_at = ?, lease_until = ? WHERE id = ? AND holder = ? AND holder_epoch = ?",
                           arguments: [t, t + leaseSeconds, id, holder, epoch])
            guard db.changesCount == 1 else {
                let row = try Row.fetchOne(db, sql: "SELECT holder, holder_host, holder_pid, holder_epoch FROM runs WHERE id = ?", arguments: [id])
                let current = (row?["holder"] as String?).map {
                    ProcessIdentity(id: $0, host: row?["holder_host"] ?? "?", pid: row?["holder_pid"] ?? 0)
                }
                return .lost(by: current, epoch: row?["holder_epoch"] ?? 0)
            }
            try db.execute(sql: "UPDATE tasks SET lease_expires_at = ? WHERE run_id = ? AND holder = ? AND state = 'running'",
                           arguments: [t + leaseSeconds, id, holder])
            return .renewed(tasks: db.changesCount, lapsed: (until ?? t) < t)
        }
    }

    public func releaseRun(_ id: String, holder: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE runs SET holder = NULL, heartbeat_at = NULL, lease_until = NULL WHERE id = ? AND holder = ?",
                           arguments: [id, holder])
        }
    }

    public func finishRun(_ id: String, status: RunStatus, now: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                           arguments: [status.rawValue, status.isFinal ? now.timeIntervalSince1970 : nil, id])
            try Self.event(db, run: id, task: nil, kind: "run.\(status.rawValue)", message: "run \(status.rawValue)", at: now)
        }
    }

    public func requestCancel(_ id: String, now: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE runs SET cancel_requested = 1 WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError.unknownRun(id) }
            try Self.event(db, run: id, task: nil, kind: "run.cancel_requested", message: "cancel requested", at: now)
        }
    }

    public func reopen(_ id: String, now: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: """
                UPDATE tasks SET state = 'pending', failures = 0, error = NULL, exit_code = NULL, not_before = 0,
                    finished_at = NULL WHERE run_id = ? AND state IN ('failed', 'skipped', 'cancelled', 'blocked')
                """, arguments: [id])
            let reopened = db.changesCount
            try db.execute(sql: "UPDATE runs SET status = 'running', cancel_requested = 0, finished_at = NULL WHERE id = ?",
                           arguments: [id])
            _ = try Self.promote(db, run: id, scope: .all)
            if reopened > 0 {
                try Self.event(db, run: id, task: nil, kind: "run.reopened", message: "\(reopened) unfinished tasks back in line", at: now)
            }
            return reopened
        }
    }
}
