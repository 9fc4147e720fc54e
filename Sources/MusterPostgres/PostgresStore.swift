import Foundation
import Logging
import MusterCore
import MusterStore
import PostgresNIO
import Synchronization

/// The Store on PostgreSQL, for runs spread over several hosts.
///
/// Concurrency: claims (tasks, messages) are single statements with `FOR UPDATE SKIP LOCKED`, so
/// claimers never wait on one another. Everything that changes a run's graph or writes its event
/// log (finish, spawn, expand, reopen, …) takes a transaction-scoped advisory lock on the run,
/// held to commit: per run, those steps apply one at a time, as in SQLite, so promotion never
/// misses a concurrent success and events are numbered in commit order. A finish of successes
/// takes it only after updating its own tasks (`muster_finish`, migration pg10), which are fenced
/// on their rows. Limits lock their key the same way.
///
/// Time: every method judges leases, buckets and cool-downs by the `now` it is given (the
/// conformance suite drives time explicitly). Callers pass the store's `clock`, the server's clock
/// as this host reads it, so no host's drift moves a lease.
public final class PostgresStore: Store {
    public let location: PostgresLocation
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger
    let changes = ChangeFeed()
    /// Each pooled connection's server process and current attempt, by connection id: see `HeldConnection`.
    let connections = Mutex<[PostgresConnection.ID: PooledConnection]>([:])
    /// This host's clock, and how far the server's runs ahead of it: see `clock`.
    let hostClock: @Sendable () -> Date
    let serverOffset = ServerClockOffset()

    /// Connects (a bounded pool of `location.poolSize` connections), brings the schema up to date
    /// and measures the server's clock against `hostClock` (this host's; tests skew it).
    public init(location: PostgresLocation, hostClock: @escaping @Sendable () -> Date = { Date() }) async throws {
        self.location = location
        self.hostClock = hostClock
        var logger = Logger(label: "muster.postgres")
        // MUSTER_POSTGRES_LOG=debug|info|warning… shows the driver's own log on stderr (a reconnecting pool, say).
        logger.logLevel = ProcessInfo.processInfo.environment["MUSTER_POSTGRES_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        self.logger = logger
        let client = PostgresClient(configuration: location.poolConfiguration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
        do {
            // The pool waits out a server that is down (it retries, for a minute), which is what a
            // running process wants; opening says at once that nothing answers.
            try await Self.within(seconds: Self.openTimeout, location: location) {
                try await Migrations.migrate(self)
                try await self.measureServerClock()
            }
        } catch {
            runner.cancel()
            throw Self.surfaced(error, location: location)
        }
        serverOffset.startRefreshing { [weak self] in try await self?.measureServerClock() }
    }

    static let openTimeout = 10.0

    static func within(seconds: Double, location: PostgresLocation, _ body: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await AbandonRace.run("open", within: .milliseconds(Int(seconds * 1000))) { _ in try await body() }
        } catch is AbandonedCall {
            throw StoreError.unusable(path: location.description, problem: "cannot be reached (no answer within \(Int(seconds)) s)",
                                      fix: "check that PostgreSQL runs there and accepts connections, or pass another --store")
        }
    }

    public convenience init(url: String) async throws {
        try await self.init(location: try PostgresLocation(url: url))
    }

    deinit {
        close()
    }

    /// Closes the pool; the store cannot be used afterwards.
    public func close() {
        changes.stop()
        serverOffset.stop()
        runner.cancel()
    }

    // MARK: Running statements

    /// One statement outside any explicit transaction (it commits on its own): one round trip.
    func autocommit(_ query: PostgresQuery, caller: String = #function) async throws -> [PostgresRandomAccessRow] {
        try await retrying(caller) { held in
            try await self.client.withConnection { connection in
                try await self.hold(connection, for: held)
                return try await connection.query(query, logger: self.logger).collect().map { $0.makeRandomAccess() }
            }
        }
    }

    /// `body` in one transaction on one pooled connection; retried whole on a deadlock or a serialization failure.
    func transaction<T: Sendable>(caller: String = #function, _ body: @escaping @Sendable (SQL) async throws -> T) async throws -> T {
        try await retrying(caller) { held in
            try await self.client.withConnection { connection in
                try await self.hold(connection, for: held)
                let sql = SQL(connection: connection, logger: self.logger)
                try await sql.rows("BEGIN")
                let value: T
                do {
                    value = try await body(sql)
                } catch {
                    // The error that ended the transaction, not a wrapper: callers catch SpawnError, StoreError…
                    _ = try? await sql.rows("ROLLBACK")
                    throw error
                }
                // Abandoned while it waited (its retry runs on another connection): its work must not
                // commit beside the retry's, whether or not ending its server process got through.
                if held.isAbandoned {
                    _ = try? await sql.rows("ROLLBACK")
                    throw CancellationError()
                }
                try await sql.rows("COMMIT")
                return value
            }
        }
    }

    /// `body`, again after a deadlock or a lost connection; one attempt that has not answered within
    /// `location.abandonAfter` is abandoned (left behind, see `AbandonRace`) and counts as a lost connection.
    func retrying<T: Sendable>(_ caller: String, _ body: @escaping @Sendable (HeldConnection) async throws -> T) async throws -> T {
        // With MUSTER_POSTGRES_LOG, a call that waits long says which it is (a stuck lock, a lost connection).
        let watchdog = logger.logLevel <= .warning ? Task { [logger] in
            var waited = 0
            while true {
                try await Task.sleep(for: .seconds(15))
                waited += 15
                logger.warning("store call \(caller) still waiting after \(waited) s")
            }
        } : nil
        defer { watchdog?.cancel() }
        var attempt = 0
        var lostSince: ContinuousClock.Instant?
        while true {
            do {
                let held = HeldConnection(caller: caller)
                return try await AbandonRace.run(caller, within: location.abandonAfter,
                                                 abandoned: { held.abandon { await self.terminate($0) } }) { giveUp in
                    held.attach(giveUp)
                    return try await body(held)
                }
            } catch let error as PSQLError where Self.isTransient(error) && attempt < 20 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...5) * attempt))
            } catch where Self.isConnectionLost(error) {
                // The server went away (a restart, a network cut): a statement on a lost connection
                // was rolled back, so running it again on a new one is correct (an abandoned attempt is
                // ended first: `HeldConnection`). Wait the server out (the pool reconnects) for
                // `reconnectWindow`, then say it cannot be reached.
                if let abandoned = error as? AbandonedCall {
                    logger.error("\(abandoned); retried as after a lost connection")
                } else if let closed = error as? ConnectionClosedUnanswered {
                    logger.warning("\(closed); retried")
                } else {
                    logger.info("store call \(caller): connection lost (\(String(reflecting: error))); retried")
                }
                let since = lostSince ?? .now
                lostSince = since
                guard since.duration(to: .now) < location.reconnectWindow else { throw Self.surfaced(error, location: location) }
                try await Task.sleep(for: .milliseconds(min(2000, 200 * (attempt + 1))))
                attempt += 1
            } catch {
                throw Self.surfaced(error, location: location)
            }
        }
    }

    /// A connection closed by the server (shutdown, crash, restart) or not made: nothing of the
    /// statement was applied. (A COMMIT cut in flight is the one ambiguous case: the fencing of
    /// holders and attempts turns a replay of an applied outcome into a rejection, never a second one.)
    static func isConnectionLost(_ error: Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            // clientClosedConnection: the pool handed out a connection the server had just closed
            // (the driver closes its side once it notices); the statement never reached a server.
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown: return true
            case .server:
                // admin_shutdown, crash_shutdown, cannot_connect_now; class 08: connection exceptions.
                let state = error.serverInfo?[.sqlState] ?? ""
                return ["57P01", "57P02", "57P03"].contains(state) || state.hasPrefix("08")
            default: return false
            }
        }
        if error is AbandonedCall || error is ConnectionClosedUnanswered { return true }
        // The pool gave up making connections for a while (its circuit breaker): it tries again later.
        return "\(type(of: error))" == "ConnectionPoolError"
    }

    static func sqlState(_ error: Error) -> String? { (error as? PSQLError)?.serverInfo?[.sqlState] }

    /// Deadlock, serialization failure: another transaction won; running again is correct.
    static func isTransient(_ error: PSQLError) -> Bool {
        ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    /// A connection that cannot be made, said in one line; anything the store itself threw passes through.
    static func surfaced(_ error: Error, location: PostgresLocation) -> Error {
        if let error = error as? AbandonedCall {
            return StoreError.unusable(path: location.description, problem: "did not answer (\(error))",
                                       fix: "look for a stuck lock or connection in pg_stat_activity, or raise MUSTER_PG_ABANDON")
        }
        if error is ConnectionClosedUnanswered {
            return StoreError.unusable(path: location.description, problem: "cannot be reached (its connections keep closing)",
                                       fix: "check that PostgreSQL runs there and accepts connections, or pass another --store")
        }
        guard let error = error as? PSQLError else { return error }
        if let info = error.serverInfo {
            let message = info[.message] ?? "failed"
            switch info[.sqlState] ?? "" {
            case "3D000", "28000", "28P01", "3F000", "42501":
                return StoreError.unusable(path: location.description, problem: "refused the connection: \(message)",
                                           fix: "check the user, password, database and schema in the URL")
            default:
                return StoreError.corrupt("PostgreSQL: \(message) (\(info[.sqlState] ?? "?"))")
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed:
            return StoreError.unusable(path: location.description, problem: "cannot be reached (\(error.code))",
                                       fix: "check that PostgreSQL runs there and accepts connections, or pass another --store")
        default:
            return error
        }
    }
}

/// A connection inside a transaction: statements and their rows, decoded by column name.
struct SQL: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger

    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? { try await rows(query).first }

    /// Runs a statement ending in `RETURNING 1` (or any RETURNING) and answers how many rows it touched.
    func count(_ query: PostgresQuery) async throws -> Int { try await rows(query).count }

    /// Serializes this transaction with every other one that changes `run`'s graph or event log.
    func lockRun(_ run: String) async throws {
        try await rows("SELECT pg_advisory_xact_lock(hashtextextended(\("muster:run:" + run), 0))")
    }

    /// Serializes this transaction with every other one on the limit (or lock path) `key`.
    func lockKey(_ key: String) async throws {
        try await rows("SELECT pg_advisory_xact_lock(hashtextextended(\("muster:key:" + key), 0))")
    }
}

extension PostgresRandomAccessRow {
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }
}
