import ArgumentParser
import Foundation
import MusterMCP
import MusterRuntime

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
                                     attempt: environment["MUSTER_ATTEMPT"].flatMap(Int.init))
            try await MusterMCPServer.serve(context: context, version: Muster.configuration.version)
        }
    }
}
