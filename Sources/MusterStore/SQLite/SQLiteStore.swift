import Foundation
import GRDB
import MusterCore

/// The embedded store: one SQLite file in WAL mode, safe to share between processes on one host.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String

    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError.unusable(path: path, problem: "is a folder, not a muster store",
                                      fix: "pass --store with a file path, or move the folder away")
        }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StoreError.unusable(path: path, problem: "cannot be created: its folder \(folder) cannot be made",
                                      fix: "check the folder's permissions, or pass --store with a writable path")
        }
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // WAL + NORMAL: a commit survives a killed process (the crash muster must survive);
            // only a power cut can lose the last commits, and it never corrupts the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
        }
        do {
            pool = try Self.openPool(path: path, folder: folder, configuration: config)
        } catch let error as DatabaseError {
            throw Self.unusable(error, path: path)
        }
    }

    /// Opens the pool and brings the schema up to date. Processes opening a new store at the same
    /// moment race to switch it to WAL and create the schema: they take turns on an advisory lock
    /// of the store's folder (held for milliseconds), and a busy answer that still gets through is retried.
    static func openPool(path: String, folder: String, configuration: Configuration) throws -> DatabasePool {
        let lock = open(folder, O_RDONLY | O_CLOEXEC)
        if lock >= 0 { _ = flock(lock, LOCK_EX) }
        defer { if lock >= 0 { close(lock) } }
        var attempt = 0
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try Migrations.migrator.migrate(pool)
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
                        || (error.resultCode == .SQLITE_ERROR && attempt < 3) {
                // SQLITE_ERROR: a schema another process created between our check and our CREATE.
                attempt += 1
                if attempt >= 20 { throw error }
                usleep(useconds_t(UInt32.random(in: 5_000...30_000) * UInt32(min(attempt, 5))))
            }
        }
    }

    /// A store SQLite cannot use, said in one line with the path and what to do.
    public static func unusable(_ error: DatabaseError, path: String) -> StoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return .unusable(path: path, problem: "is damaged or is not a muster store (\(error.message ?? "not a database"))",
                             fix: "move it aside and run again to start a new store, or pass --store with another file")
        case .SQLITE_READONLY:
            return .unusable(path: path, problem: "is read-only (muster writes to its store, even to read runs: WAL)",
                             fix: "make it and its folder writable, or copy it somewhere writable and pass --store")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return .unusable(path: path, problem: "cannot be opened (\(error.message ?? "permission denied"))",
                             fix: "check that it and its folder are readable and writable, or pass --store with another file")
        case .SQLITE_FULL:
            return .unusable(path: path, problem: "cannot grow: the disk is full", fix: "free some space and try again")
        default:
            return .unusable(path: path, problem: "cannot be used: \(error.message ?? "\(error.resultCode)")",
                             fix: "check the file, or pass --store with another file")
        }
    }

    /// A `BEGIN IMMEDIATE` transaction (the write lock up front, so two processes never deadlock
    /// upgrading a read), retried when another process holds the lock past the busy timeout.
    /// Transactions here are short (tens of microseconds), so they run on the calling thread:
    /// GRDB's async variant costs two thread hops per call, more than the work itself.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try writeNow { db in
                    var result: T?
                    try db.inTransaction(.immediate) {
                        result = try body(db)
                        return .commit
                    }
                    return result!
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                attempt += 1
                if attempt > 20 { throw error }
                try await Task.sleep(for: .milliseconds(5 * attempt))
            }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try readNow(body)
    }

    // Non-async on purpose: from an async function GRDB would pick its async overloads.
    private func writeNow<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.writeWithoutTransaction(body) } catch let error as DatabaseError { throw Self.surfaced(error, path: path) }
    }
    private func readNow<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let error as DatabaseError { throw Self.surfaced(error, path: path) }
    }

    /// A damaged, read-only or vanished file found mid-way (a page past the header is garbage, the
    /// disk filled) is the same one-line `StoreError.unusable` as at open; anything else stays as it is.
    static func surfaced(_ error: DatabaseError, path: String) -> Error {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_AUTH:
            return unusable(error, path: path)
        default:
            return error
        }
    }

    // MARK: Tasks

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
        try await read { db in
            var counts = TaskCounts()
            for row in try Row.fetchAll(db, sql: """
                SELECT state, COUNT(*) AS n, TOTAL(cost_usd) AS cost,
                       SUM(CASE WHEN cost_usd IS NULL AND attempt > 0 THEN 1 ELSE 0 END) AS unknown,
                       SUM(waiting) AS w, SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw
                FROM tasks WHERE run_id = ? GROUP BY state
                """, arguments: [run]) {
                guard let state = TaskState(rawValue: row["state"]) else { continue }
                counts.byState[state] = row["n"]
                counts.costUSD += row["cost"] as Double
                if state == .running { counts.waiting = row["w"] }
                if state != .running { counts.unknownCost += row["unknown"] as Int }
                counts.tokens = counts.tokens + TokenUsage(input: row["i"], output: row["o"], cacheRead: row["cr"], cacheWrite: row["cw"])
            }
            return counts
        }
    }

    public func claim(run: String, holder: String, limit: Int, leaseSeconds: Double, now: Date) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
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
                ORDER BY position LIMIT ?
                """), arguments: [run, t, holder, limit])
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
                                ORDER BY position LIMIT ?5)
                RETURNING *
                """)
            let taken = try Row.fetchAll(take, arguments: [holder, t + leaseSeconds, t, run, limit - claimed.count])
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
            var succeededGroups = Set<String>()
            var failedGroups = Set<String>()
            var failedTasks = Set<String>()
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
            var finishedLineages = Set<String>()
            for outcome in outcomes {
                let state: TaskState
                var notBefore = 0.0
                var failed = 0
                switch outcome.result {
                case .succeeded: state = .succeeded
                case .failed(let retryAt?):
                    state = .ready
                    notBefore = retryAt.timeIntervalSince1970
                    failed = outcome.countsAsFailure ? 1 : 0
                case .failed(nil):
                    state = .failed
                    failed = 1
                case .cancelled: state = .cancelled
                case .blocked: state = .blocked
                }
                let usage = outcome.usage ?? TokenUsage()
                guard let row = try Row.fetchOne(update, arguments: [
                    state.rawValue, notBefore, failed, outcome.exitCode, outcome.error, outcome.summary, outcome.resultPath,
                    outcome.usage != nil, usage.input, usage.output, usage.cacheRead, usage.cacheWrite,
                    outcome.costUSD, outcome.costUSD ?? 0, state.isFinal ? t : nil, try outcome.git.map { try JSONCoding.encodeString($0) },
                    try outcome.agentFacts.map { try JSONCoding.encodeString($0) },
                    run, outcome.task, holder, outcome.attempt,
                ]) else {
                    report.rejected.append(outcome.task)
                    continue
                }
                let group: String = row[0]
                if state.isFinal, (row[2] as Int) > 0, let origin: String = row[1] { finishedLineages.insert(origin) }
                report.applied.append(outcome.task)
                switch state {
                case .succeeded:
                    succeededGroups.insert(group)
                    succeededGroups.insert(outcome.task)  // task-level dependents name the task
                case .failed, .blocked:
                    failedGroups.insert(group)
                    failedTasks.insert(outcome.task)
                default: break
                }
                let kind = state == .ready ? "task.retry" : "task.\(state.rawValue)"
                var message = outcome.error ?? outcome.summary.map { String($0.prefix(200)) } ?? state.rawValue
                if state == .ready {
                    message = outcome.countsAsFailure ? "attempt \(outcome.attempt) failed: \(outcome.error ?? "?"); retrying"
                        : "attempt \(outcome.attempt): \(outcome.error ?? "?"); retrying without spending a retry"
                }
                try Self.event(db, run: run, task: outcome.task, kind: kind, message: message, at: now)
            }
            if !failedGroups.isEmpty {
                report.skipped = try Self.skipDependents(db, run: run, groups: failedGroups, tasks: failedTasks, at: now)
            }
            if !succeededGroups.isEmpty { report.released = try Self.promote(db, run: run, scope: .dependentsOf(succeededGroups)) }
            // A spawned task that ended may be the last one a `join` task was waiting for.
            if !finishedLineages.isEmpty { report.released += try Self.promote(db, run: run, scope: .dependentsOf(finishedLineages)) }
            return report
        }
    }

    public func expand(run: String, holder: String, expander: String, into tasks: [PlannedTask], now: Date) async throws -> Int {
        let specs = try tasks.map { try JSONCoding.encodeString($0) }
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

    // MARK: Dependencies

    enum PromotionScope {
        case all
        case tasks([String])
        case dependentsOf(Set<String>)
    }

    /// Marks pending tasks ready once every group they need has only succeeded tasks.
    static func promote(_ db: Database, run: String, scope: PromotionScope) throws -> Int {
        var sql = """
            UPDATE tasks SET state = 'ready' WHERE run_id = ?1 AND state = 'pending' AND NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.grp = d.need
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NULL AND t.state != 'succeeded')
            AND NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.id = d.on_task
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NOT NULL AND t.state != 'succeeded')
            AND (tasks.joins = 0 OR NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.origin = d.need AND t.depth > 0
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NULL
                  AND t.state IN ('pending', 'ready', 'running')))
            """
        var arguments: StatementArguments = [run]
        switch scope {
        case .all: break
        case .tasks(let ids):
            sql += " AND id IN (SELECT value FROM json_each(?2))"
            arguments += [try JSONCoding.encodeString(ids)]
        case .dependentsOf(let groups):
            sql += " AND id IN (SELECT task_id FROM deps WHERE run_id = ?1 AND need IN (SELECT value FROM json_each(?2)))"
            arguments += [try JSONCoding.encodeString(groups.sorted())]
        }
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
        return db.changesCount
    }

    /// A task that failed for good can never satisfy what waits for it (its group, or itself for
    /// task-level dependencies): skip those, transitively.
    static func skipDependents(_ db: Database, run: String, groups: Set<String>, tasks: Set<String>, at now: Date) throws -> Int {
        var (groupFrontier, taskFrontier) = (groups, tasks)
        var total = 0
        while !groupFrontier.isEmpty || !taskFrontier.isEmpty {
            let skipped = try Row.fetchAll(try db.cachedStatement(sql: """
                UPDATE tasks SET state = 'skipped', finished_at = ?4, error = 'needs a task that failed'
                WHERE run_id = ?1 AND state IN ('pending', 'ready') AND id IN (
                    SELECT task_id FROM deps WHERE run_id = ?1 AND (
                        (on_task IS NULL AND need IN (SELECT value FROM json_each(?2)))
                        OR (on_task IS NOT NULL AND on_task IN (SELECT value FROM json_each(?3)))))
                RETURNING id, grp
                """), arguments: [run, try JSONCoding.encodeString(groupFrontier.sorted()),
                                 try JSONCoding.encodeString(taskFrontier.sorted()), now.timeIntervalSince1970])
            total += skipped.count
            for row in skipped {
                try event(db, run: run, task: row["id"], kind: "task.skipped", message: "needs a task that failed", at: now)
            }
            groupFrontier = Set(skipped.map { $0["grp"] as String })
            taskFrontier = Set(skipped.map { $0["id"] as String })
        }
        return total
    }

    // MARK: Events

    public func appendEvent(_ event: NewEvent) async throws {
        try await write { db in try Self.event(db, run: event.run, task: event.task, kind: event.kind, message: event.message, at: event.at) }
    }

    static func event(_ db: Database, run: String, task: String?, kind: String, message: String, at: Date) throws {
        try db.cachedStatement(sql: "INSERT INTO events (run_id, task_id, kind, message, at) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [run, task, kind, message, at.timeIntervalSince1970])
    }

    public func events(run: String, after sequence: Int64, limit: Int) async throws -> [EventRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                             arguments: [run, sequence, limit]).map { row in
                EventRecord(sequence: row["seq"], run: row["run_id"], task: row["task_id"], kind: row["kind"],
                            message: row["message"], at: Date(timeIntervalSince1970: row["at"]))
            }
        }
    }

    // MARK: Locks

    public func acquireLock(_ request: LockRequest, now: Date) async throws -> LockAcquisition {
        let t = now.timeIntervalSince1970
        return try await write { db in
            let current = try Row.fetchOne(db, sql: "SELECT * FROM locks WHERE path = ?", arguments: [request.path]).map(Self.lockRecord)
            if let current, current.holder != request.holder, current.expiresAt.timeIntervalSince1970 > t,
               current.holder != request.replacing {
                return .heldBy(current)
            }
            try db.execute(sql: """
                INSERT OR REPLACE INTO locks (path, holder, holder_host, holder_pid, run_id, task_id, acquired_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [request.path, request.holder, request.host, request.pid, request.run, request.task,
                                 current?.holder == request.holder ? current!.acquiredAt.timeIntervalSince1970 : t, t + request.ttl])
            let previous = current?.holder == request.holder ? nil : current
            if let run = request.run {
                let message = previous.map { "\(request.path) (taken over from \($0.holder))" } ?? request.path
                try Self.event(db, run: run, task: request.task, kind: "lock.acquired", message: message, at: now)
            }
            return .acquired(previous: previous)
        }
    }

    public func releaseLock(path: String, holder: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM locks WHERE path = ? AND holder = ?", arguments: [path, holder])
            return db.changesCount == 1
        }
    }

    public func locks() async throws -> [LockRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM locks ORDER BY path").map(Self.lockRecord) }
    }

    // MARK: Workers

    public func registerWorker(_ worker: WorkerRecord) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO workers (id, run_id, role, host, pid, task_id, agent, started_at, heartbeat_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [worker.id, worker.run, worker.role, worker.host, worker.pid, worker.task, worker.agent,
                                 worker.startedAt.timeIntervalSince1970, worker.heartbeatAt.timeIntervalSince1970])
        }
    }

    public func heartbeatWorker(id: String, task: String?, now: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE workers SET heartbeat_at = ?, task_id = ? WHERE id = ?",
                           arguments: [now.timeIntervalSince1970, task, id])
        }
    }

    public func removeWorker(id: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM workers WHERE id = ?", arguments: [id]) }
    }

    public func workers(run: String?) async throws -> [WorkerRecord] {
        try await read { db in
            let rows = if let run {
                try Row.fetchAll(db, sql: "SELECT * FROM workers WHERE run_id = ? ORDER BY started_at", arguments: [run])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY started_at")
            }
            return rows.map { row in
                WorkerRecord(id: row["id"], run: row["run_id"], role: row["role"], host: row["host"], pid: row["pid"],
                             task: row["task_id"], agent: row["agent"],
                             startedAt: Date(timeIntervalSince1970: row["started_at"]),
                             heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]))
            }
        }
    }
}
