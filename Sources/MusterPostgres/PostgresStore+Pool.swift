import MusterStore
import PostgresNIO

extension PostgresStore {
    /// How many connections named `application` the server holds now (`pg_stat_activity`): for
    /// `muster ps`-style views of the fleet and for the pool's tests.
    public func connectionCount(application: String) async throws -> Int {
        let rows = try await autocommit("""
            SELECT COUNT(*)::bigint AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = \(application)
            """)
        return try rows.first?.get("n") ?? 0
    }
}
