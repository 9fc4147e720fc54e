import PostgresNIO

/// How a store's connections are made: the pool's, and the one-off connection that ends an
/// abandoned call's server process (`terminate`).
extension PostgresLocation {
    /// The pool: at most `poolSize` connections (its LISTEN included), none kept idle.
    var poolConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let folder = socketFolder {
            configuration = .init(unixSocketPath: "\(folder)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = startupParameters(application: applicationName)
        return configuration
    }

    /// One connection outside the pool, named apart from the pool's in `pg_stat_activity`.
    var connectionConfiguration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let folder = socketFolder {
            configuration = .init(unixSocketPath: "\(folder)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = startupParameters(application: String((applicationName + "/terminate").suffix(63)))
        return configuration
    }

    private func startupParameters(application: String) -> [(String, String)] {
        // Named, so `pg_stat_activity` shows which connections are muster's (and which schema's).
        var parameters = [("application_name", application)]
        if let schema { parameters.append(("search_path", schema)) }
        // Short statements only: a lock held by a stuck peer must not hang a claimer forever.
        parameters.append(("lock_timeout", "30s"))
        return parameters
    }
}
