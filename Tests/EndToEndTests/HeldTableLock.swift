import Foundation
import MusterTestKit
import Testing

/// Tables of a schema held in ACCESS EXCLUSIVE mode by a psql session of the test's own, inside a
/// transaction left open (or a run's advisory lock, held by the session): every statement needing
/// them (reads included, for tables) waits in PostgreSQL until `release()` ends that session. A real
/// stuck store call, without mocks. psql reads its script from a FIFO the test keeps open for
/// writing, so after the LOCK it waits for more input, holding the transaction, until the test
/// closes its end.
struct HeldTableLock {
    let session: BackgroundProcess
    let application: String
    let server: String
    let script: String
    let writer: Int32

    /// Takes the locks and returns once they are granted. `server`: the cluster's URL (no options).
    static func take(_ tables: [String], schema: String, server: String? = nil) async throws -> HeldTableLock {
        let list = tables.map { "\(schema).\($0)" }.joined(separator: ", ")
        return try await hold("BEGIN; LOCK TABLE \(list) IN ACCESS EXCLUSIVE MODE;", locks: "\(list) in ACCESS EXCLUSIVE mode",
                              server: server, granted: "l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'", count: tables.count)
    }

    /// The advisory lock a store transaction takes for run `run` (`lockRun`), held by the session
    /// until `release()`: the store's steps that need the run's lock wait for it.
    static func takeRunLock(_ run: String, server: String? = nil) async throws -> HeldTableLock {
        try await hold("SELECT pg_advisory_lock(hashtextextended('muster:run:\(run)', 0));", locks: "the lock of run \(run)",
                       server: server, granted: "l.locktype = 'advisory'", count: 1)
    }

    /// Runs `statements` in a psql session of its own and returns once `count` of its locks
    /// matching `granted` (a condition on `pg_locks l`) are granted.
    private static func hold(_ statements: String, locks: String, server: String?, granted: String, count: Int) async throws -> HeldTableLock {
        let server = try server ?? #require(ManyHostsFixture.postgresURL)
        let application = "muster-test-lock-" + UUID().uuidString.prefix(8).lowercased()
        let script = NSTemporaryDirectory() + application + ".sql"
        try #require(mkfifo(script, 0o600) == 0, "mkfifo \(script): \(String(cString: strerror(errno)))")
        // Read-write: the open does not wait for a reader, and psql never sees the end of its input.
        let writer = open(script, O_RDWR | O_CLOEXEC)
        try #require(writer >= 0, "open \(script): \(String(cString: strerror(errno)))")
        let bytes = Array((statements + "\n").utf8)
        try #require(bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) } == bytes.count)
        let session = try Command.start("/usr/bin/env", ["psql", "-q", server + "?application_name=\(application)", "-f", script],
                                        in: URL(fileURLWithPath: "/"))
        let lock = HeldTableLock(session: session, application: application, server: server, script: script, writer: writer)
        let held = try await eventually(timeout: 30) {
            try await Int(lock.query("""
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                WHERE a.application_name = '\(application)' AND \(granted) AND l.granted
                """)) ?? 0 >= count
        }
        if !held { await lock.release() }
        try #require(held, "the test's session did not get \(locks)")
        return lock
    }

    /// Ends the session (its transaction rolls back, the locks go): psql reaches the end of its
    /// input and quits; its server process is ended too, in case psql is slow to notice.
    func release() async {
        close(writer)
        _ = try? await query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(application)'")
        session.signal(SIGTERM)
        _ = await session.exited()
        unlink(script)
    }

    /// The server process ids of `application`'s connections waiting on a lock now.
    static func waiting(application: String, server: String? = nil) async throws -> [Int] {
        let server = try server ?? #require(ManyHostsFixture.postgresURL)
        let result = try await Command.run("/usr/bin/env", ["psql", "-Atq", server, "-c",
                                                            "SELECT pid FROM pg_stat_activity WHERE application_name = '\(application)' AND wait_event_type = 'Lock'"],
                                           in: URL(fileURLWithPath: "/"))
        try #require(result.status == 0, "psql: \(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func query(_ sql: String) async throws -> String {
        let result = try await Command.run("/usr/bin/env", ["psql", "-Atq", server, "-c", sql], in: URL(fileURLWithPath: "/"))
        try #require(result.status == 0, "psql: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
