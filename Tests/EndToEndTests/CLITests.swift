import Foundation
import MusterTestKit
import Testing

/// The `muster` binary as a user meets it: commands, JSON output, errors and exit codes.
@Suite struct CLITests {
    @Test func initPlanRunStatusLogsOnAFreshRepository() async throws {
        let h = try await TestRepository()
        for folder in ["alpha", "beta", "gamma"] { try h.write("\(folder)/file.txt", "x\n") }
        try await h.commitAll()
        #expect(try await h.muster("init").status == 0)
        #expect(h.read("muster.yml").contains("foreach"))
        #expect(try await h.muster("init").status == 2, "init must not overwrite without --force")

        let plan = try await h.muster("plan", "muster.yml", "--json")
        #expect(plan.status == 0)
        let planJSON = try #require(try plan.json() as? [String: Any])
        #expect(planJSON["task_count"] as? Int == 4)
        #expect((planJSON["waves"] as? [[String]])?.count == 2)

        let run = try await h.muster("run", "muster.yml", "--json")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let runJSON = try #require(try run.json() as? [String: Any])
        #expect(runJSON["status"] as? String == "succeeded")
        let id = try #require(runJSON["run"] as? String)
        #expect((runJSON["counts"] as? [String: Int])?["succeeded"] == 4)

        let status = try #require(try await h.muster("status", id, "--json").json() as? [String: Any])
        let tasks = try #require(status["tasks"] as? [[String: Any]])
        #expect(tasks.count == 4 && tasks.allSatisfy { $0["state"] as? String == "succeeded" })

        let runs = try #require(try await h.muster("runs", "--json").json() as? [[String: Any]])
        #expect(runs.first?["run"] as? String == id)

        let logs = try await h.muster("logs", id, "report")
        for folder in ["alpha", "beta", "gamma"] { #expect(logs.stdout.contains("\"folder\":\"\(folder)\"")) }
        #expect(try await h.muster("logs", id, "report", "--json").json() is [String: Any])
        #expect(h.lines(".muster/runs/\(id)/events.jsonl").count >= 10)
        #expect(h.read(".git/info/exclude").contains(".muster/"), ".muster must stay out of git status")
        let gitStatus = try await Command.run("/usr/bin/env", ["git", "status", "--porcelain"], in: h.root)
        #expect(!gitStatus.stdout.contains(".muster"))
    }

    @Test func humanOutputHasNoColourWhenPiped() async throws {
        let h = try await TestRepository()
        try h.write("muster.yml", "name: plain\ntasks:\n  a:\n    command: [\"true\"]\n")
        for result in [try await h.muster("plan", "muster.yml"), try await h.muster("run", "muster.yml"), try await h.muster("status")] {
            #expect(result.status == 0)
            #expect(!result.stdout.contains("\u{1B}["), "escape codes in piped output: \(result.stdout)")
        }
    }

    static let badSpecs: [(String, String, String)] = [
        ("malformed", "name: x\ntasks:\n  a: [unclosed\n", "bad.yml:4:1:"),
        ("unknown key", "name: x\ntasks:\n  a:\n    comand: [\"true\"]\n", "bad.yml:4:5: error: unknown key `comand`"),
        ("cycle", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n    needs: [b]\n  b:\n    command: [\"true\"]\n    needs: [a]\n",
         "cycle: a → b → a"),
        ("missing dependency", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n    needs: [zz]\n", "bad.yml:5:13:"),
        ("duplicate id", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n  a:\n    command: [\"true\"]\n", "bad.yml:5:3: error: duplicate key `a`"),
        ("empty foreach", "name: x\ntasks:\n  a:\n    foreach: {items: []}\n    command: [\"true\"]\n", "bad.yml:4:22:"),
        ("unresolved template", "name: x\ntasks:\n  a:\n    command: [\"echo\", \"{{nope}}\"]\n", "does not resolve"),
        ("owns leaves repo", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n    owns: [\"../up/*\"]\n", "bad.yml:5:12:"),
        ("owns absolute", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n    owns: [\"/etc/*\"]\n", "is absolute"),
    ]

    @Test(arguments: badSpecs.map(\.0))
    func badInputIsOneLineExitTwoAndWritesNothing(_ name: String) async throws {
        let (_, yaml, expected) = Self.badSpecs.first { $0.0 == name }!
        let h = try await TestRepository()
        try h.write("bad.yml", yaml)
        let result = try await h.muster("run", "bad.yml")
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/muster.db")), "nothing may be written to the store")
    }

    @Test func unknownRunAndMissingFileAreClearErrors() async throws {
        let h = try await TestRepository()
        try h.write("ok.yml", "name: ok\ntasks:\n  a:\n    command: [\"true\"]\n")
        #expect(try await h.muster("run", "ok.yml").status == 0)
        let status = try await h.muster("status", "no-such-run")
        #expect(status.status == 2 && status.stderr.contains("no run named no-such-run"))
        let missing = try await h.muster("plan", "missing.yml")
        #expect(missing.status == 2 && missing.stderr.contains("missing.yml"))
        let zeroSlots = try await h.muster("run", "ok.yml", "--concurrency", "0")
        #expect(zeroSlots.status == 2)
    }

    @Test func simulatedRunPreviewsCostThroughTheSimAgent() async throws {
        let h = try await TestRepository()
        try h.write("sim.yml", """
            name: audit
            agent: sim
            concurrency: 10
            tasks:
              scan:
                foreach: {items: [a, b, c, d, e, f, g, h, i, j]}
                prompt: "Audit {{item}}"
                estimate: {minutes: 2, input_tokens: 2000, output_tokens: 500}
            """)
        let plan = try #require(try await h.muster("plan", "sim.yml", "--json").json() as? [String: Any])
        let estimate = try #require(plan["estimate"] as? [String: Any])
        #expect(abs((estimate["cost_usd"] as? Double ?? 0) - 0.225) < 1e-9)
        let run = try await h.muster("run", "sim.yml", "--simulate", "--speed", "1200", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try run.json() as? [String: Any])
        #expect(abs((json["cost_usd"] as? Double ?? 0) - 0.225) < 1e-9, "10 × (2000 × $5/M + 500 × $25/M)")
        #expect((json["tokens"] as? [String: Int])?["input"] == 20_000)
    }

    @Test func resumeRetriesOnlyWhatFailed() async throws {
        let h = try await TestRepository()
        let counter = h.path("ran")
        try h.write("flaky.yml", """
            name: flaky
            concurrency: 2
            sandbox: none  # the tasks count their runs in a file of the checkout
            on_failure: continue
            tasks:
              steady:
                foreach: {items: [1, 2, 3]}
                shell: true
                command: "echo {{task.id}} >> \(counter)"
              fragile:
                shell: true
                command: "echo fragile >> \(counter); test -e \(h.path("fixed"))"
              after:
                needs: [fragile]
                shell: true
                command: "echo after >> \(counter)"
            """)
        let first = try await h.muster("run", "flaky.yml", "--json")
        #expect(first.status == 1)
        let id = try #require((try first.json() as? [String: Any])?["run"] as? String)
        try h.write("fixed", "")
        let resumed = try await h.muster("resume", id, "--json")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(h.lines("ran").sorted() == ["after", "fragile", "fragile", "steady.1", "steady.2", "steady.3"],
                "succeeded tasks must not run again: \(h.lines("ran"))")
        #expect(try await h.muster("resume", id).stdout.contains("nothing to resume"))
    }

    @Test func dynamicWorkflowFansOutOverPrintedJSON() async throws {
        let h = try await TestRepository()
        try h.write("dyn.yml", """
            name: dyn
            tasks:
              discover:
                command: ["echo", "[\\"x\\", \\"y\\", \\"z\\"]"]
              handle:
                foreach: {from: discover}
                command: ["echo", "handled {{item}}"]
              merge:
                needs: [handle]
                command: ["printf", "%s", "{{needs.handle.summaries}}"]
            """)
        let run = try await h.muster("run", "dyn.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let merged = try await h.muster("logs", id, "merge").stdout
        for item in ["x", "y", "z"] { #expect(merged.contains("handled \(item)")) }
    }

    /// `--budget` alone (no `budget:` in the spec) is stored with the run: status, the dashboard and resume see it.
    @Test func budgetGivenOnTheCommandLineIsStoredWithTheRun() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("wf.yml", "name: w\nisolation: none\ntasks:\n  t:\n    command: [echo, ok]\n")
        let run = try await h.muster("run", "wf.yml", "--budget", "2.5", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let status = try #require(try await h.muster("status", id, "--json").json() as? [String: Any])
        #expect(status["budget_usd"] as? Double == 2.5, "\(status["budget_usd"] ?? "missing")")
        #expect(status["budget_hard"] as? Bool == false)
        let hard = try await h.muster("run", "wf.yml", "--budget", "3", "--budget-hard", "--json")
        let hardID = try #require((try hard.json() as? [String: Any])?["run"] as? String, "\(hard.stderr)")
        #expect(try #require(try await h.muster("status", hardID, "--json").json() as? [String: Any])["budget_hard"] as? Bool == true)
        try h.write("hard.yml", "name: w\nisolation: none\nbudget: {usd: 1, hard: true}\ntasks:\n  t:\n    command: [echo, ok]\n")
        let spec = try await h.muster("run", "hard.yml", "--json")
        let specID = try #require((try spec.json() as? [String: Any])?["run"] as? String, "\(spec.stderr)")
        #expect(try #require(try await h.muster("status", specID, "--json").json() as? [String: Any])["budget_hard"] as? Bool == true)
        try h.write("badhard.yml", "name: w\nbudget: {usd: 1, hard: sometimes}\ntasks:\n  t:\n    command: [echo, ok]\n")
        let refused = try await h.muster("plan", "badhard.yml")
        #expect(refused.status == 2 && refused.stderr.contains("badhard.yml:2:") && refused.stderr.contains("budget.hard"), "\(refused.stderr)")
        let unbudgeted = try await h.muster("run", "wf.yml", "--json")
        let other = try #require((try unbudgeted.json() as? [String: Any])?["run"] as? String)
        #expect(try #require(try await h.muster("status", other, "--json").json() as? [String: Any])["budget_usd"] is NSNull)
    }
}
