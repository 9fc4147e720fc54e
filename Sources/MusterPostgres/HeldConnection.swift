import Foundation
import PostgresNIO
import Synchronization

/// The pooled connection one attempt of a store call runs on, so that an attempt that cannot end
/// on its own is ended:
/// - Abandoned (`AbandonRace`): cut rather than left to apply later beside its retry. Closing our
///   end is not enough (a server process waiting on a lock notices a vanished client only when it
///   next talks to it, and a single statement would commit first), so its server process is
///   terminated through another connection, and the connection closed. An attempt still waiting
///   for a connection gives up as soon as it gets one.
/// - Its connection closed: the driver fails what it had in flight, except a request written just
///   as the connection closed, which is lost and would leave the caller waiting forever (a worker
///   hung after a server restart this way). So a close gives the attempt a moment to end as usual,
///   then gives it up as a lost connection (`ConnectionClosedUnanswered`): the call runs again.
final class HeldConnection: Sendable {
    private struct State {
        var connection: PostgresConnection?
        var backend: Backend?
        var abandoned = false
        var giveUp: AbandonRace.GiveUp?
    }
    private let state = Mutex(State())
    let caller: String

    init(caller: String) { self.caller = caller }

    /// Whether the attempt was abandoned (a transaction then rolls back instead of committing).
    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// How the race this attempt runs in may be ended early.
    func attach(_ giveUp: AbandonRace.GiveUp) { state.withLock { $0.giveUp = giveUp } }

    /// Called first thing on the leased connection; throws when the attempt was abandoned meanwhile.
    func use(_ connection: PostgresConnection, backend: Backend) throws {
        let abandoned = state.withLock { state in
            state.connection = connection
            state.backend = backend
            return state.abandoned
        }
        if abandoned { throw CancellationError() }
    }

    func abandon(terminate: @escaping @Sendable (Backend) async -> Void) {
        let (connection, backend) = state.withLock { state in
            state.abandoned = true
            return (state.connection, state.backend)
        }
        Task {
            if let backend { await terminate(backend) }
            try? await connection?.close()
        }
    }

    /// The connection closed: whatever the attempt still waits for after `settle` never comes.
    func connectionClosed(settle: Duration = .seconds(2)) {
        guard let giveUp = state.withLock({ $0.giveUp }) else { return }
        let caller = self.caller
        Task {
            try? await Task.sleep(for: settle)
            giveUp(ConnectionClosedUnanswered(caller: caller))
        }
    }
}

/// A connection's server process, named so that a terminate never reaches another one that later
/// got the same process id.
struct Backend: Sendable {
    let pid: Int32
    let start: Double
}

/// What the store knows of one pooled connection: its server process, and the attempt on it now.
struct PooledConnection: Sendable {
    let backend: Backend
    var holder: HeldConnection?
}

extension PostgresStore {
    /// Leases `connection` to the attempt `held`. A connection seen for the first time is asked for
    /// its server process and watched for its close (once: the entry goes with the connection).
    func hold(_ connection: PostgresConnection, for held: HeldConnection) async throws {
        if connection.isClosed { throw ConnectionClosedUnanswered(caller: held.caller) }
        var backend = connections.withLock { $0[connection.id]?.backend }
        if backend == nil {
            let rows = try await connection.query("""
                SELECT pid, extract(epoch FROM backend_start)::float8 AS start FROM pg_stat_activity WHERE pid = pg_backend_pid()
                """, logger: logger).collect()
            let row = try rows.first.map { $0.makeRandomAccess() }
            let seen = Backend(pid: try row?.get("pid") ?? 0, start: try row?.get("start") ?? 0)
            backend = seen
            connections.withLock { $0[connection.id] = PooledConnection(backend: seen) }
            let id = connection.id
            connection.closeFuture.whenComplete { [weak self] _ in
                let gone = self?.connections.withLock { $0.removeValue(forKey: id) }
                gone?.holder?.connectionClosed()
            }
        }
        connections.withLock { $0[connection.id]?.holder = held }
        guard let backend else { return }
        try held.use(connection, backend: backend)
    }

    /// Ends the server process of an abandoned attempt (what it had not committed rolls back).
    /// Over a connection of its own, outside the pool, made for this and closed after: the pool
    /// may be all taken by calls stuck like this one (a pool of 1 always is), and a single
    /// statement left waiting would apply once its lock is free, beside its retry. Best effort,
    /// bounded.
    func terminate(_ backend: Backend) async {
        guard backend.pid > 0 else { return }
        _ = try? await AbandonRace.run("terminate", within: .seconds(10)) { _ in
            let connection = try await PostgresConnection.connect(configuration: self.location.connectionConfiguration,
                                                                  id: 0, logger: self.logger)
            do {
                _ = try await connection.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE pid = \(backend.pid) AND abs(extract(epoch FROM backend_start)::float8 - \(backend.start)) < 0.001
                    """, logger: self.logger).collect()
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        }
    }
}
