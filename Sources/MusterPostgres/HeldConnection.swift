import PostgresNIO
import Synchronization

/// The pooled connection one attempt of a store call runs on, so that an abandoned attempt
/// (`AbandonRace`) is cut rather than left to apply later beside its retry. Closing our end is not
/// enough: a server process waiting on a lock notices a vanished client only when it next talks to
/// it, and a single statement would commit first. So its server process is terminated
/// (`pg_terminate_backend`, through another connection) and the connection closed; an attempt still
/// waiting for a connection gives up as soon as it gets one.
final class HeldConnection: Sendable {
    private struct State {
        var connection: PostgresConnection?
        var backend: Int32?
        var abandoned = false
    }
    private let state = Mutex(State())

    /// Called first thing on the leased connection (`backend`: its server process); throws when the
    /// attempt was abandoned meanwhile.
    func use(_ connection: PostgresConnection, backend: Int32) throws {
        let abandoned = state.withLock { state in
            state.connection = connection
            state.backend = backend
            return state.abandoned
        }
        if abandoned { throw CancellationError() }
    }

    func abandon(terminate: @escaping @Sendable (Int32) async -> Void) {
        let (connection, backend) = state.withLock { state in
            state.abandoned = true
            return (state.connection, state.backend)
        }
        Task {
            if let backend { await terminate(backend) }
            try? await connection?.close()
        }
    }
}

extension PostgresStore {
    /// Leases `connection` to the attempt `held`: its server process is asked once per connection.
    func hold(_ connection: PostgresConnection, for held: HeldConnection) async throws {
        var backend = backends.withLock { $0[connection.id] }
        if backend == nil {
            let rows = try await connection.query("SELECT pg_backend_pid() AS pid", logger: logger).collect()
            backend = try rows.first?.makeRandomAccess().get("pid", as: Int32.self)
            backends.withLock { $0[connection.id] = backend }
        }
        try held.use(connection, backend: backend ?? 0)
    }

    /// Ends the server process of an abandoned attempt (what it had not committed rolls back).
    /// Best effort, bounded: the pool may be what is stuck.
    func terminate(backend: Int32) async {
        guard backend > 0 else { return }
        _ = try? await AbandonRace.run("terminate", within: .seconds(10)) {
            try await self.client.withConnection { connection in
                _ = try await connection.query("SELECT pg_terminate_backend(\(backend))", logger: self.logger).collect()
            }
        }
    }
}
