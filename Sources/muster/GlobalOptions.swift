import ArgumentParser
import Foundation
import MusterPostgres
import MusterRuntime
import MusterStore

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store: a file (default: <repository>/.muster/muster.db, or $MUSTER_STORE) or postgres://USER@HOST:PORT/DATABASE.",
        valueName: "path|url"))
    var store: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    var workspace: Workspace {
        Workspace.locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }

    /// The store's file path, or its `postgres://` URL as given.
    var storePath: String {
        if let store { return StoreLocator.isPostgres(store) ? store : URL(fileURLWithPath: store).standardizedFileURL.path }
        if let env = ProcessInfo.processInfo.environment["MUSTER_STORE"], !env.isEmpty { return env }
        return workspace.defaultStorePath
    }

    /// The store as messages name it: a URL's password is never printed.
    var storeDescription: String {
        storeIsPostgres ? ((try? PostgresLocation(url: storePath))?.description ?? storePath) : storePath
    }

    /// Whether the store is a PostgreSQL database rather than a file.
    var storeIsPostgres: Bool { StoreLocator.isPostgres(storePath) }

    /// Opens the store; `create` false refuses to make a new empty one (reading commands).
    /// A `postgres://` URL opens a PostgresStore (a bad URL is bad input, exit 2).
    func openStore(create: Bool) async throws -> any Store {
        let path = storePath
        if storeIsPostgres {
            do { return try await StoreLocator.open(path) } catch let error as PostgresStoreError { throw CLIError.usage(error.description) }
        }
        if !create && !FileManager.default.fileExists(atPath: path) {
            throw CLIError.usage("no muster store at \(path): run a workflow first (`muster run FILE`) or pass --store")
        }
        return try SQLiteStore(path: path)
    }

    /// The run named, or the newest one.
    func resolveRun(_ id: String?, in store: any Store) async throws -> RunRecord {
        if let id {
            let run = try await store.requireRun(id)
            return run
        }
        guard let newest = try await store.runs(limit: 1).first else { throw CLIError.usage("no runs yet: start one with `muster run FILE`") }
        return newest
    }
}
