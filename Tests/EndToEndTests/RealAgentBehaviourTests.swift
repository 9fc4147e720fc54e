import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// Agents as the real CLIs behave (issue 12): fake `claude` and `aider` executables that print what
/// the real ones printed (Tests/MusterRuntimeTests/Fixtures/captured/), run through the built
/// `muster` binary in a real repository.
@Suite(.serialized) struct RealAgentBehaviourTests {
    static let captures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MusterRuntimeTests/Fixtures/captured")

    /// A folder outside the repository holding a fake agent script and the captures it prints.
    struct FakeAgent {
        let folder: URL
        init(script: String) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("muster-fake-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: RealAgentBehaviourTests.captures.path) {
                try FileManager.default.copyItem(at: RealAgentBehaviourTests.captures.appendingPathComponent(name),
                                                 to: folder.appendingPathComponent(name))
            }
            try ("#!/bin/sh\ndir=\"\(folder.path)\"\n" + script).write(to: executable, atomically: true, encoding: .utf8)
            chmod(executable.path, 0o755)
        }
        var executable: URL { folder.appendingPathComponent("agent") }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func read(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }
        func remove() { try? FileManager.default.removeItem(at: folder) }

        /// A spec whose default agent is this fake as profile `agent` on `base`, unsandboxed (its files
        /// live in the host's /tmp, which a sandbox replaces); `rest` follows (limits, tasks).
        func spec(_ name: String, agent: String, base: String, _ rest: String) -> String {
            "name: \(name)\nagent: \(agent)\nsandbox: none\nagents:\n  \(agent): {base: \(base), command: [\"\(executable.path)\"]}\n" + rest
        }
    }

    /// Polls without holding a thread (the store is read through async calls).
    static func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        try await MusterTestKit.eventually(timeout: seconds, condition)
    }

    static func task(_ h: TestRepository, run: String? = nil) async throws -> [String: Any] {
        let status = try #require(try await h.musterArgs(["status"] + (run.map { [$0] } ?? []) + ["--json"]).json() as? [String: Any])
        return try #require((status["tasks"] as? [[String: Any]])?.first)
    }

    /// The first 429 the CLI is still retrying starts the shared cool-down while the task runs (it
    /// used to wait for the CLI to give up, ~167 s later). The fake claude prints the real init
    /// and two `api_retry` lines, then holds until released; its second attempt succeeds.
    @Test func firstRetried429StartsTheSharedCooldownWhileTheTaskRuns() async throws {
        let h = try await TestRepository()
        let fake = try FakeAgent(script: """
            cat > /dev/null
            printf '%s\\n' "$@" > "$dir/argv.$MUSTER_ATTEMPT"
            echo "${CLAUDE_CODE_MAX_RETRIES:-unset}" > "$dir/retries"
            if [ "${MUSTER_ATTEMPT:-1}" -le 1 ]; then
              head -n 3 "$dir/claude-r429always.jsonl"
              : > "$dir/started"
              i=0; while [ ! -e "$dir/release" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
              tail -n 2 "$dir/claude-r429always.jsonl"
              exit 1
            fi
            cat "$dir/claude-inside.jsonl"
            """)
        defer { try? FileManager.default.removeItem(at: h.root); fake.remove() }
        try h.write("live.yml", fake.spec("live", agent: "fakeclaude", base: "claude", """
            limits:
              anthropic: {requests_per_minute: 600}
            tasks:
              lead:
                prompt: "spawn your workers"
                uses: [anthropic]
            """))
        try await h.commitAll()
        let process = try h.start(["run", "live.yml"])
        #expect(try await Self.eventually { FileManager.default.fileExists(atPath: fake.path("started")) }, "the fake agent never started")
        let store = try SQLiteStore(path: h.path(".muster/muster.db"))
        // The cool-down row appears while the agent still runs (it holds until released).
        let cooled = try await Self.eventually {
            try await !store.activeCooldowns(now: .distantPast).filter { $0.key == "anthropic" }.isEmpty
        }
        #expect(cooled, "no shared cool-down while the CLI was retrying its 429")
        let state = try await Self.task(h)["state"] as? String
        #expect(state == "running", "the cool-down must come before the task ends")
        FileManager.default.createFile(atPath: fake.path("release"), contents: nil)
        #expect(await process.exited() == .exited(0), "the free retry after the cool-down succeeds")
        let task = try await Self.task(h)
        #expect(task["state"] as? String == "succeeded")
        #expect(task["model"] as? String == "claude-opus-5-5", "the model the CLI reported")
        #expect(fake.read("retries") == "2\n", "a task on a shared limit caps the CLI's own retries")
        let argv = fake.read("argv.1").split(separator: "\n")
        let allowed = argv.firstIndex(of: "--allowedTools").map { argv[$0 + 1].split(separator: ",") } ?? []
        #expect(allowed.contains("Bash(muster:*)") && !argv.contains("--model"), "\(argv)")
        let run = try #require((try await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String)
        let events = h.lines(".muster/runs/\(run)/events.jsonl")
        let live = try #require(events.firstIndex { $0.contains("limit.cooldown") && $0.contains("the CLI is on attempt 1 of 10") })
        let retry = try #require(events.firstIndex { $0.contains("task.retry") })
        #expect(live < retry, "the live cool-down is logged before the task ends")
    }

    /// A write the CLI refused ends the task `denied` (exit 0 from the CLI notwithstanding), listed
    /// in `muster status` and its JSON; `allow_denials: true` lets it succeed with a warning.
    @Test func refusedToolCallsEndTheTaskDenied() async throws {
        let h = try await TestRepository()
        let fake = try FakeAgent(script: "cat > /dev/null\ncat \"$dir/claude-outside.jsonl\"\n")
        defer { try? FileManager.default.removeItem(at: h.root); fake.remove() }
        for (name, allow) in [("strict", false), ("lenient", true)] {
            try h.write("\(name).yml", fake.spec(name, agent: "fakeclaude", base: "claude", """
                tasks:
                  write:
                    prompt: "write outside"
                    allow_denials: \(allow)
                """))
        }
        try await h.commitAll()
        let strict = try await h.muster("run", "strict.yml")
        #expect(strict.status == 1, "a denied task fails the run: \(strict.stderr)")
        let task = try await Self.task(h)
        #expect(task["state"] as? String == "failed" && task["outcome"] as? String == "denied" && task["denied"] as? Bool == true)
        let denials = try #require(task["denials"] as? [[String: Any]])
        #expect(denials.count == 1 && denials.first?["tool"] as? String == "Write"
                && denials.first?["input"] as? String == "/tmp/stub/outside-target.txt")
        #expect(task["attempt"] as? Int == 1, "a denial is not retried")
        let human = try await h.muster("status")
        #expect(human.stdout.contains("denied") && human.stdout.contains("refused: Write(/tmp/stub/outside-target.txt)"), "\(human.stdout)")
        let run = try #require((try await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String)
        #expect(h.read(".muster/runs/\(run)/events.jsonl").contains("task.denied"))
        let done = try #require(try JSONSerialization.jsonObject(with: Data(h.read(".muster/runs/\(run)/DONE").utf8)) as? [String: Any])
        let failed = try #require((done["failed_tasks"] as? [[String: Any]])?.first)
        #expect(failed["state"] as? String == "denied" && (failed["denials"] as? [String])?.first == "Write(/tmp/stub/outside-target.txt)")

        let lenient = try await h.muster("run", "lenient.yml")
        #expect(lenient.status == 0, "\(lenient.stderr)")
        let allowed = try await Self.task(h)
        #expect(allowed["state"] as? String == "succeeded" && allowed["outcome"] as? String == "succeeded")
        #expect((allowed["error"] as? String)?.hasPrefix("warning: 1 tool call was refused: Write(") == true)
    }

    /// aider's own files (`.aider.tags.cache.v4/…`) are neither committed nor an ownership
    /// violation; its cost and model come from its output.
    @Test func aiderScratchFilesAreNotCommittedNorViolations() async throws {
        let h = try await TestRepository()
        let fake = try FakeAgent(script: """
            echo "$COLUMNS" > "$dir/columns"
            mkdir -p .aider.tags.cache.v4 src && echo cache > .aider.tags.cache.v4/cache.db && echo hist > .aider.chat.history.md
            echo "aider content" > src/b.txt
            cat "$dir/aider-basic.out"
            """)
        defer { try? FileManager.default.removeItem(at: h.root); fake.remove() }
        try h.write("aider.yml", fake.spec("aider", agent: "fakeaider", base: "aider", """
            tasks:
              edit:
                prompt: "write src/b.txt"
                owns: ["src/**"]
            """))
        try await h.commitAll()
        let result = try await h.muster("run", "aider.yml")
        #expect(result.status == 0, "\(result.stderr)")
        let task = try await Self.task(h)
        #expect(task["state"] as? String == "succeeded", "\(task["error"] ?? "")")
        #expect(task["model"] as? String == "gpt-4o" && task["cost_usd"] as? Double == 0.0045)
        #expect((task["summary"] as? String)?.hasPrefix("Here are the changes") == true, "\(task["summary"] ?? "")")
        #expect(fake.read("columns") == "1000\n")
        let run = try #require((try await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String)
        let files = try await h.git("ls-tree", "-r", "--name-only", "muster/\(run)/edit").stdout
        #expect(files.contains("src/b.txt") && !files.contains(".aider"), "\(files)")
        // The shared exclude file is left alone: the exclusion is per task.
        #expect(!h.read(".git/info/exclude").contains(".aider"))
    }
}
