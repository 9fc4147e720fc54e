import Foundation
import MusterTestKit
import Testing

/// The real aider CLI under muster against the model stub (`--rehearse`): the stub answers its
/// chat completion with an edit block in aider's own edit format, aider applies it in the task's
/// worktree, and muster commits it and reads aider's token and cost lines.
@Suite(.serialized) struct RealAiderTests {
    @Test(.enabled(if: RealAgents.aiderRuns, "aider is not installed"))
    func aiderTasksWriteInTheirWorktrees() async throws {
        _ = try #require(RealAgents.aider, "CI=true but aider is missing: scripts/test installs it")
        let h = try await TestRepository()
        defer { RealAgents.cleanup(h) }
        // Below 1,000 tokens aider prints exact counts ("Tokens: 800 sent, 60 received.").
        try h.write("stub.yml", "usage: {input: 800, output: 60}\n")
        try h.write("muster.yml", """
            name: real-aider
            agent: aider
            sandbox: none  # aider does not yet write inside the bubblewrap sandbox (open: its state under $HOME)
            concurrency: 2
            tasks:
              edit:
                foreach: {items: [one, two]}
                prompt: "Create docs/{{item}}.md"
                owns: ["docs/{{item}}.md"]
                timeout: 3m
            """)
        try await h.commitAll()
        let result = try await RealAgents.muster(h, ["run", "--rehearse", "--stub-script", "stub.yml", "--json", "muster.yml"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let (run, tasks) = try await RealAgents.runJSON(result)
        #expect(tasks.count == 2)
        for (id, task) in tasks {
            #expect(task["state"] as? String == "succeeded", "\(id): \(task["error"] ?? "")")
            let tokens = task["tokens"] as? [String: Int]
            #expect(tokens?["input"] == 800 && tokens?["output"] == 60, "\(id): \(tokens ?? [:])")
            let item = id.hasSuffix("one") ? "one" : "two"
            let text = await RealAgents.show(h, run: run, task: id, path: "docs/\(item).md")
            #expect(text?.contains("muster's model stub") == true, "docs/\(item).md not committed on \(id)'s branch")
            // aider's scratch files are never committed.
            let files = try await h.git("ls-tree", "-r", "--name-only", "muster/\(run)/\(id)").stdout
            #expect(!files.contains(".aider"), "\(id) committed aider's scratch files: \(files)")
        }
        let cost = try #require(try? await h.muster("cost", run, "--json").json() as? [String: Any])
        for task in cost["tasks"] as? [[String: Any]] ?? [] {
            // gpt-4o (aider's default) at $2.50/$10 per million: 800 in, 60 out = $0.0026, as aider prints it.
            #expect(abs((task["cost_usd"] as? Double ?? -1) - 0.0026) < 0.005, "\(task)")
            #expect(task["model"] as? String == "gpt-4o", "the model aider reported is not recorded: \(task["model"] ?? "nil")")
        }
    }

    @Test(.enabled(if: RealAgents.aiderRuns, "aider is not installed"))
    func anAiderWriteOutsideOwnsIsCaught() async throws {
        _ = try #require(RealAgents.aider, "CI=true but aider is missing")
        let h = try await TestRepository()
        defer { RealAgents.cleanup(h) }
        try h.write("stub.yml", """
            steps:
              - write: {path: "not-owned.md", content: "sneaky\\n"}
              - text: "done"
            """)
        try h.write("muster.yml", """
            name: aider-outside
            agent: aider
            sandbox: none  # aider does not yet write inside the bubblewrap sandbox (open: its state under $HOME)
            tasks:
              sneak: {prompt: "write it", owns: [owned.md], timeout: 3m}
            """)
        try await h.commitAll()
        let result = try await RealAgents.muster(h, ["run", "--rehearse", "--stub-script", "stub.yml", "--json", "muster.yml"])
        #expect(result.status == 1)
        let (_, tasks) = try await RealAgents.runJSON(result)
        let error = tasks["sneak"]?["error"] as? String ?? ""
        #expect(tasks["sneak"]?["state"] as? String == "failed")
        #expect(error.contains("not-owned.md"), "error: \(error)")
        #expect(!error.contains(".aider"), "aider's scratch files counted against owns: \(error)")
    }
}
