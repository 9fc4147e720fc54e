import Foundation
import MusterStore

/// Opens the store a `--store` value or `MUSTER_STORE` names: a `postgres://` URL opens a
/// `PostgresStore`, anything else is a SQLite file path. The one place front doors decide.
public enum StoreLocator {
    public enum Kind: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(PostgresLocation)
    }

    /// What `text` names; a malformed `postgres://` URL is refused here, before anything connects.
    public static func kind(of text: String) throws -> Kind {
        if PostgresLocation.isPostgresURL(text) { return .postgres(try PostgresLocation(url: text)) }
        return .sqlite(path: text)
    }

    public static func isPostgres(_ text: String) -> Bool { PostgresLocation.isPostgresURL(text) }

    public static func open(_ text: String) async throws -> any Store {
        switch try kind(of: text) {
        case .sqlite(let path): return try SQLiteStore(path: path)
        case .postgres(let location): return try await PostgresStore(location: location)
        }
    }
}
