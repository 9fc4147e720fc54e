import Foundation
import MusterTestKit
import Testing

/// A real Claude Code task stopped while the model's answer is still streaming: Ctrl-C (cancel)
/// and a task timeout. The stub (`muster stub-model`, its own process) streams slowly.
@Suite(.serialized) struct RealAgentStopTests {
    static let slowText = """
        steps:
          - text: "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
        chunk_delay_ms: 4000
        """

    static func spec(timeout: String) -> String {
        """
        name: slow
        agent: claude
        tasks:
          slow: {prompt: "take your time", owns: [slow.txt], timeout: \(timeout)}
        """
    }

    /// `muster run --json` of the slow spec in the background, its claude pointed at a slow stub of its own.
    static func startSlowRun(_ h: TestRepository, timeout: String) async throws -> (stub: StubProcess, run: BackgroundProcess) {
        try h.write("muster.yml", spec(timeout: timeout))
        try await h.commitAll()
        let stub = try await StubProcess.start(h, script: slowText)
        let env = RealAgents.env(h, ["ANTHROPIC_BASE_URL": stub.url, "ANTHROPIC_API_KEY": "stub",
                                     "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"])
        let run = try Command.start(TestRepository.muster, ["run", "--json", "--grace", "2", "muster.yml"], in: h.root, environment: env,
                                    stdout: h.root.path + "-run.out")
        return (stub, run)
    }

    /// The tasks the finished run printed.
    static func tasks(_ h: TestRepository, status: Int32) async throws -> [String: [String: Any]] {
        let stdout = (try? String(contentsOfFile: h.root.path + "-run.out", encoding: .utf8)) ?? ""
        return try await RealAgents.runJSON(CommandResult(status: status, stdout: stdout, stderr: "")).tasks
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func ctrlCMidStreamCancelsTheTask() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let (stub, run) = try await Self.startSlowRun(h, timeout: "5m")
        let streaming = try await eventually(timeout: 120) { stub.modelRequests > 0 }
        #expect(streaming, "claude never asked the stub")
        run.signal(SIGINT)
        let status = await run.exited()
        await stub.stop()
        #expect(status.code == 130)
        let tasks = try await Self.tasks(h, status: status.code)
        #expect(tasks["slow"]?["state"] as? String == "cancelled")
        #expect(stub.modelRequests == 1, "a cancelled task must not be retried")
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func aTimeoutMidStreamStopsTheTask() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let (stub, run) = try await Self.startSlowRun(h, timeout: "15s")
        let status = await run.exited()
        let requests = stub.modelRequests
        await stub.stop()
        #expect(status.code == 1)
        #expect(requests >= 1, "the timeout came before claude asked the model: not mid-stream")
        let tasks = try await Self.tasks(h, status: status.code)
        let error = tasks["slow"]?["error"] as? String ?? ""
        #expect(tasks["slow"]?["state"] as? String == "failed")
        #expect(error.contains("timed out"), "\(error)")
    }
}
