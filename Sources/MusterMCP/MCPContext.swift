import Foundation
import MusterRuntime
import MusterStore

/// Where `muster mcp` runs: the store it opens and the task it speaks for (MUSTER_RUN, MUSTER_TASK_ID and
/// MUSTER_ATTEMPT, set when muster starts it inside an agent task; unset in a person's own session).
public struct MCPContext: Sendable {
    public var storePath: String
    /// The repository whose `.muster/` holds the store (task folders, logs, lock markers).
    public var workspace: Workspace
    public var environment: TaskEnvironment
    public var attempt: Int?
    /// What goes around a run the `run` tool starts (the model stub, notifications, DONE); nil:
    /// nothing, and `rehearse` is refused.
    public var runViews: RunAttacher?
    /// The runs the `run` tool started in this process.
    public var runs: BackgroundRuns

    public init(storePath: String, workspace: Workspace, environment: TaskEnvironment, attempt: Int?,
                runViews: RunAttacher? = nil, runs: BackgroundRuns = BackgroundRuns()) {
        self.storePath = storePath
        self.workspace = workspace
        self.environment = environment
        self.attempt = attempt
        self.runViews = runViews
        self.runs = runs
    }

    /// The store; refuses to create an empty one (nothing has run here yet).
    func openStore(creating: Bool = false) throws -> SQLiteStore {
        if creating {
            if storePath == workspace.defaultStorePath { try workspace.prepare() }
            return try SQLiteStore(path: storePath)
        }
        guard FileManager.default.fileExists(atPath: storePath) else {
            throw RefusedRequest("no muster store at \(storePath): run a workflow first (`muster run FILE`)")
        }
        return try SQLiteStore(path: storePath)
    }

    /// The run a tool is about: the one named, else the caller's, else the newest.
    func resolveRun(_ named: String?, in store: any Store) async throws -> RunRecord {
        if let id = named ?? environment.run { return try await store.requireRun(id) }
        guard let newest = try await store.runs(limit: 1).first else {
            throw RefusedRequest("no runs yet: start one with `muster run FILE`")
        }
        return newest
    }

    /// The task a fan-out tool speaks for; outside a run `spawn` and `wait` have no parent to act for.
    func requireTask(_ tool: String) throws(RefusedRequest) -> (run: String, task: String) {
        guard let run = environment.run, let task = environment.task else {
            throw RefusedRequest("""
                \(tool) works only inside a muster task (MUSTER_RUN and MUSTER_TASK_ID unset): this server runs \
                outside a run. Start a workflow with the `run` tool, or use status, plan and run
                """)
        }
        return (run, task)
    }

    func taskFile(run: String, task: String, _ name: String) -> String {
        workspace.taskDirectory(run: run, task: task).appendingPathComponent(name).path
    }
}
