import Foundation
import MCP
import MusterCore
import MusterRuntime

/// `muster mcp`: muster's tools over MCP on stdin/stdout. Each tool calls the library function its
/// CLI command calls; this file only wires them to the protocol.
public enum MusterMCPServer {
    public static let name = "muster"

    static let tools: [MusterTool] = [
        FanoutTools.spawn, FanoutTools.wait,
        ViewTools.status, ViewTools.cost, ViewTools.logs, ViewTools.cancel,
        CoordinationTools.lock, CoordinationTools.unlock, CoordinationTools.locks,
        CoordinationTools.send, CoordinationTools.claim, CoordinationTools.ack,
        WorkflowTools.plan, WorkflowTools.run,
    ]

    /// The names agents see (Claude Code prefixes them: `mcp__muster__spawn`).
    public static var toolNames: [String] { tools.map(\.name) }

    public static func makeServer(context: MCPContext, version: String) async -> Server {
        let server = Server(
            name: name, version: version,
            instructions: """
                muster's orchestration tools. Inside a muster task: spawn children (each in its own worktree, owning a \
                subset of your files), wait for them, read their results; locks and exactly-once messages. \
                Anywhere: plan and run workflows, status, cost, logs.
                """,
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        let byName = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools.map(\.tool)) }
        await server.withMethodHandler(CallTool.self) { call in
            guard let tool = byName[call.name] else {
                let hint = Suggest.nearest(call.name, among: toolNames).map { " (did you mean \($0)?)" } ?? ""
                return MusterTool.failure("unknown tool \(call.name)\(hint); muster's tools: \(toolNames.joined(separator: ", "))")
            }
            return await tool.call(call.arguments, context: context)
        }
        await server.withMethodHandler(ListResources.self) { _ in
            ListResources.Result(resources: (try? await RunResources.list(context: context)) ?? [])
        }
        await server.withMethodHandler(ReadResource.self) { request in
            ReadResource.Result(contents: try await RunResources.read(request.uri, context: context))
        }
        return server
    }

    /// Serves on stdin/stdout until the client closes stdin, then waits for the runs `run` started.
    public static func serve(context: MCPContext, version: String) async throws {
        let server = await makeServer(context: context, version: version)
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
        await context.runs.waitForAll()
    }
}
