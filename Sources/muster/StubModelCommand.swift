import ArgumentParser
import Foundation
import MusterRehearsal

struct StubModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stub-model",
        abstract: "Serve a scripted stand-in for the model APIs on 127.0.0.1 (Anthropic Messages, OpenAI chat completions).",
        discussion: """
            Point an agent at it: ANTHROPIC_BASE_URL=URL for Claude Code, OPENAI_API_BASE=URL/v1 for aider. \
            Without --script every conversation writes one small file through the agent's own tool and ends. \
            A script (JSON or YAML) has `steps` (each `write: {path, content}`, `tool: {name, input}` or `text`), \
            `usage: {input, output, cache_read, cache_write}` per answer, `fail: {status: 429|529, count: N, retry_after: S}`, \
            `delay_ms`, `chunk_delay_ms`, `model`, and `tasks: {ID: {...}}` per task. GET URL/_stub/ledger shows what it sent.
            """)

    @Option(help: "The port on 127.0.0.1 (0: any free port, printed).") var port: Int = 0
    @Option(help: "A stub script (JSON or YAML).") var script: String?
    @Flag(help: "Print the address as JSON.") var json = false

    func run() async throws {
        try await guarded {
            let script: StubScript
            do {
                script = try self.script.map(StubScript.load(path:)) ?? StubScript()
            } catch let error as ModelStubError {
                throw CLIError.usage(error.description)
            }
            let stub: ModelStub
            do {
                stub = try await ModelStub.start(port: port, script: script)
            } catch let error as ModelStubError {
                throw CLIError.usage(error.description)
            }
            if json {
                Terminal.json(CommandJSON.Stub(url: stub.baseURL, port: Int(stub.port), anthropicBaseURL: stub.baseURL,
                                               openaiAPIBase: stub.baseURL + "/v1"))
            } else {
                print(stub.baseURL)
                Terminal.error(Terminal.dim("muster stub-model: ANTHROPIC_BASE_URL=\(stub.baseURL) · OPENAI_API_BASE=\(stub.baseURL)/v1 · Ctrl-C stops it"))
            }
            fflush(nil)  // the address must reach a pipe now, not when the server stops
            await stub.waitUntilClosed()
        }
    }
}
