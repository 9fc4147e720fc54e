import Foundation
import Testing
@testable import MusterCore

/// `sandbox:` and `writable:` in the spec and in agent profiles: loaded, inherited, refused with line:col.
@Suite("Sandbox spec")
struct SandboxSpecTests {
    @Test("sandbox: at workflow level applies to every task; a task's own overrides it; writable adds up")
    func workflowAndTaskLevels() throws {
        let plan = try SpecFixture.plan("""
            name: s
            sandbox: owned
            writable: [/var/cache/tool]
            tasks:
              a:
                command: [true]
              b:
                sandbox: none
                writable: ["~/.cache/pip", build/out]
                command: [true]
            """)
        let a = try #require(plan.tasks.first { $0.id == "a" })
        let b = try #require(plan.tasks.first { $0.id == "b" })
        #expect(a.sandbox == .owned && a.writable == ["/var/cache/tool"])
        #expect(b.sandbox == SandboxMode.none && b.writable == ["/var/cache/tool", "~/.cache/pip", "build/out"])
        let plain = try SpecFixture.plan("name: s\ntasks:\n  a:\n    command: [true]\n")
        #expect(plain.tasks[0].sandbox == nil, "nil means the default: worktree where bubblewrap works")
    }

    @Test("a bad sandbox value is refused at its line and column, with the nearest value")
    func badMode() throws {
        let error = try #require(SpecFixture.error("name: s\ntasks:\n  a:\n    sandbox: owend\n    command: [true]\n"))
        #expect(error.description.hasPrefix("wf.yml:4:14: error: `sandbox` must be `worktree`, `owned` or `none`, got `owend`"), "\(error)")
        #expect(error.fix == "did you mean `owned`?")
        let top = try #require(SpecFixture.error("name: s\nsandbox: [worktree]\ntasks:\n  a:\n    command: [true]\n"))
        #expect(top.location.line == 2, "\(top)")
    }

    @Test(arguments: [
        ("../outside", "contains `..`"), ("/", "is the whole filesystem"), (".", "is the whole repository"),
        (".git/hooks", "is inside `.git`"), ("~root/x", "another user's home"), ("a/../../b", "contains `..`"),
        ("", "is empty"), ("~", "whole home folder"), ("bad\u{07}name", "control character"),
    ])
    func hostileWritablePathsAreRefused(path: String, reason: String) throws {
        let yaml = "name: s\ntasks:\n  a:\n    command: [true]\n    writable:\n      - \"\(path.replacingOccurrences(of: "\u{07}", with: "\\a"))\"\n"
        let error = try #require(SpecFixture.error(yaml), "\(path) was accepted")
        #expect(error.location.line == 6 && error.location.column == 9, "\(error)")
        #expect(error.message.contains(reason), "\(error)")
    }

    @Test("an agent profile names writable folders; a hostile one is refused at its key")
    func profileWritable() throws {
        let loaded = try SpecFixture.load("""
            name: s
            agents:
              mine: {command: [my-agent], output: text, writable: ["~/.my-agent", /opt/my-agent/state]}
            tasks:
              a: {agent: mine, prompt: hi}
            """)
        #expect(loaded.workflow.agents?["mine"]?.writable == ["~/.my-agent", "/opt/my-agent/state"])
        let error = try #require(SpecFixture.error("""
            name: s
            agents:
              mine: {command: [my-agent], output: text, writable: [../up]}
            tasks:
              a: {agent: mine, prompt: hi}
            """))
        #expect(error.location.line == 3 && error.message.contains("contains `..`"), "\(error)")
    }

    @Test("built-in agents name their state folders: claude and codex per run through their variable")
    func stateFolders() {
        #expect(BuiltinAgents.stateFolders(for: "claude") == [AgentStateFolder(variable: "CLAUDE_CONFIG_DIR", path: "claude")])
        #expect(BuiltinAgents.stateFolders(for: "codex").first?.variable == "CODEX_HOME")
        #expect(BuiltinAgents.stateFolders(for: "shell").isEmpty)
    }
}
