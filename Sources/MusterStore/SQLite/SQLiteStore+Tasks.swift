import Foundation
import GRDB
import MusterCore

/// Tasks: reading them, claiming them (leases), and applying outcomes, fenced by the run's holder
/// and the task's attempt. What an outcome does is `OutcomeEffect`'s and `FinishTally`'s.
extension SQLiteStore {
    public func tasks(run: String) async throws -> [TaskRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE run_id = ? ORDER BY position", arguments: [run]).map(Self.taskRecord)
        }
    }

    public func task(run: String, id: String) async throws -> TaskRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tasks WHERE run_id = ? AND id = ?", arguments: [run, id]).map(Self.taskRecord)
        }
    }

    public func counts(run: String) async throws -> TaskCounts {
        // One query shape for one run or many (`counts(runs:)`, SQLiteStore+Aggregates).
        try await counts(runs: [run])[run] ?? TaskCounts()
    }

    /// A task's `runs_on` (JSON, NULL: none) must hold only labels of the claimer's (`?` bound to its labels as JSON).
    static let labelsFit = "(runs_on IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(runs_on) WHERE value NOT IN (SELECT value FROM json_each(?))))"

    public func claim(run: String, holder: String, labels: Set<String>, limit: Int, leaseSeconds: Double, now: Date) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
        let have = try JSONCoding.encodeString(labels.sorted())
        return try await write { db in
            // Fenced: nothing is claimed while another holder holds the run, or after a cancel request.
            guard let fence = try Row.fetchOne(try db.cachedStatement(sql: "SELECT cancel_requested, holder FROM runs WHERE id = ?"),
                                               arguments: [run]) else { return [] }
            if fence[0] as Bool? == true { return [] }
            if let owner: String = fence[1], owner != holder { return [] }
            var claimed: [ClaimedTask] = []
            // Lapsed leases first: their holder is gone and the work is oldest. Read before updating,
            // because the claimer needs the previous holder's process group to stop it. Never the
            // claimer's own: it still supervises them (it was suspended past its lease, say), and
            // retaking one would kill it and record its exit against the new attempt.
            let lapsed = try Row.fetchAll(try db.cachedStatement(sql: """
                SELECT * FROM tasks WHERE run_id = ? AND state = 'running' AND lease_expires_at < ? AND holder IS NOT ?
                  AND \(Self.labelsFit)
                ORDER BY position LIMIT ?
                """), arguments: [run, t, holder, have, limit])
            if !lapsed.isEmpty {
                let retake = try db.cachedStatement(sql: """
                    UPDATE tasks SET state = 'running', holder = ?, lease_expires_at = ?, attempt = attempt + 1, started_at = ?,
                        pid = NULL, pgid = NULL, host = NULL WHERE run_id = ? AND id = ?
                    """)
                for row in lapsed {
                    var task = try Self.taskRecord(row)
                    var orphan: StartedProcess?
                    if let pid = task.pid, let pgid = task.pgid, let host = task.host {
                        orphan = StartedProcess(task: task.id, pid: pid, pgid: pgid, host: host)
                    }
                    try retake.execute(arguments: [holder, t + leaseSeconds, t, run, task.id])
                    task.holder = holder
                    task.leaseExpiresAt = Date(timeIntervalSince1970: t + leaseSeconds)
                    task.attempt += 1
                    task.startedAt = now
                    (task.pid, task.pgid, task.host) = (nil, nil, nil)
                    claimed.append(ClaimedTask(task: task, orphan: orphan))
                }
            }
            guard claimed.count < limit else { return claimed }
            // Ready tasks: one statement takes them and returns them.
            let take = try db.cachedStatement(sql: """
                UPDATE tasks SET state = 'running', holder = ?1, lease_expires_at = ?2, attempt = attempt + 1, started_at = ?3,
                    pid = NULL, pgid = NULL, host = NULL
                WHERE rowid IN (SELECT rowid FROM tasks WHERE run_id = ?4 AND state = 'ready' AND not_before <= ?3
                                  AND \(Self.labelsFit.replacingOccurrences(of: "?", with: "?6"))
                                ORDER BY position LIMIT ?5)
                RETURNING *
                """)
            let taken = try Row.fetchAll(take, arguments: [holder, t + leaseSeconds, t, run, limit - claimed.count, have])
                .map { ClaimedTask(task: try Self.taskRecord($0), orphan: nil) }
            return claimed + taken.sorted { $0.task.position < $1.task.position }
        }
    }

    public func recordProcesses(run: String, holder: String, _ processes: [StartedProcess], now: Date) async throws {
        guard !processes.isEmpty else { return }
        try await write { db in try Self.record(db, run: run, holder: holder, processes, now: now) }
    }

    static func record(_ db: Database, run: String, holder: String, _ processes: [StartedProcess], now: Date) throws {
        let update = try db.cachedStatement(sql: """
            UPDATE tasks SET pid = ?, pgid = ?, host = ?, git = COALESCE(?, git), started_at = COALESCE(?, started_at)
            WHERE run_id = ? AND id = ? AND holder = ? AND state = 'running'
            """)
        for process in processes {
            let git = try process.git.map { try JSONCoding.encodeString($0) }
            try update.execute(arguments: [process.pid, process.pgid, process.host, git, process.startedAt?.timeIntervalSince1970,
                                           run, process.task, holder])
            try event(db, run: run, task: process.task, kind: "task.started", message: "pid \(process.pid)", at: now)
        }
    }

    public func heartbeat(run: String, holder: String, leaseSeconds: Double, now: Date) async throws -> Int {
        let t = now.timeIntervalSince1970
        return try await write { db in
            try db.execute(sql: "UPDATE tasks SET lease_expires_at = ? WHERE run_id = ? AND holder = ? AND state = 'running'",
                           arguments: [t + leaseSeconds, run, holder])
            let renewed = db.changesCount
            try db.execute(sql: "UPDATE runs SET heartbeat_at = ?, lease_until = ? WHERE id = ? AND holder = ?",
                           arguments: [t, t + leaseSeconds, run, holder])
            return renewed
        }
    }

    public func finish(run: String, holder: String, _ outcomes: [TaskOutcome], now: Date) async throws -> FinishReport {
        try await finish(run: run, holder: holder, started: [], outcomes, now: now)
    }

    public func finish(run: String, holder: String, started: [StartedProcess], _ outcomes: [TaskOutcome],
                       now: Date) async throws -> FinishReport {
        let t = now.timeIntervalSince1970
        return try await write { db in
            var report = FinishReport()
            // Fenced: a holder the run no longer belongs to records nothing (its outcomes are stale).
            if let owner = try String.fetchOne(try db.cachedStatement(sql: "SELECT holder FROM runs WHERE id = ?"), arguments: [run]),
               owner != holder {
                report.rejected = outcomes.map(\.task)
                return report
            }
            try Self.record(db, run: run, holder: holder, started, now: now)
            var tally = FinishTally()
            let update = try db.cachedStatement(sql: """
                UPDATE tasks SET state = ?, not_before = ?, failures = failures + ?, holder = NULL, lease_expires_at = NULL,
                    exit_code = ?, error = ?, summary = COALESCE(?, summary), result_path = COALESCE(?, result_path),
                    has_usage = ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
                    cache_read_tokens = cache_read_tokens + ?, cache_write_tokens = cache_write_tokens + ?,
                    cost_usd = CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(cost_usd, 0) + ? END,
                    finished_at = ?, git = COALESCE(?, git), waiting = 0, agent_facts = ?
                WHERE run_id = ? AND id = ? AND holder = ? AND attempt = ? AND state = 'running'
                RETURNING grp, origin, depth
                """)
            for outcome in outcomes {
                let effect = OutcomeEffect(outcome)
                let usage = outcome.usage ?? TokenUsage()
                guard let row = try Row.fetchOne(update, arguments: [
                    effect.state.rawValue, effect.notBefore, effect.failed, outcome.exitCode, outcome.error, outcome.summary,
                    outcome.resultPath, outcome.usage != nil, usage.input, usage.output, usage.cacheRead, usage.cacheWrite,
                    outcome.costUSD, outcome.costUSD ?? 0, effect.finishedAt(t), try outcome.git.map { try JSONCoding.encodeString($0) },
                    try outcome.agentFacts.map { try JSONCoding.encodeString($0) },
                    run, outcome.task, holder, outcome.attempt,
                ]) else {
                    report.rejected.append(outcome.task)
                    continue
                }
                tally.note(task: outcome.task, group: row[0], origin: row[1], depth: row[2], effect: effect)
                report.applied.append(outcome.task)
                try Self.event(db, run: run, task: outcome.task, kind: effect.eventKind, message: effect.eventMessage, at: now)
            }
            if tally.skips {
                report.skipped = try Self.skipDependents(db, run: run, groups: tally.failedGroups, tasks: tally.failedTasks, at: now)
            }
            if !tally.succeeded.isEmpty { report.released = try Self.promote(db, run: run, scope: .dependentsOf(tally.succeeded)) }
            // A spawned task that ended may be the last one a `join` task was waiting for.
            if !tally.finishedLineages.isEmpty {
                report.released += try Self.promote(db, run: run, scope: .dependentsOf(tally.finishedLineages))
            }
            return report
        }
    }
    public func expand(run: String, holder: String, expander: String, into tasks: [PlannedTask], now: Date) async throws -> Int {
        let specs = try tasks.map { try StoredSpec.encode($0) }
        return try await write { db in
            guard let group = try String.fetchOne(db, sql: """
                UPDATE tasks SET state = 'succeeded', holder = NULL, lease_expires_at = NULL, finished_at = ?,
                    summary = ?, cost_usd = 0 WHERE run_id = ? AND id = ? AND holder = ? AND state = 'running' RETURNING grp
                """, arguments: [now.timeIntervalSince1970, "fanned out into \(tasks.count) tasks", run, expander, holder]) else {
                throw StoreError.unknownTask(run: run, task: expander)
            }
            let first = (try Int.fetchOne(db, sql: "SELECT MAX(position) FROM tasks WHERE run_id = ?", arguments: [run]) ?? 0) + 1
            try Self.insert(db, run: run, tasks: tasks, specs: specs, firstPosition: first)
            _ = try Self.promote(db, run: run, scope: .tasks(tasks.map(\.id)))
            _ = try Self.promote(db, run: run, scope: .dependentsOf([group]))
            try Self.event(db, run: run, task: expander, kind: "fanout.expanded", message: "\(tasks.count) tasks", at: now)
            return tasks.count
        }
    }

    public func closeUnstarted(run: String, state: TaskState, reason: String, now: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: """
                UPDATE tasks SET state = ?, error = ?, finished_at = ?, holder = NULL, lease_expires_at = NULL
                WHERE run_id = ? AND (state IN ('pending', 'ready') OR (state = 'running' AND lease_expires_at < ?))
                """, arguments: [state.rawValue, reason, now.timeIntervalSince1970, run, now.timeIntervalSince1970])
            return db.changesCount
        }
    }
}
