import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// The real Claude Code CLI as a lead, scripted by the model stub to fan out and join through
/// `muster mcp` (`mcp__muster__spawn` × 20, then `mcp__muster__wait`), headless: muster gives every
/// claude task `--mcp-config` bound to it and `--allowedTools` for the tools, inside the sandbox.
@Suite(.serialized) struct RealClaudeMCPTests {
    static let children = 20

    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func aLeadFansOutAndJoinsThroughTheTools() async throws {
        let h = try await RealAgents.repository(RealAgents.claude, "the Claude Code CLI")
        defer { RealAgents.cleanup(h) }
        var steps: [String] = []
        for n in 1...Self.children {
            let id = String(format: "kid-%02d", n)
            steps.append("      - tool: {name: mcp__muster__spawn, input: {id: \(id), prompt: \"write kids/\(id).md\", owns: [\"kids/\(id).md\"]}}")
        }
        // Outside the lead's owns: refused, and the refusal reaches the lead as a tool error it writes down.
        steps.append("      - tool: {name: mcp__muster__spawn, input: {prompt: \"escape\", owns: [\"elsewhere/**\"]}}")
        steps.append("      - write: {path: REFUSAL.md, content: \"{{last_result}}\"}")
        steps.append("      - tool: {name: mcp__muster__wait, input: {timeout_seconds: 600, summary_chars: 200}}")
        steps.append("      - text: \"All children joined. {{last_result}}\"")
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: mcp-lead
            agent: claude
            concurrency: 4
            max_depth: 1
            tasks:
              lead: {prompt: "fan out", owns: ["kids/**", REFUSAL.md], timeout: 15m}
            """, stub: "tasks:\n  lead:\n    steps:\n" + steps.joined(separator: "\n") + "\n")
        #expect(rehearsed.result.status == 0, "stderr: \(rehearsed.result.stderr)")
        let (run, tasks) = (rehearsed.run, rehearsed.tasks)
        let lead = try #require(tasks["lead"])
        #expect(lead["state"] as? String == "succeeded", "\(lead["error"] ?? "")")
        let kids = tasks.values.filter { $0["parent"] as? String == "lead" }
        #expect(kids.count == Self.children, "the lead's mcp__muster__spawn calls added \(kids.count) children")
        #expect(kids.allSatisfy { $0["state"] as? String == "succeeded" }, "\(kids.map { "\($0["id"] ?? ""): \($0["error"] ?? "")" })")
        for n in 1...Self.children {
            let id = String(format: "kid-%02d", n)
            await #expect(RealAgents.show(h, run: run, task: id, path: "kids/\(id).md") != nil, "\(id) committed nothing on its branch")
        }
        // The final answer carries every child's summary, as `wait` returned them.
        let answer = h.read(".muster/runs/\(run)/tasks/lead/result.md")
        #expect(answer.hasPrefix("All children joined."), "\(answer.prefix(400))")
        for n in 1...Self.children {
            let id = String(format: "kid-%02d", n)
            #expect(answer.contains("\(id) wrote kids/\(id).md"), "\(id)'s summary is not in the lead's answer: \(answer.prefix(400))")
        }
        let refusal = await RealAgents.show(h, run: run, task: "lead", path: "REFUSAL.md") ?? ""
        #expect(refusal.contains("not inside its parent's owns"), "the refused spawn did not come back as a tool error: \(refusal)")
        let config = h.read(".muster/runs/\(run)/tasks/lead/\(MCPWiring.claudeConfigFile)")
        #expect(config.contains("\"MUSTER_TASK_ID\" : \"lead\""), "\(config)")
    }
}
