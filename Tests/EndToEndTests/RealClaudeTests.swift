import Foundation
import MusterTestKit
import Testing

/// The real Claude Code CLI under muster, against muster's model stub (`--rehearse`): argv,
/// permissions, worktrees, parsers and cost exactly as for real, with no model called.
@Suite(.serialized) struct RealClaudeTests {
    /// claude-opus-4-8 at $5/$25 per million, cache writes 1.25× and reads 0.1× the input price.
    static func opusCost(input: Int, output: Int, cacheRead: Int, cacheWrite: Int) -> Double {
        (Double(input) * 5 + Double(output) * 25 + Double(cacheWrite) * 6.25 + Double(cacheRead) * 0.5) / 1_000_000
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func mapReduceInWorktreesCostsWhatTheStubReported() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: real-map-reduce
            agent: claude
            model: claude-opus-4-8     # named, so the price is the table's whatever the CLI's default
            concurrency: 3
            tasks:
              map:
                foreach: {items: [alpha, beta, gamma]}
                prompt: "Describe {{item}} in notes/{{item}}.md"
                owns: ["notes/{{item}}.md"]
                timeout: 3m
              reduce:
                needs: [map]
                prompt: "Summarise:\\n{{needs.map.summaries}}"
                owns: [SUMMARY.md]
                timeout: 3m
            """, stub: "usage: {input: 12345, output: 678, cache_read: 9000, cache_write: 1500}\n")
        #expect(rehearsed.result.status == 0, "stderr: \(rehearsed.result.stderr)")
        let (run, tasks) = (rehearsed.run, rehearsed.tasks)
        #expect(tasks.count == 4)
        // The default script: one Write inside the task's owns, then a final answer: two answers of the usage each.
        let expected = Self.opusCost(input: 24690, output: 1356, cacheRead: 18000, cacheWrite: 3000)
        var total = 0.0
        for (id, task) in tasks {
            #expect(task["state"] as? String == "succeeded", "\(id): \(task["error"] ?? "")")
            let tokens = try #require(task["tokens"] as? [String: Int], "\(id) has no tokens")
            #expect(tokens == ["input": 24690, "output": 1356, "cache_read": 18000, "cache_write": 3000], "\(id): \(tokens)")
            let cost = try #require(task["cost_usd"] as? Double, "\(id) has no cost")
            #expect(abs(cost - expected) < 0.005, "\(id): $\(cost) ≠ $\(expected)")
            total += cost
        }
        for item in ["alpha", "beta", "gamma"] {
            var text = await RealAgents.show(h, run: run, task: "map.\(item)", path: "notes/\(item).md")
            if text == nil { text = await RealAgents.show(h, run: run, task: "map-\(item)", path: "notes/\(item).md") }
            #expect(text?.contains("muster's model stub") == true, "notes/\(item).md not committed on its branch")
        }
        await #expect(RealAgents.show(h, run: run, task: "reduce", path: "SUMMARY.md") != nil)
        let cost = try #require(try? await h.muster("cost", run, "--json").json() as? [String: Any])
        let recorded = try #require((cost["total"] as? [String: Any])?["cost_usd"] as? Double)
        #expect(abs(recorded - 4 * expected) < 0.01, "total $\(recorded) ≠ $\(4 * expected)")
        #expect((cost["total"] as? [String: Any])?["unknown_cost_tasks"] as? Int == 0)
        // The user's checkout is untouched.
        #expect(!FileManager.default.fileExists(atPath: h.path("SUMMARY.md")))
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func aWriteOutsideTheWorktreeIsDenied() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: denied
            agent: claude
            tasks:
              escape: {prompt: "write outside", owns: [inside.txt], timeout: 3m}
            """, stub: """
            steps:
              - write: {path: "{{dir}}/../escaped.txt", content: "outside\\n"}
              - text: "done"
            """)
        let (result, run, tasks) = (rehearsed.result, rehearsed.run, rehearsed.tasks)
        let task = try #require(tasks["escape"])
        // The CLI refused the write; muster must not call the task a success (issue 12: `denied`).
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(run)/escaped.txt")))
        #expect(task["state"] as? String != "succeeded", "a task whose every write was refused was recorded as succeeded")
        let error = (task["error"] as? String ?? "") + (task["state"] as? String ?? "")
        #expect(error.lowercased().contains("denied"), "error: \(error)")
        #expect(result.status != 0)
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func a429BecomesASharedCooldownAndAFreeRetry() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: limited
            agent: claude
            limits:
              anthropic: {requests_per_minute: 600}
            tasks:
              limited:
                prompt: "write it"
                owns: [limited.txt]
                uses: [anthropic]
                retries: 0
                timeout: 3m
                env: {CLAUDE_CODE_MAX_RETRIES: "0"}
            """, stub: "fail: {status: 429, count: 1, retry_after: 1}\n")
        #expect(rehearsed.result.status == 0, "stderr: \(rehearsed.result.stderr)")
        let run = rehearsed.run
        let task = try #require(rehearsed.tasks["limited"])
        #expect(task["state"] as? String == "succeeded", "\(task["error"] ?? "")")
        #expect(task["attempt"] as? Int == 2, "one rate-limited attempt, then one that went through")
        #expect(RealAgents.events(h, run: run).contains("limit.cooldown"))
        await #expect(RealAgents.show(h, run: run, task: "limited", path: "limited.txt") != nil)
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func aLeadSpawnsChildrenThroughItsBashTool() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let stub = """
            tasks:
              lead:
                steps:
                  - tool: {name: Bash, input: {command: "muster spawn --id a --owns kids/a.md --prompt 'write kids/a.md'", description: "spawn a"}}
                  - tool: {name: Bash, input: {command: "muster spawn --id b --owns kids/b.md --prompt 'write kids/b.md'", description: "spawn b"}}
                  - tool: {name: Bash, input: {command: "muster wait --timeout 4m", description: "wait for them"}}
                  - text: "both children finished"
            """
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: lead
            agent: claude
            concurrency: 3
            max_depth: 1
            tasks:
              lead: {prompt: "fan out", owns: ["kids/**"], timeout: 5m}
            """, stub: stub)
        #expect(rehearsed.result.status == 0, "stderr: \(rehearsed.result.stderr)")
        let (run, tasks) = (rehearsed.run, rehearsed.tasks)
        let children = tasks.values.filter { $0["parent"] as? String == "lead" }
        #expect(children.count == 2, "the lead's `muster spawn` calls did not add children (Bash denied?)")
        for child in children {
            #expect(child["state"] as? String == "succeeded", "\(child["id"] ?? ""): \(child["error"] ?? "")")
        }
        #expect(tasks["lead"]?["state"] as? String == "succeeded")
        let ids = children.compactMap { $0["id"] as? String }
        var committed = false
        for id in ids where await RealAgents.show(h, run: run, task: id, path: "kids/a.md") != nil { committed = true }
        #expect(committed, "no child committed kids/a.md")
    }

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func aRehearsedRunIsResumedAsARehearsal() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        let flag = h.root.path + "-go"
        // Were the resumed run not rehearsed, claude would find no model here (a closed port), and fail.
        let env = ["ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "none", "CLAUDE_CODE_MAX_RETRIES": "0"]
        let first = try await RealAgents.rehearse(h, spec: """
            name: resumed
            agent: claude
            tasks:
              gate: {agent: shell, command: ["test", "-f", "\(flag)"], isolation: none, sandbox: none, retries: 0}
              write: {needs: [gate], prompt: "write it", owns: [written.md], timeout: 3m}
            """, env: env)
        #expect(first.result.status == 1)
        let run = first.run
        FileManager.default.createFile(atPath: flag, contents: Data())
        let resumed = try await RealAgents.muster(h, ["resume", run, "--json"], env: env)
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
        await #expect(RealAgents.show(h, run: run, task: "write", path: "written.md")?.contains("muster's model stub") == true)
    }
}
