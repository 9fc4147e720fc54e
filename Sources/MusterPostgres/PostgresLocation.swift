import Foundation

/// Where a PostgreSQL store lives, parsed from `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]`.
///
/// Options: `schema=NAME` (the store's tables live in that schema, created if missing; default
/// `public`), `pool=N` (most connections the store opens, 1 to 64; else `MUSTER_PG_POOL`, else 4),
/// `host=/socket/folder` (a Unix socket instead of TCP), `sslmode=disable` (the only mode for now).
/// `MUSTER_PG_ABANDON=SECONDS`: how long one store call may go unanswered before it is abandoned
/// as a lost connection (default 60).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var schema: String?
    public var socketFolder: String?
    public var poolSize: Int
    /// How long one attempt of a store call may go unanswered before it is abandoned (`AbandonedCall`).
    public var abandonAfter: Duration = Self.defaultAbandonAfter

    /// How long a call waits for a server that went away (or keeps not answering) before it fails.
    public var reconnectWindow: Duration = .seconds(120)

    public static let defaultAbandonAfter: Duration = .seconds(60)

    public static let defaultPoolSize = 4

    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(url text: String) throws {
        try self.init(url: text, environment: ProcessInfo.processInfo.environment)
    }

    /// `environment`: where `PGUSER`, `PGPASSWORD` and `MUSTER_PG_POOL` are read (the process's by default).
    public init(url text: String, environment: [String: String]) throws {
        guard Self.isPostgresURL(text), let url = URLComponents(string: text) else {
            throw PostgresStoreError.badURL(Self.redacted(text), "write it as postgres://USER@HOST:PORT/DATABASE")
        }
        let options = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError.badURL(Self.redacted(text), "name the database after the host: postgres://USER@HOST:PORT/DATABASE")
        }
        user = url.user.flatMap { $0.removingPercentEncoding } ?? environment["PGUSER"] ?? "postgres"
        password = url.password?.removingPercentEncoding ?? environment["PGPASSWORD"]
        host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = url.port ?? 5432
        self.database = database
        socketFolder = options["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        if let schema = options["schema"] {
            guard schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                throw PostgresStoreError.badURL(Self.redacted(text), "schema=\(schema) must be lower-case letters, digits and _")
            }
            self.schema = schema
        }
        if let pool = options["pool"] {
            guard let size = Int(pool), (1...64).contains(size) else {
                throw PostgresStoreError.badURL(Self.redacted(text), "pool=\(pool) must be a whole number from 1 to 64")
            }
            poolSize = size
        } else if let pool = environment["MUSTER_PG_POOL"], !pool.isEmpty {
            guard let size = Int(pool), (1...64).contains(size) else {
                throw PostgresStoreError.badURL(Self.redacted(text), "MUSTER_PG_POOL=\(pool) must be a whole number from 1 to 64")
            }
            poolSize = size
        } else {
            poolSize = Self.defaultPoolSize
        }
        if let abandon = environment["MUSTER_PG_ABANDON"], !abandon.isEmpty {
            guard let seconds = Double(abandon), seconds > 0, seconds <= 86400 else {
                throw PostgresStoreError.badURL(Self.redacted(text), "MUSTER_PG_ABANDON=\(abandon) must be a number of seconds above 0")
            }
            abandonAfter = .milliseconds(Int(seconds * 1000))
        }
        if let mode = options["sslmode"], mode != "disable" {
            throw PostgresStoreError.badURL(Self.redacted(text),
                "sslmode=\(mode) is not supported yet: use sslmode=disable on a private network or through an SSH tunnel")
        }
        let known: Set = ["schema", "pool", "host", "sslmode"]
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresStoreError.badURL(Self.redacted(text), "unknown option \(unknown) (known: schema, pool, host, sslmode)")
        }
    }

    /// How the store's connections show in `pg_stat_activity` (`application_name`).
    public var applicationName: String { String(("muster" + (schema.map { "/" + $0 } ?? "")).prefix(63)) }

    /// The URL without its password, for messages and logs.
    public var description: String {
        var text = "postgres://\(user)@\(host):\(port)/\(database)"
        var options: [String] = []
        if let schema { options.append("schema=\(schema)") }
        if let socketFolder { options.append("host=\(socketFolder)") }
        if !options.isEmpty { text += "?" + options.joined(separator: "&") }
        return text
    }

    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }
}

public enum PostgresStoreError: Error, CustomStringConvertible, Sendable {
    case badURL(String, String)
    case unreachable(String, String)

    public var description: String {
        switch self {
        case .badURL(let url, let fix): "the store address \(url) is not usable: \(fix)"
        case .unreachable(let url, let problem): "the PostgreSQL store \(url) \(problem)"
        }
    }
}
