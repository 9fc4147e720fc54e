import Foundation
import Testing
@testable import MusterCore

/// `agents:` profiles in a spec (and handed in from muster.toml): what loads, what each task then
/// runs and bills, and every mistake at its line and column with the nearest known name.
struct AgentProfileTests {
    @Test func builtInAgentsAndTheirDefaults() {
        #expect(BuiltinAgents.names == ["shell", "sim", "claude", "codex", "gemini", "aider", "opencode"])
        #expect(BuiltinAgents.defaultModel(for: "claude") == "claude-opus-4-8")
        #expect(BuiltinAgents.defaultModel(for: "codex") == "gpt-5-codex")
        #expect(BuiltinAgents.defaultModel(for: "gemini") == "gemini-2.5-pro")
        #expect(BuiltinAgents.defaultModel(for: "aider") == nil && BuiltinAgents.defaultModel(for: "nope") == nil)
        #expect(BuiltinAgents.output(for: "codex") == .codexJSON)
        #expect(BuiltinAgents.installHint(for: "claude") == "npm install -g @anthropic-ai/claude-code")
        #expect(PriceTable.defaults.models[BuiltinAgents.defaultModel(for: "codex")!] != nil)
        #expect(PriceTable.defaults.models[BuiltinAgents.defaultModel(for: "gemini")!] != nil)
    }

    @Test func profilesLoadAndTasksBillTheirModel() throws {
        let loaded = try SpecFixture.load("""
            name: demo
            agents:
              fake: {base: sim, output: codex-json, model: gpt-5-codex}
              mine: {command: [my-agent, --json], output: gemini-json, prompt: stdin}
              careful: {base: claude, permissions: plan, allowed_tools: [Read, Grep]}
            tasks:
              a: {agent: fake}
              b: {agent: mine, prompt: go}
              c: {agent: careful, prompt: go}
              d: {agent: careful, prompt: go, model: claude-sonnet-4-6}
            """)
        let agents = try #require(loaded.workflow.agents)
        #expect(agents["fake"] == AgentProfile(name: "fake", base: "sim", output: .codexJSON, model: "gpt-5-codex", source: "wf.yml"))
        #expect(agents["mine"]?.command == ["my-agent", "--json"] && agents["mine"]?.prompt == .stdin && agents["mine"]?.format == .geminiJSON)
        #expect(agents["careful"]?.permissions == "plan" && agents["careful"]?.allowedTools == ["Read", "Grep"])
        #expect(agents["careful"]?.installHint == "npm install -g @anthropic-ai/claude-code")
        let plan = try Planner.plan(loaded, root: SpecFixture.scratchRoot)
        let models = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, $0.model) })
        #expect(models["a"] == "gpt-5-codex", "a `sim` profile needs no prompt and bills its model")
        #expect(models["b"] == Optional<String>.none)
        #expect(models["c"] == "claude-opus-4-8", "a claude profile bills claude's default")
        #expect(models["d"] == "claude-sonnet-4-6", "the task's own model wins")
    }

    @Test func profilesFromMusterTomlAreKnownAndTheSpecOverridesThem() throws {
        let fromToml = ["mine": AgentProfile(name: "mine", command: ["a"], output: .text, source: "muster.toml"),
                        "other": AgentProfile(name: "other", command: ["b"], output: .codexJSON, source: "muster.toml")]
        let loaded = try WorkflowLoader.parse("""
            name: demo
            agents:
              mine: {command: [c], output: codex-json}
            tasks:
              a: {agent: other, prompt: go}
              b: {agent: mine, prompt: go}
            """, file: "wf.yml", profiles: fromToml)
        #expect(loaded.workflow.agents?["other"]?.command == ["b"])
        #expect(loaded.workflow.agents?["mine"]?.command == ["c"])
        #expect(SpecFixture.error("name: x\ntasks:\n  a: {agent: other, prompt: go}\n") != nil, "without muster.toml `other` is unknown")
    }

    @Test func aBuiltInNameRefinesThatAgent() throws {
        let loaded = try SpecFixture.load("name: x\nagents:\n  codex: {permissions: read-only}\ntasks:\n  a: {agent: codex, prompt: go}\n")
        #expect(loaded.workflow.agents?["codex"]?.base == "codex")
        #expect(loaded.workflow.agents?["codex"]?.permissions == "read-only")
    }

    static let mistakes: [(String, String, Int, Int, String, String?)] = [
        ("unknown parser", "  mine: {command: [x], output: claude-stream-jsn}", 3, 32, "unknown output format `claude-stream-jsn`", "did you mean `claude-stream-json`?"),
        ("unknown key", "  mine: {comand: [x], output: text}", 3, 10, "unknown key `comand` in agent `mine`", "did you mean `command`?"),
        ("unknown base", "  mine: {base: clude}", 3, 16, "unknown base agent `clude`", "did you mean `claude`?"),
        ("neither", "  mine: {output: text}", 3, 3, "has neither `command` nor `base`", nil),
        ("output on a base", "  mine: {base: codex, output: text}", 3, 31, "whose output is always codex-json", nil),
        ("bad permission", "  mine: {base: codex, permissions: workspace-rite}", 3, 36, "not a value of codex's --sandbox", "did you mean `workspace-write`?"),
        ("allowed tools off claude", "  mine: {base: gemini, allowed_tools: [Read]}", 3, 39, "`allowed_tools` applies to claude profiles only", nil),
        ("prompt delivery", "  mine: {command: [x], prompt: pipe}", 3, 32, "must be `argument` or `stdin`", nil),
        ("shell", "  shell: {command: [x]}", 3, 3, "`shell` cannot be redefined", nil),
        ("not a mapping", "  mine: [x]", 3, 9, "agent `mine` must be a mapping", nil),
    ]

    @Test(arguments: mistakes.map(\.0))
    func profileMistakesNameLineColumnAndTheNearestName(_ name: String) throws {
        let (_, line, row, column, message, fix) = Self.mistakes.first { $0.0 == name }!
        let error = try #require(SpecFixture.error("name: x\nagents:\n\(line)\ntasks:\n  a: {agent: sim}\n"), "\(name) should be refused")
        #expect(error.location == MusterCore.SourceLocation(line: row, column: column), "\(error)")
        #expect(error.message.contains(message), "\(error)")
        if let fix { #expect(error.fix == fix, "\(error)") }
    }

    @Test func anUnknownAgentSuggestsAProfileName() throws {
        let error = try #require(SpecFixture.error("name: x\nagents:\n  reviewer: {base: sim}\ntasks:\n  a: {agent: reviwer}\n"))
        #expect(error.location == MusterCore.SourceLocation(line: 5, column: 14))
        #expect(error.fix == "did you mean `reviewer`?")
    }

    @Test func aProfileOnAnotherCLINeedsAPrompt() throws {
        let error = try #require(SpecFixture.error("name: x\nagents:\n  mine: {command: [x]}\ntasks:\n  a: {agent: mine}\n"))
        #expect(error.message.contains("has no `prompt` for agent `mine`"))
    }
}

/// `allow_denials` on a task and `scratch_files` on a profile (issue 12).
@Suite struct AgentBehaviourSpecTests {
    @Test func allowDenialsIsABooleanWithItsPosition() throws {
        let ok = try SpecFixture.load("""
            name: x
            agent: claude
            tasks:
              a: {prompt: "p", allow_denials: true}
              b: {prompt: "p"}
            """)
        #expect(ok.workflow.task("a")?.allowDenials == true && ok.workflow.task("b")?.allowDenials == nil)
        let bad = try #require(SpecFixture.error("""
            name: x
            agent: claude
            tasks:
              a:
                prompt: "p"
                allow_denials: maybe
            """))
        #expect(bad.location.line == 6 && bad.location.column == 20, "\(bad)")
        #expect(bad.message.contains("allow_denials"))
    }

    @Test func scratchFilesStayInsideTheWorktree() throws {
        let ok = try SpecFixture.load("""
            name: x
            agent: mine
            agents:
              mine: {base: aider, scratch_files: [".cache/**"]}
            tasks:
              a: {prompt: "p"}
            """)
        #expect(ok.workflow.agents?["mine"]?.allScratchFiles == [".aider*", ".cache/**"])
        for glob in ["/etc/x", "../up", ":(top)x"] {
            let bad = try #require(SpecFixture.error("""
                name: x
                agent: mine
                agents:
                  mine: {base: aider, scratch_files: ["\(glob)"]}
                tasks:
                  a: {prompt: "p"}
                """), "\(glob) accepted")
            #expect(bad.message.contains("scratch_files") && bad.location.line == 4, "\(bad)")
        }
    }

    @Test func onlyANamedModelIsPassedToTheAgent() throws {
        let plan = try SpecFixture.plan("""
            name: x
            agent: claude
            agents:
              pinned: {base: claude, model: claude-sonnet-4-6}
            tasks:
              unnamed: {prompt: "p"}
              named: {prompt: "p", model: claude-haiku-4-5}
              profiled: {prompt: "p", agent: pinned}
            """)
        let tasks = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, $0) })
        #expect(tasks["unnamed"]?.model == "claude-opus-4-8" && tasks["unnamed"]?.modelIsDefault == true, "the default prices estimates only")
        #expect(tasks["named"]?.model == "claude-haiku-4-5" && tasks["named"]?.modelIsDefault == false)
        #expect(tasks["profiled"]?.model == "claude-sonnet-4-6" && tasks["profiled"]?.modelIsDefault == false)
    }
}
