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
        let labels = try worker.labels.flatMap { $0.isEmpty ? nil : try JSONCoding.encodeString($0.sorted()) }
        try await write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO workers (id, run_id, role, host, pid, task_id, agent, started_at, heartbeat_at, labels)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [worker.id, worker.run, worker.role, worker.host, worker.pid, worker.task, worker.agent,
                                 worker.startedAt.timeIntervalSince1970, worker.heartbeatAt.timeIntervalSince1970, labels])
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
                             heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]),
                             labels: (row["labels"] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) })
            }
        }
    }
}
