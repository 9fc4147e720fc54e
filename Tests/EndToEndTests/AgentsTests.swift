import Foundation
import MusterTestKit
import Testing

/// Agents, profiles and cost through the `muster` binary: `sim` speaking every agent's format
/// (adapter → parser → price table), custom profiles from the spec and from muster.toml, price
/// overrides, `muster agents` and `muster cost`, and a missing agent CLI refused before anything
/// is recorded.
@Suite struct AgentsTests {
    static func run(_ h: TestRepository, _ arguments: String..., environment: [String: String] = [:]) async throws -> CommandResult {
        try await Command.run(TestRepository.muster, arguments, in: h.root, environment: environment)
    }

    static func costJSON(_ h: TestRepository, _ run: String) async throws -> [String: Any] {
        let result = try await h.muster("cost", run, "--json")
        #expect(result.status == 0, "stderr: \(result.stderr)")
        return try #require(try result.json() as? [String: Any])
    }

    static func task(_ cost: [String: Any], _ id: String) async throws -> [String: Any] {
        try #require((cost["tasks"] as? [[String: Any]])?.first { $0["id"] as? String == id }, "no task \(id)")
    }

    static func close(_ a: Any?, _ b: Double) -> Bool { (a as? Double).map { abs($0 - b) < 1e-9 } ?? false }

    @Test func simSpeaksEveryFormatThroughRunAndCost() async throws {
        let h = try await TestRepository()
        try h.write("muster.yml", """
            name: formats
            isolation: none
            agents:
              fake-codex: {base: sim, output: codex-json, model: gpt-5-codex}
              fake-gemini: {base: sim, output: gemini-json, model: gemini-2.5-pro}
              fake-aider: {base: sim, output: text, model: claude-sonnet-4-6}
              fake-opencode: {base: sim, output: opencode-json, model: claude-haiku-4-5}
            tasks:
              claude-fmt: {agent: sim, estimate: {input_tokens: 1000000, output_tokens: 100000}}
              codex-fmt: {agent: fake-codex, estimate: {input_tokens: 2000000, output_tokens: 100000}}
              gemini-fmt: {agent: fake-gemini, estimate: {input_tokens: 1000000, output_tokens: 200000}}
              text-fmt: {agent: fake-aider, estimate: {input_tokens: 12000, output_tokens: 1500}}
              opencode-fmt: {agent: fake-opencode, estimate: {input_tokens: 1000, output_tokens: 100}}
            """)
        let run = try await h.muster("run", "muster.yml", "--json")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let cost = try await Self.costJSON(h, id)
        // Default prices per million tokens: opus $5/$25, gpt-5-codex and gemini-2.5-pro $1.25/$10, sonnet $3/$15, haiku $1/$5.
        let expected: [(String, Int, Int, Double, String, String)] = [
            ("claude-fmt", 1_000_000, 100_000, 7.5, "sim", "claude-opus-4-8"),
            ("codex-fmt", 2_000_000, 100_000, 3.5, "fake-codex", "gpt-5-codex"),
            ("gemini-fmt", 1_000_000, 200_000, 3.25, "fake-gemini", "gemini-2.5-pro"),
            ("text-fmt", 12_000, 1_500, 0.0585, "fake-aider", "claude-sonnet-4-6"),
            ("opencode-fmt", 1_000, 100, 0.0015, "fake-opencode", "claude-haiku-4-5"),
        ]
        for (taskID, input, output, dollars, agent, model) in expected {
            let t = try await Self.task(cost, taskID)
            let tokens = try #require(t["tokens"] as? [String: Int], "\(taskID) has no tokens")
            #expect(tokens["input"] == input && tokens["output"] == output, "\(taskID): \(tokens)")
            #expect(Self.close(t["cost_usd"], dollars), "\(taskID): \(t["cost_usd"] ?? "nil") ≠ \(dollars)")
            #expect(t["cost"] as? String == "known" && t["agent"] as? String == agent && t["model"] as? String == model)
            let byModel = try #require((cost["by_model"] as? [[String: Any]])?.first { $0["model"] as? String == model })
            #expect(Self.close(byModel["cost_usd"], dollars))
            let byAgent = try #require((cost["by_agent"] as? [[String: Any]])?.first { $0["agent"] as? String == agent })
            #expect(byAgent["tasks"] as? Int == 1)
        }
        let total = try #require(cost["total"] as? [String: Any])
        #expect(Self.close(total["cost_usd"], 14.31))
        #expect(total["unknown_cost_tasks"] as? Int == 0)
        #expect((total["tokens"] as? [String: Int])?["input"] == 4_013_000)
        #expect((total["tokens"] as? [String: Int])?["output"] == 401_600)
        let text = try await h.muster("cost", id)
        #expect(text.status == 0 && text.stdout.contains("$14.31") && text.stdout.contains("By model"))
    }

    @Test func simulateMakesEveryAgentSpeakItsOwnFormatAndUnknownStaysUnknown() async throws {
        let h = try await TestRepository()
        try h.write("muster.yml", """
            name: preview
            tasks:
              plan: {agent: claude, prompt: plan it, estimate: {minutes: 1, input_tokens: 200000, output_tokens: 20000}}
              build: {agent: codex, prompt: build it, estimate: {minutes: 1, input_tokens: 400000, output_tokens: 40000}}
              check: {agent: gemini, prompt: check it, estimate: {minutes: 1, input_tokens: 800000, output_tokens: 10000}}
              tidy: {agent: aider, prompt: tidy it, estimate: {minutes: 1, input_tokens: 5000, output_tokens: 500}}
            """)
        // No agent CLI needs to be installed to preview a run.
        let run = try await Self.run(h, "run", "muster.yml", "--simulate", "--speed", "600", "--json", environment: ["PATH": "/usr/bin:/bin"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let cost = try await Self.costJSON(h, id)
        await #expect(Self.close(try Self.task(cost, "plan")["cost_usd"], 1.5))     // opus: 0.2M × $5 + 0.02M × $25
        await #expect(Self.close(try Self.task(cost, "build")["cost_usd"], 0.9))    // gpt-5-codex: 0.4M × $1.25 + 0.04M × $10
        await #expect(Self.close(try Self.task(cost, "check")["cost_usd"], 1.1))   // gemini-2.5-pro: 0.8M × $1.25 + 0.01M × $10
        // Aider bills whatever model it is set up with: muster has no price for it, so its cost is unknown, not $0.
        let tidy = try await Self.task(cost, "tidy")
        #expect(tidy["cost"] as? String == "unknown")
        #expect(tidy["cost_usd"] is NSNull)
        #expect((tidy["tokens"] as? [String: Int])?["input"] == 5000)
        let total = try #require(cost["total"] as? [String: Any])
        #expect(Self.close(total["cost_usd"], 3.5))
        #expect(total["unknown_cost_tasks"] as? Int == 1)
        let text = try await h.muster("cost", id)
        #expect(text.stdout.contains("unknown"))
        #expect(text.stdout.contains("+ 1 tasks of unknown cost"), "\(text.stdout)")
    }

    @Test func aMissingAgentCLIIsRefusedWithHowToInstallIt() async throws {
        let h = try await TestRepository()
        let empty = h.root.appendingPathComponent("empty-bin")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try h.write("muster.yml", """
            name: real
            isolation: none
            tasks:
              a: {agent: claude, prompt: do it}
              b: {agent: mine, prompt: do it too}
            agents:
              mine: {command: [no-such-agent-cli, --json], output: codex-json, install: pip install no-such-agent}
            """)
        let run = try await Self.run(h, "run", "muster.yml", environment: ["PATH": empty.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("agent `claude`") && run.stderr.contains("npm install -g @anthropic-ai/claude-code"), "\(run.stderr)")
        #expect(run.stderr.contains("agent `mine`") && run.stderr.contains("pip install no-such-agent"), "\(run.stderr)")
        #expect(run.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "one line: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/muster.db")), "nothing may be recorded")
        // The same spec previews fine.
        let preview = try await Self.run(h, "run", "muster.yml", "--simulate", environment: ["PATH": empty.path + ":/usr/bin:/bin"])
        #expect(preview.status == 0, "stderr: \(preview.stderr)")
    }

    @Test func agentsListsBuiltInsAndProfilesWithInstallState() async throws {
        let h = try await TestRepository()
        try h.write("muster.toml", """
            [agents.mine]
            command = ["cat"]
            output = "codex-json"
            prompt = "stdin"

            [agents.careful]
            base = "claude"
            permissions = "plan"
            """)
        try h.write("spec.yml", """
            name: s
            agents:
              fake: {base: sim, output: gemini-json}
            tasks:
              a: {agent: fake}
            """)
        let empty = h.root.appendingPathComponent("empty-bin")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let result = try await Self.run(h, "agents", "--json", environment: ["PATH": empty.path + ":/usr/bin:/bin"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let agents = try #require((try result.json() as? [String: Any])?["agents"] as? [[String: Any]])
        func entry(_ name: String) throws -> [String: Any] { try #require(agents.first { $0["name"] as? String == name }, "no \(name)") }
        for name in ["claude", "codex", "gemini", "aider", "opencode", "shell", "sim"] { #expect(try entry(name)["builtin"] as? Bool == true) }
        #expect(try entry("claude")["output"] as? String == "claude-stream-json")
        #expect(try entry("codex")["output"] as? String == "codex-json")
        #expect(try entry("gemini")["output"] as? String == "gemini-json")
        #expect(try entry("claude")["install"] as? String == "npm install -g @anthropic-ai/claude-code")
        #expect(try entry("sim")["installed"] as? Bool == true)
        let mine = try entry("mine")
        #expect(mine["builtin"] as? Bool == false && mine["output"] as? String == "codex-json" && mine["installed"] as? Bool == true)
        #expect(mine["source"] as? String == "muster.toml")
        let careful = try entry("careful")
        #expect(careful["base"] as? String == "claude" && careful["permissions"] as? String == "plan")
        #expect(careful["output"] as? String == "claude-stream-json" && careful["installed"] as? Bool == false)
        #expect(!agents.contains { $0["name"] as? String == "fake" }, "spec profiles are listed only with the spec")
        let withSpec = try #require((try await h.muster("agents", "spec.yml", "--json").json() as? [String: Any])?["agents"] as? [[String: Any]])
        #expect(withSpec.first { $0["name"] as? String == "fake" }?["output"] as? String == "gemini-json")
        let text = try await Self.run(h, "agents", environment: ["PATH": empty.path])
        #expect(text.stdout.contains("not installed") && text.stdout.contains("npm install -g @openai/codex"), "\(text.stdout)")
    }

    static let nastyPrompt = "say \"hi\" and 'bye'; $(touch pwned) `touch pwned2` $HOME\nsecond line\n"

    @Test func customProfilesFromTomlAndSpecGetThePromptIntact() async throws {
        let h = try await TestRepository()
        try h.write("muster.toml", """
            [agents.echo]
            command = ["printf", "%s"]
            output = "text"
            prompt = "argument"
            """)
        try h.write("muster.yml", """
            name: custom
            isolation: none
            agents:
              cat: {command: [cat], output: text, prompt: stdin}
            tasks:
              by-argument:
                agent: echo
                prompt: |
                  say "hi" and 'bye'; $(touch pwned) `touch pwned2` $HOME
                  second line
              by-stdin:
                agent: cat
                prompt: |
                  say "hi" and 'bye'; $(touch pwned) `touch pwned2` $HOME
                  second line

            """)
        let run = try await h.muster("run", "muster.yml", "--json")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        for task in ["by-argument", "by-stdin"] {
            #expect(h.read(".muster/runs/\(id)/tasks/\(task)/result.md") == Self.nastyPrompt, "\(task)")
        }
        #expect(!FileManager.default.fileExists(atPath: h.path("pwned")) && !FileManager.default.fileExists(atPath: h.path("pwned2")))
        // Plain text with no token lines: what it cost is unknown, never $0.
        let cost = try await Self.costJSON(h, id)
        await #expect(try Self.task(cost, "by-argument")["cost"] as? String == "unknown")
        #expect((cost["total"] as? [String: Any])?["unknown_cost_tasks"] as? Int == 2)
        #expect(Self.close((cost["total"] as? [String: Any])?["cost_usd"], 0))
        // The run records the profile's name as the task's agent.
        let status = try #require(try await h.muster("status", id, "--json").json() as? [String: Any])
        #expect((status["tasks"] as? [[String: Any]])?.contains { $0["agent"] as? String == "echo" } == true)
    }

    @Test func tomlPriceOverrideAndAMissingModel() async throws {
        let h = try await TestRepository()
        try h.write("muster.toml", """
            # Negotiated prices, dollars per million tokens.
            [prices."claude-opus-4-8"]
            input = 1
            output = 2.0
            cache_read = 0.1
            """)
        try h.write("muster.yml", """
            name: prices
            isolation: none
            tasks:
              priced: {agent: sim, estimate: {input_tokens: 1000000, output_tokens: 500000}}
              unpriced: {agent: sim, model: mystery-model, estimate: {input_tokens: 1000, output_tokens: 10}}
            """)
        let plan = try #require(try await h.muster("plan", "muster.yml", "--json").json() as? [String: Any])
        #expect((plan["estimate"] as? [String: Any])?["unpriced_models"] as? [String] == ["mystery-model"])
        let run = try await h.muster("run", "muster.yml", "--json")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let cost = try await Self.costJSON(h, id)
        await #expect(Self.close(try Self.task(cost, "priced")["cost_usd"], 2.0))  // 1M × $1 + 0.5M × $2
        let unpriced = try await Self.task(cost, "unpriced")
        #expect(unpriced["cost"] as? String == "unknown" && unpriced["cost_usd"] is NSNull)
        #expect((cost["by_model"] as? [[String: Any]])?.first { $0["model"] as? String == "mystery-model" }?["unknown_cost_tasks"] as? Int == 1)

        try h.write("only.yml", "name: p\nisolation: none\ntasks:\n  priced: {agent: sim, estimate: {input_tokens: 1000000, output_tokens: 500000}}\n")
        let estimate = try #require(try await h.muster("plan", "only.yml", "--json").json() as? [String: Any])
        #expect(Self.close((estimate["estimate"] as? [String: Any])?["cost_usd"], 2.0), "plan uses muster.toml's prices too")
    }

    static let badInputs: [(String, String, String, String)] = [
        ("unknown parser in spec", "muster.yml",
         "name: x\nagents:\n  mine: {command: [x], output: codex-jsn}\ntasks:\n  a: {agent: mine, prompt: p}\n",
         "muster.yml:3:32: error: unknown output format `codex-jsn` for agent `mine` (fix: did you mean `codex-json`?)"),
        ("unknown agent", "muster.yml", "name: x\ntasks:\n  a: {agent: cladue, prompt: p}\n",
         "muster.yml:3:14: error: unknown agent `cladue` (fix: did you mean `claude`?)"),
        ("unknown parser in toml", "muster.toml", "[agents.mine]\ncommand = [\"x\"]\noutput = \"gemini-jsn\"\n",
         "muster.toml:3:10: error: unknown output format `gemini-jsn` for agent `mine` (fix: did you mean `gemini-json`?)"),
        ("bad permissions", "muster.toml", "[agents.claude]\npermissions = \"bypass\"\n",
         "muster.toml:2:15: error: `permissions: bypass` is not a value of claude's --permission-mode"),
        ("mcp not a boolean in toml", "muster.toml", "[agents.quiet]\nbase = \"claude\"\nmcp = \"no\"\n",
         "muster.toml:3:7: error: `mcp` of agent `quiet` must be true or false (fix: write `mcp: false` in a spec, `mcp = false` in muster.toml"),
        ("price without output", "muster.toml", "[prices.\"m\"]\ninput = 1\n", "needs both `input` and `output`"),
        ("malformed toml", "muster.toml", "[agents.mine\n", "muster.toml:1:"),
    ]

    @Test(arguments: badInputs.map(\.0))
    func badAgentInputIsOneLineExitTwo(_ name: String) async throws {
        let (_, file, text, expected) = Self.badInputs.first { $0.0 == name }!
        let h = try await TestRepository()
        if file != "muster.yml" { try h.write("muster.yml", "name: x\nisolation: none\ntasks:\n  a: {agent: sim}\n") }
        try h.write(file, text)
        let result = try await h.muster("run", "muster.yml")
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/muster.db")))
    }
}
