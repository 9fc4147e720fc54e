import Foundation
import MusterTestKit
import Testing

/// The real aider CLI under muster against the model stub (`--rehearse`), in the default bubblewrap
/// sandbox: the stub answers its chat completion with an edit block in aider's own edit format,
/// aider applies it in the task's worktree (staging the new file in an index of the task's own: the
/// repository's is read-only there), and muster commits it and reads aider's token and cost lines.
@Suite(.serialized) struct RealAiderTests {
    @Test(.enabled(if: RealAgents.aiderRuns, "aider is not installed"))
    func aiderTasksWriteInTheirWorktrees() async throws {
        let h = try await RealAgents.repository(RealAgents.aider, "aider")
        defer { RealAgents.cleanup(h) }
        // Below 1,000 tokens aider prints exact counts ("Tokens: 800 sent, 60 received.").
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: real-aider
            agent: aider
            concurrency: 2
            tasks:
              edit:
                foreach: {items: [one, two]}
                prompt: "Create docs/{{item}}.md"
                owns: ["docs/{{item}}.md"]
                timeout: 3m
            """, stub: "usage: {input: 800, output: 60}\n")
        #expect(rehearsed.result.status == 0, "stderr: \(rehearsed.result.stderr)")
        let run = rehearsed.run
        #expect(rehearsed.tasks.count == 2)
        for (id, task) in rehearsed.tasks {
            #expect(task["state"] as? String == "succeeded", "\(id): \(task["error"] ?? "")")
            let tokens = task["tokens"] as? [String: Int]
            #expect(tokens?["input"] == 800 && tokens?["output"] == 60, "\(id): \(tokens ?? [:])")
            let item = id.hasSuffix("one") ? "one" : "two"
            let text = await RealAgents.show(h, run: run, task: id, path: "docs/\(item).md")
            #expect(text?.contains("muster's model stub") == true, "docs/\(item).md not committed on \(id)'s branch: \(text ?? "nil")")
            // aider's scratch files are never committed.
            let files = try await h.git("ls-tree", "-r", "--name-only", "muster/\(run)/\(id)").stdout
            #expect(!files.contains(".aider"), "\(id) committed aider's scratch files: \(files)")
        }
        let sandboxed = RealAgents.events(h, run: run).split(separator: "\n").filter { $0.contains("\"kind\":\"task.sandbox\",\"message\":\"worktree\"") }
        #expect(sandboxed.count == 2, "both tasks run in the bubblewrap sandbox")
        let cost = try #require(try? await h.muster("cost", run, "--json").json() as? [String: Any])
        for task in cost["tasks"] as? [[String: Any]] ?? [] {
            // gpt-4o (aider's default) at $2.50/$10 per million: 800 in, 60 out = $0.0026, as aider prints it.
            #expect(abs((task["cost_usd"] as? Double ?? -1) - 0.0026) < 0.005, "\(task)")
            #expect(task["model"] as? String == "gpt-4o", "the model aider reported is not recorded: \(task["model"] ?? "nil")")
        }
    }

    @Test(.enabled(if: RealAgents.aiderRuns, "aider is not installed"))
    func anAiderWriteOutsideOwnsIsCaught() async throws {
        let h = try await RealAgents.repository(RealAgents.aider, "aider")
        defer { RealAgents.cleanup(h) }
        let rehearsed = try await RealAgents.rehearse(h, spec: """
            name: aider-outside
            agent: aider
            tasks:
              sneak: {prompt: "write it", owns: [owned.md], timeout: 3m}
            """, stub: """
            steps:
              - write: {path: "not-owned.md", content: "sneaky\\n"}
              - text: "done"
            """)
        #expect(rehearsed.result.status == 1)
        let error = rehearsed.tasks["sneak"]?["error"] as? String ?? ""
        #expect(rehearsed.tasks["sneak"]?["state"] as? String == "failed")
        #expect(error.contains("not-owned.md"), "error: \(error)")
        #expect(!error.contains(".aider"), "aider's scratch files counted against owns: \(error)")
    }
}
