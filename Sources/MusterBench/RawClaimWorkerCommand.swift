import ArgumentParser
import Foundation
import GRDB

/// `raw-claim-worker`: the peer baseline. The same claim-then-finish loop as `claim-worker`, on the
/// same schema, in hand-written SQL on one GRDB connection: no Store layer, no row decoding, no events.
struct RawClaimWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-claim-worker", abstract: "The claim loop in raw SQL (BEGIN IMMEDIATE … UPDATE … RETURNING), for comparison.")

    @OptionGroup var options: WorkerOptions

    static let claimSQL = """
        UPDATE tasks SET state = 'running', holder = ?1, lease_expires_at = ?2, attempt = attempt + 1, started_at = ?3
        WHERE rowid IN (SELECT rowid FROM tasks WHERE run_id = ?4 AND state = 'ready' ORDER BY position LIMIT ?5)
        RETURNING id
        """

    static let finishSQL = """
        UPDATE tasks SET state = 'succeeded', holder = NULL, lease_expires_at = NULL, exit_code = 0, finished_at = ?1
        WHERE run_id = ?2 AND id = ?3 AND holder = ?4 AND state = 'running'
        """

    func run() throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // The same durability as SQLiteStore: WAL, synchronous NORMAL.
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        }
        let queue = try DatabaseQueue(path: options.store, configuration: config)
        try queue.read { db in _ = try Int.fetchOne(db, sql: "SELECT 1") }  // opened before the gate, as the Store API worker is
        try Bench.waitAtGateBlocking(options.startGate, holder: options.holder)
        let run = options.run, holder = options.holder, batch = options.batch
        var ids: [String] = []
        let wallStart = Date()
        let start = ContinuousClock.now
        while true {
            let claimed: [String] = try Self.immediate(queue) { db in
                let now = Date().timeIntervalSince1970
                return try String.fetchAll(db.cachedStatement(sql: Self.claimSQL), arguments: [holder, now + 600, now, run, batch])
            }
            if claimed.isEmpty { break }
            ids.append(contentsOf: claimed)
            let finished: Int = try Self.immediate(queue) { db in
                let statement = try db.cachedStatement(sql: Self.finishSQL)
                let now = Date().timeIntervalSince1970
                var count = 0
                for id in claimed {
                    try statement.execute(arguments: [now, run, id, holder])
                    count += db.changesCount
                }
                return count
            }
            if finished != claimed.count { throw ValidationError("finished \(finished) of \(claimed.count) claimed tasks") }
        }
        let seconds = Bench.seconds(since: start)
        Bench.reportSpan(start: wallStart, end: Date())
        try Bench.writeIDs(ids, to: options.out)
        print("claims=\(ids.count) seconds=\(Bench.format(seconds))")
    }

    /// One `BEGIN IMMEDIATE` transaction, retried when SQLITE_BUSY gets through the busy timeout anyway.
    static func immediate<T>(_ queue: DatabaseQueue, _ body: (Database) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try queue.writeWithoutTransaction { db in
                    var result: T?
                    try db.inTransaction(.immediate) {
                        result = try body(db)
                        return .commit
                    }
                    return result!
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                attempt += 1
                if attempt > 50 { throw error }
                usleep(UInt32(1000 * min(attempt, 20)))
            }
        }
    }
}
