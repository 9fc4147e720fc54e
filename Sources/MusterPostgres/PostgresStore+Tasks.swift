import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// Tasks: reading them, claiming them (`FOR UPDATE SKIP LOCKED`, leases), and applying outcomes,
/// fenced by the run's holder and the task's attempt.
extension PostgresStore {
    public func tasks(run: String) async throws -> [TaskRecord] {
        try await autocommit("SELECT * FROM tasks WHERE run_id = \(run) ORDER BY position").map(Self.taskRecord)
    }

    public func task(run: String, id: String) async throws -> TaskRecord? {
        try await autocommit("SELECT * FROM tasks WHERE run_id = \(run) AND id = \(id)").first.map(Self.taskRecord)
    }

    public func counts(run: String) async throws -> TaskCounts {
        // One query shape for one run or many (`counts(runs:)`, PostgresStore+Aggregates).
        try await counts(runs: [run])[run] ?? TaskCounts()
    }

    /// One prepared statement (`ClaimStatement`), one round trip: the run's fence (no other holder, no cancel request), then
    /// lapsed leases of other holders (oldest work, handed over with the process group to stop),
    /// then ready tasks, each set locked with `SKIP LOCKED` so concurrent claimers never wait or collide.
    /// Only tasks whose `runs_on` is a subset of `labels` (`runs_on <@ labels`).
    public func claim(run: String, holder: String, labels: Set<String>, limit: Int, leaseSeconds: Double, now: Date) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
        let rows = try await autocommit(ClaimStatement(run: run, holder: holder, t: t, limit: limit, leaseUntil: t + leaseSeconds,
                                                       labels: labels.sorted()))
        var claimed: [(retaken: Bool, task: ClaimedTask)] = []
        for row in rows {
            let task = try Self.taskRecord(row)
            var orphan: StartedProcess?
            if let pid = try Self.int32(row, "old_pid"), let pgid = try Self.int32(row, "old_pgid"),
               let host = try row.get("old_host", as: String?.self) {
                orphan = StartedProcess(task: task.id, pid: pid, pgid: pgid, host: host)
            }
            claimed.append((try row.get("retaken"), ClaimedTask.restored(task: task, orphan: orphan)))
        }
        return claimed.sorted { ($0.retaken ? 0 : 1, $0.task.task.position) < ($1.retaken ? 0 : 1, $1.task.task.position) }.map(\.task)
    }

    public func recordProcesses(run: String, holder: String, _ processes: [StartedProcess], now: Date) async throws {
        guard !processes.isEmpty else { return }
        try await transaction { sql in
            try await sql.lockRun(run)
            try await Self.record(sql, run: run, holder: holder, processes, now: now)
        }
    }

    static func record(_ sql: SQL, run: String, holder: String, _ processes: [StartedProcess], now: Date) async throws {
        for process in processes {
            let git = try process.git.map { try JSONCoding.encodeString($0) }
            try await sql.rows("""
                UPDATE tasks SET pid = \(Int(process.pid)), pgid = \(Int(process.pgid)), host = \(process.host),
                    git = COALESCE(\(git), git), started_at = COALESCE(\(process.startedAt?.timeIntervalSince1970), started_at)
                WHERE run_id = \(run) AND id = \(process.task) AND holder = \(holder) AND state = 'running'
                """)
            try await event(sql, run: run, task: process.task, kind: "task.started", message: "pid \(process.pid)", at: now)
        }
    }

    public func heartbeat(run: String, holder: String, leaseSeconds: Double, now: Date) async throws -> Int {
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            // The run's row before its tasks, in the order acquireRun locks them.
            try await sql.rows("""
                UPDATE runs SET heartbeat_at = \(t), lease_until = \(t + leaseSeconds) WHERE id = \(run) AND holder = \(holder)
                """)
            return try await sql.count("""
                UPDATE tasks SET lease_expires_at = \(t + leaseSeconds)
                WHERE run_id = \(run) AND holder = \(holder) AND state = 'running' RETURNING 1
                """)
        }
    }

    public func finish(run: String, holder: String, _ outcomes: [TaskOutcome], now: Date) async throws -> FinishReport {
        try await finish(run: run, holder: holder, started: [], outcomes, now: now)
    }

    public func finish(run: String, holder: String, started: [StartedProcess], _ outcomes: [TaskOutcome],
                       now: Date) async throws -> FinishReport {
        let t = now.timeIntervalSince1970
        let gits = try outcomes.map { try $0.git.map { try JSONCoding.encodeString($0) } }
        if started.isEmpty, !outcomes.isEmpty, outcomes.allSatisfy({ !OutcomeEffect($0).skipsDependents }) {
            return try await finishInOneTrip(run: run, holder: holder, outcomes, gits: gits, at: t)
        }
        return try await transaction { sql in
            try await sql.lockRun(run)
            var report = FinishReport()
            // Fenced: a holder the run no longer belongs to records nothing (its outcomes are stale).
            if let fence = try await sql.row("SELECT holder FROM runs WHERE id = \(run) FOR KEY SHARE"),
               let owner = try fence.get("holder", as: String?.self), owner != holder {
                report.rejected = outcomes.map(\.task)
                return report
            }
            try await Self.record(sql, run: run, holder: holder, started, now: now)
            var tally = FinishTally()
            for (outcome, git) in zip(outcomes, gits) {
                let effect = OutcomeEffect(outcome)
                let usage = outcome.usage ?? TokenUsage()
                let exitCode = outcome.exitCode.map(Int.init)
                let facts = try outcome.agentFacts.map { try JSONCoding.encodeString($0) }
                guard let row = try await sql.row("""
                    UPDATE tasks SET state = \(effect.state.rawValue), not_before = \(effect.notBefore),
                        failures = failures + \(effect.failed), holder = NULL, lease_expires_at = NULL, exit_code = \(exitCode),
                        error = \(outcome.error), summary = COALESCE(\(outcome.summary), summary),
                        result_path = COALESCE(\(outcome.resultPath), result_path),
                        has_usage = \(outcome.usage != nil), input_tokens = input_tokens + \(usage.input),
                        output_tokens = output_tokens + \(usage.output), cache_read_tokens = cache_read_tokens + \(usage.cacheRead),
                        cache_write_tokens = cache_write_tokens + \(usage.cacheWrite),
                        cost_usd = CASE WHEN \(outcome.costUSD)::float8 IS NULL THEN NULL ELSE COALESCE(cost_usd, 0) + \(outcome.costUSD ?? 0) END,
                        finished_at = \(effect.finishedAt(t)), git = COALESCE(\(git), git), waiting = false, agent_facts = \(facts)
                    WHERE run_id = \(run) AND id = \(outcome.task) AND holder = \(holder) AND attempt = \(outcome.attempt)
                      AND state = 'running'
                    RETURNING grp, origin, depth
                    """) else {
                    report.rejected.append(outcome.task)
                    continue
                }
                tally.note(task: outcome.task, group: try row.get("grp"), origin: try row.get("origin"), depth: try row.get("depth"),
                           effect: effect)
                report.applied.append(outcome.task)
                try await Self.event(sql, run: run, task: outcome.task, kind: effect.eventKind, message: effect.eventMessage, at: now)
            }
            if tally.skips {
                report.skipped = try await Self.skipDependents(sql, run: run, groups: tally.failedGroups, tasks: tally.failedTasks, at: now)
            }
            if !tally.succeeded.isEmpty { report.released = try await Self.promote(sql, run: run, scope: .dependentsOf(tally.succeeded)) }
            // A spawned task that ended may be the last one a `join` task was waiting for.
            if !tally.finishedLineages.isEmpty {
                report.released += try await Self.promote(sql, run: run, scope: .dependentsOf(tally.finishedLineages))
            }
            return report
        }
    }

    /// The outcome as `muster_finish` reads it (migration pg4); absent keys are SQL NULLs.
    struct FinishRow: Encodable {
        var task: String, attempt: Int, state: String, not_before: Double, failed: Int
        var exit_code: Int?, error: String?, summary: String?, result_path: String?
        var has_usage: Bool, input: Int, output: Int, cache_read: Int, cache_write: Int
        var cost: Double?, finished_at: Double?, git: String?, kind: String, message: String
        var agent_facts: String?  // read from migration pg6 on
    }

    /// Successes, retries and cancellations in one round trip (`muster_finish`, one implicit transaction).
    func finishInOneTrip(run: String, holder: String, _ outcomes: [TaskOutcome], gits: [String?], at t: Double) async throws -> FinishReport {
        let rows = try zip(outcomes, gits).map { outcome, git in
            let effect = OutcomeEffect(outcome)
            let usage = outcome.usage ?? TokenUsage()
            return FinishRow(task: outcome.task, attempt: outcome.attempt, state: effect.state.rawValue, not_before: effect.notBefore,
                             failed: effect.failed, exit_code: outcome.exitCode.map(Int.init), error: outcome.error,
                             summary: outcome.summary, result_path: outcome.resultPath, has_usage: outcome.usage != nil,
                             input: usage.input, output: usage.output, cache_read: usage.cacheRead, cache_write: usage.cacheWrite,
                             cost: outcome.costUSD, finished_at: effect.finishedAt(t), git: git, kind: effect.eventKind,
                             message: effect.eventMessage, agent_facts: try outcome.agentFacts.map { try JSONCoding.encodeString($0) })
        }
        let json = try JSONCoding.encodeString(rows)
        var report = FinishReport()
        for row in try await autocommit(FinishStatement(run: run, holder: holder, t: t, outcomes: json)) {
            if let task = try row.get("o_task", as: String?.self) {
                if try row.get("o_applied", as: Bool.self) { report.applied.append(task) } else { report.rejected.append(task) }
            } else {
                report.released += try row.get("o_released", as: Int.self)
            }
        }
        return report
    }

    public func expand(run: String, holder: String, expander: String, into tasks: [PlannedTask], now: Date) async throws -> Int {
        let specs = try tasks.map { try StoredSpec.encode($0) }
        return try await transaction { sql in
            try await sql.lockRun(run)
            guard let row = try await sql.row("""
                UPDATE tasks SET state = 'succeeded', holder = NULL, lease_expires_at = NULL, finished_at = \(now.timeIntervalSince1970),
                    summary = \("fanned out into \(tasks.count) tasks"), cost_usd = 0
                WHERE run_id = \(run) AND id = \(expander) AND holder = \(holder) AND state = 'running' RETURNING grp
                """) else {
                throw StoreError.unknownTask(run: run, task: expander)
            }
            let group: String = try row.get("grp")
            let first = try await Self.nextPosition(sql, run: run)
            try await Self.insert(sql, run: run, tasks: tasks, specs: specs, firstPosition: first)
            _ = try await Self.promote(sql, run: run, scope: .tasks(tasks.map(\.id)))
            _ = try await Self.promote(sql, run: run, scope: .dependentsOf([group]))
            try await Self.event(sql, run: run, task: expander, kind: "fanout.expanded", message: "\(tasks.count) tasks", at: now)
            return tasks.count
        }
    }

    static func nextPosition(_ sql: SQL, run: String) async throws -> Int {
        let row = try await sql.row("SELECT COALESCE(MAX(position), 0)::bigint AS p FROM tasks WHERE run_id = \(run)")
        return (try row?.get("p", as: Int.self) ?? 0) + 1
    }

    public func closeUnstarted(run: String, state: TaskState, reason: String, now: Date) async throws -> Int {
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockRun(run)
            return try await sql.count("""
                UPDATE tasks SET state = \(state.rawValue), error = \(reason), finished_at = \(t), holder = NULL, lease_expires_at = NULL
                WHERE run_id = \(run) AND (state IN ('pending', 'ready') OR (state = 'running' AND lease_expires_at < \(t)))
                RETURNING 1
                """)
        }
    }
}
