import Foundation
import MusterPostgres
import Testing

/// The PostgreSQL the tests use: `MUSTER_TEST_POSTGRES_URL` (scripts/test starts a private cluster
/// and sets it). Without it the suites are skipped, saying why, except under `CI=true`, where a
/// missing PostgreSQL is a failure rather than a silent skip.
enum PostgresTestDatabase {
    static let url = ProcessInfo.processInfo.environment["MUSTER_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let onCI = ["true", "1"].contains(ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? "")

    /// Whether the suites run: a database is named, or CI insists (and then they fail without one).
    static let enabled: Bool = {
        if url == nil && !onCI {
            print("MusterPostgresTests skipped: MUSTER_TEST_POSTGRES_URL is not set (scripts/test starts a private PostgreSQL and sets it)")
        }
        return url != nil || onCI
    }()

    static let skipReason: Comment = "MUSTER_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL"

    static func requireURL() throws -> String {
        guard let url else {
            throw PostgresTestFailure("CI=true but MUSTER_TEST_POSTGRES_URL is not set: scripts/test starts a private PostgreSQL and sets it")
        }
        return url
    }

    /// The URL of a schema of its own (so tests run in parallel without seeing one another's rows).
    static func freshURL() throws -> String {
        let base = try requireURL()
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)&pool=4"
    }

    /// A store on a fresh schema; `body` runs with it, then the schema is dropped.
    static func withFreshStore<T>(_ body: (PostgresStore, String) async throws -> T) async throws -> T {
        let url = try freshURL()
        let store = try await PostgresStore(url: url)
        do {
            let result = try await body(store, url)
            try await store.dropSchema()
            store.close()
            return result
        } catch {
            try? await store.dropSchema()
            store.close()
            throw error
        }
    }
}

struct PostgresTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
