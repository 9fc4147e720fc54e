import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store file (default: <repository>/.muster/muster.db, or $MUSTER_STORE).", valueName: "path"))
    var store: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    var workspace: Workspace {
        Workspace.locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }

    var storePath: String {
        if let store { return URL(fileURLWithPath: store).standardizedFileURL.path }
        if let env = ProcessInfo.processInfo.environment["MUSTER_STORE"], !env.isEmpty { return env }
        return workspace.defaultStorePath
    }

    /// Opens the store; `create` false refuses to make a new empty one (reading commands).
    func openStore(create: Bool) throws -> SQLiteStore {
        let path = storePath
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
