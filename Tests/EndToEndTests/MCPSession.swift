import Foundation
import MCP
import MusterTestKit
import SystemPackage

/// The MCP SDK's own client over stdio against a `muster mcp` process started with a task's environment.
final class MCPSession: Sendable {
    let client: Client
    let process: Process

    init(_ h: TestRepository, run: String?, task: String?, attempt: Int = 1) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestRepository.muster)
        process.arguments = ["mcp"]
        process.currentDirectoryURL = h.root
        var environment = ProcessInfo.processInfo.environment
        environment["MUSTER_RUN"] = run ?? ""
        environment["MUSTER_TASK_ID"] = task ?? ""
        environment["MUSTER_ATTEMPT"] = String(attempt)
        environment["MUSTER_STORE"] = h.path(".muster/muster.db")
        environment["MUSTER_ROOT"] = h.root.path
        process.environment = environment
        let toServer = Pipe(), fromServer = Pipe()
        process.standardInput = toServer
        process.standardOutput = fromServer
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        client = Client(name: "muster-tests", version: "1")
        let transport = StdioTransport(input: FileDescriptor(rawValue: fromServer.fileHandleForReading.fileDescriptor),
                                       output: FileDescriptor(rawValue: toServer.fileHandleForWriting.fileDescriptor))
        _ = try await client.connect(transport: transport)
    }

    deinit { if process.isRunning { process.terminate() } }

    struct Answer {
        var text: String
        var isError: Bool
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    func call(_ tool: String, _ arguments: [String: Value] = [:]) async throws -> Answer {
        let (content, isError) = try await client.callTool(name: tool, arguments: arguments)
        let text = content.compactMap { item -> String? in if case .text(let text, _, _) = item { return text } else { return nil } }
            .joined(separator: "\n")
        return Answer(text: text, isError: isError ?? false)
    }

    func close() async {
        await client.disconnect()
        if process.isRunning { process.terminate() }
    }
}
