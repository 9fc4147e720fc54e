import Foundation
import MusterRuntime
import MusterStore

/// What the front door that started the server adds around a run the `run` tool starts: the parts of
/// `muster run` that live above MusterRuntime (the model stub of `--rehearse`; notifications and the
/// DONE sentinel). The `muster` executable hands in the code `muster run` itself uses.
public struct RunAttachment: Sendable {
    /// Laid over every agent's environment (`RunOptions.agentEnvironment`): a rehearsal's stub.
    public var agentEnvironment: (@Sendable (AgentLaunch) -> [String: String])?
    /// After the run: its outcome, or nil when the orchestrator stopped with an error.
    public var finish: @Sendable (RunOutcome?) async -> Void

    public init(agentEnvironment: (@Sendable (AgentLaunch) -> [String: String])? = nil,
                finish: @escaping @Sendable (RunOutcome?) async -> Void = { _ in }) {
        self.agentEnvironment = agentEnvironment
        self.finish = finish
    }
}

/// Starts what goes around one run: its id, the store it is recorded in, and whether it is rehearsed.
public typealias RunAttacher = @Sendable (_ run: String, _ store: any Store, _ rehearse: Bool) async throws -> RunAttachment

/// The runs the `run` tool started, each driven to its end inside this server's process by
/// `WorkflowRunner.execute`, as `muster run` drives its own. The server waits for them before it
/// exits, so a client closing stdin does not cut them short; a SIGTERM stops them cleanly, as
/// Ctrl-C stops `muster run`, and `muster resume RUN` goes on from there.
public actor BackgroundRuns {
    private var running: [String: Task<Void, Never>] = [:]

    public init() {}

    func start(_ id: String, _ body: @escaping @Sendable () async -> Void) {
        running[id] = Task {
            await body()
            self.finished(id)
        }
    }

    private func finished(_ id: String) { running[id] = nil }

    /// Returns once every run started here (including any started while waiting) has ended.
    public func waitForAll() async {
        while let task = running.values.first { await task.value }
    }
}

/// One run the `run` tool recorded: started in the background, its end written as `muster run
/// --json` prints it to `report` (`.muster/mcp/runs/RUN.json`).
struct BackgroundRun {
    let id: String
    let prepared: PreparedRun
    let rehearse: Bool
    let report: URL
    let context: MCPContext

    func start(store: any Store) async throws {
        let attachment = try await context.runViews?(id, store, rehearse) ?? RunAttachment()
        var options = WorkflowRunner.options(for: prepared)
        options.agentEnvironment = attachment.agentEnvironment
        let (id, report, context) = (self.id, self.report, self.context)
        await context.runs.start(id) { [options] in
            let written: Data
            do {
                let outcome = try await WorkflowRunner.execute(run: id, store: store, storePath: context.storePath,
                                                               workspace: context.workspace, options: options)
                await attachment.finish(outcome)
                written = try JSONEncoder.report.encode(RunReport(outcome, tasks: try await store.tasks(run: id)))
            } catch {
                await attachment.finish(nil)
                written = (try? JSONEncoder.report.encode(["run": id, "error": "\(error)"])) ?? Data()
            }
            try? FileManager.default.createDirectory(at: report.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? written.write(to: report, options: .atomic)
        }
    }
}

extension JSONEncoder {
    static var report: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
