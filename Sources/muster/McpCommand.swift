import ArgumentParser
import Foundation
import MusterMCP
import MusterRehearsal
import MusterRuntime
import MusterStore

/// `muster mcp`: muster's orchestration tools as an MCP server on stdin/stdout.
struct McpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Serve muster's tools over MCP on stdin/stdout (for coding agents).",
        discussion: """
            Tools: spawn, wait, status, cost, logs, cancel, lock, unlock, locks, send, claim, ack, plan, run; \
            resources: a run's event log and each task's result and log (muster://runs/RUN/…). Inside a muster \
            task (MUSTER_RUN, MUSTER_TASK_ID set) it speaks for that task: spawn adds its children, wait waits \
            for them. Every claude task gets it automatically (`mcp: false` turns that off). For your own session:
              claude mcp add muster -- muster mcp
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let environment = ProcessInfo.processInfo.environment
            let storePath = global.storePath
            // Inside a task MUSTER_ROOT names the repository (the current folder is the task's worktree).
            let workspace = environment["MUSTER_ROOT"].flatMap { $0.isEmpty ? nil : Workspace.locate(from: URL(fileURLWithPath: $0)) }
                ?? global.workspace
            let context = MCPContext(storePath: storePath, workspace: workspace, environment: TaskEnvironment(environment),
                                     attempt: environment["MUSTER_ATTEMPT"].flatMap(Int.init), runViews: Self.runViews(storePath: storePath))
            try await MusterMCPServer.serve(context: context, version: Muster.configuration.version)
        }
    }
}

extension McpCommand {
    /// What `muster run` starts around a run, for the runs the `run` tool starts in this process: the
    /// model stub when rehearsed (recorded with the run, so `muster resume` rehearses it too), and the
    /// live views that write `.muster/runs/RUN/DONE`.
    static func runViews(storePath: String) -> RunAttacher {
        { run, store, rehearse in
            var rehearsal: Rehearsal?
            if rehearse {
                try await RehearsalOption.record(run: run, script: nil, store: store)
                rehearsal = try await Rehearsal.start()
            }
            let views: LiveViews
            do {
                views = try await LiveViews.start(run: run, storePath: storePath, store: store, settings: LiveSettings())
            } catch {
                await rehearsal?.stop()
                throw error
            }
            return RunAttachment(agentEnvironment: rehearsal?.overlay) { [rehearsal] outcome in
                if let outcome { await views.finish(outcome) } else { views.abandon() }
                await rehearsal?.stop()
            }
        }
    }
}

