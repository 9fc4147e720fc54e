import Foundation
import MusterCore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// `muster mcp` wired into agent tasks: each CLI's own MCP configuration, bound to the task (its run,
/// id and attempt), written into the task's folder; `mcp: false` on the task or profile turns it off.
/// codex, gemini and opencode cannot run here: their generated configuration is what is checked.
@Suite struct MCPWiringTests {
    static func context(_ folder: TemporaryFolder) -> AgentTaskContext {
        AgentTaskContext(run: "r-1", task: "lead", attempt: 2, folder: folder.appending("tasks/lead").path,
                         storePath: "/repo/.muster/muster.db", root: "/repo", musterExecutable: "/opt/bin/muster")
    }

    static func task(_ agent: String, mcp: Bool = true) -> PlannedTask {
        var task = PlannedTask(id: "lead", group: "lead", agent: agent, prompt: "go")
        task.mcp = mcp
        return task
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static let expectedEnvironment = ["MUSTER_RUN": "r-1", "MUSTER_TASK_ID": "lead", "MUSTER_ATTEMPT": "2",
                                      "MUSTER_STORE": "/repo/.muster/muster.db", "MUSTER_ROOT": "/repo"]

    @Test func claudeGetsItsMCPConfigAndEveryToolAllowed() throws {
        let folder = try TemporaryFolder("mcp-wiring")
        let inv = try ClaudeAgent().invocation(for: Self.task("claude"), prompt: "go", context: AgentContext(task: Self.context(folder)))
        let index = try #require(inv.arguments.firstIndex(of: "--mcp-config"))
        let path = inv.arguments[index + 1]
        #expect(path == folder.appending("tasks/lead/mcp.json").path)
        let server = try #require((try Self.json(path)["mcpServers"] as? [String: Any])?["muster"] as? [String: Any])
        #expect(server["type"] as? String == "stdio")
        #expect(server["command"] as? String == "/opt/bin/muster")
        #expect(server["args"] as? [String] == ["mcp"])
        #expect(server["env"] as? [String: String] == Self.expectedEnvironment)
        let allowed = try #require(inv.arguments.firstIndex(of: "--allowedTools").map { inv.arguments[$0 + 1] })
        #expect(allowed.split(separator: ",").map(String.init) == ["Bash(muster:*)"] + MCPWiring.toolNames.map { "mcp__muster__\($0)" })
        #expect(inv.environment["MCP_TOOL_TIMEOUT"] != nil, "wait lasts as long as the children: claude's per-call timeout is raised")
    }

    @Test func mcpFalseOnTheTaskOrTheProfileTurnsItOff() throws {
        let folder = try TemporaryFolder("mcp-wiring")
        let context = AgentContext(task: Self.context(folder))
        let off = try ClaudeAgent().invocation(for: Self.task("claude", mcp: false), prompt: "go", context: context)
        #expect(!off.arguments.contains("--mcp-config"))
        #expect(!off.arguments.joined(separator: " ").contains("mcp__muster"))
        var profile = AgentProfile(name: "quiet", base: "claude")
        profile.mcp = false
        let quiet = try ClaudeAgent(profile: profile).invocation(for: Self.task("quiet"), prompt: "go", context: context)
        #expect(!quiet.arguments.contains("--mcp-config"))
        let codex = try CodexAgent().invocation(for: Self.task("codex", mcp: false), prompt: "go", context: context)
        #expect(!codex.arguments.contains { $0.hasPrefix("mcp_servers.") })
        #expect(!FileManager.default.fileExists(atPath: folder.appending("tasks/lead/mcp.json").path), "nothing written when off")
        // Outside a run (no task context) nothing is added either.
        let bare = try ClaudeAgent().invocation(for: Self.task("claude"), prompt: "go", context: AgentContext())
        #expect(!bare.arguments.contains("--mcp-config"))
    }

    @Test func codexTakesTOMLOverridesOnItsCommandLine() throws {
        let folder = try TemporaryFolder("mcp-wiring")
        var context = Self.context(folder)
        context.musterExecutable = "/opt/my \"odd\" bin/muster"
        let inv = try CodexAgent().invocation(for: Self.task("codex"), prompt: "go", context: AgentContext(task: context))
        let overrides = inv.arguments.enumerated().filter { $0.offset > 0 && inv.arguments[$0.offset - 1] == "-c" }.map(\.element)
        #expect(overrides == [
            #"mcp_servers.muster.command="/opt/my \"odd\" bin/muster""#,
            #"mcp_servers.muster.args=["mcp"]"#,
            #"mcp_servers.muster.env={MUSTER_ATTEMPT="2",MUSTER_ROOT="/repo",MUSTER_RUN="r-1",MUSTER_STORE="/repo/.muster/muster.db",MUSTER_TASK_ID="lead"}"#,
        ])
        #expect(inv.arguments.last == "-", "the prompt still comes from stdin, after the overrides")
    }

    @Test func geminiReadsASettingsFileNamedByItsEnvironment() throws {
        let folder = try TemporaryFolder("mcp-wiring")
        let inv = try GeminiAgent().invocation(for: Self.task("gemini"), prompt: "go", context: AgentContext(task: Self.context(folder)))
        let path = try #require(inv.environment["GEMINI_CLI_SYSTEM_SETTINGS_PATH"])
        #expect(path == folder.appending("tasks/lead/gemini-settings.json").path)
        let server = try #require((try Self.json(path)["mcpServers"] as? [String: Any])?["muster"] as? [String: Any])
        #expect(server["command"] as? String == "/opt/bin/muster")
        #expect(server["args"] as? [String] == ["mcp"])
        #expect(server["trust"] as? Bool == true, "headless: its tools run without a confirmation")
        #expect(server["env"] as? [String: String] == Self.expectedEnvironment)
    }

    @Test func openCodeReadsAConfigNamedByItsEnvironment() throws {
        let folder = try TemporaryFolder("mcp-wiring")
        let inv = try OpenCodeAgent().invocation(for: Self.task("opencode"), prompt: "go", context: AgentContext(task: Self.context(folder)))
        let path = try #require(inv.environment["OPENCODE_CONFIG"])
        let config = try Self.json(path)
        #expect(config["$schema"] as? String == "https://opencode.ai/config.json")
        let server = try #require((config["mcp"] as? [String: Any])?["muster"] as? [String: Any])
        #expect(server["type"] as? String == "local")
        #expect(server["command"] as? [String] == ["/opt/bin/muster", "mcp"])
        #expect(server["environment"] as? [String: String] == Self.expectedEnvironment)
        #expect(server["enabled"] as? Bool == true)
    }

    @Test func theLoaderReadsMcpOnTasksAndProfilesAndPointsAtMistakes() throws {
        let loaded = try WorkflowLoader.parse("""
            name: x
            agent: claude
            agents:
              quiet: {base: claude, mcp: false}
            tasks:
              a: {prompt: go, mcp: false}
              b: {prompt: go, agent: quiet}
              c: {prompt: go}
            """, file: "wf.yml")
        #expect(loaded.workflow.agents?["quiet"]?.mcp == false)
        let plan = try Planner.plan(loaded, root: URL(fileURLWithPath: NSTemporaryDirectory()))
        #expect(plan.tasks.map(\.mcp) == [false, true, true], "b is off through its profile, checked at launch")
        for (yaml, line, column, message) in [
            ("name: x\nagent: claude\ntasks:\n  a: {prompt: go, mcp: nope}\n", 4, 24, "`mcp` must be true or false"),
            ("name: x\nagents:\n  q: {base: claude, mcp: maybe}\ntasks:\n  a: {prompt: go, agent: q}\n", 3, 26, "`mcp` of agent `q` must be true or false"),
        ] {
            do {
                _ = try WorkflowLoader.parse(yaml, file: "wf.yml")
                Issue.record("\(yaml) loaded")
            } catch {
                #expect(error.location.line == line && error.location.column == column, "\(error.description)")
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }
}
