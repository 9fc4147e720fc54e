import Foundation
import MCP
import MusterRuntime
import MusterTestKit
import Testing

/// `muster mcp` driven by the MCP SDK's own client over stdio, speaking for a running lead task:
/// every tool, and every bad input coming back as a tool error (isError) with its reason.
@Suite("MCP server")
struct MCPServerTests {
    /// A run whose lead task (owning src/**) stays running until the test releases it.
    static func leadRun(_ h: TestRepository, maxDepth: Int = 2) async throws -> (run: String, process: BackgroundProcess, release: String) {
        let release = h.folder.appending("release").path
        try h.write("lead.yml", """
            name: mcp-lead
            max_depth: \(maxDepth)
            sandbox: none
            tasks:
              lead:
                owns: ["src/**"]
                shell: true
                command: until [ -f '\(release)' ]; do sleep 0.1; done; echo lead-done
            """)
        try await h.commitAll()
        let process = try h.start(["run", "lead.yml"])
        var runID: String?
        let started = try await eventually {
            let runs = try await h.muster("runs", "--json")
            guard let id = ((try? runs.json()) as? [[String: Any]])?.first?["run"] as? String else { return false }
            runID = id
            let status = try await h.muster("status", id, "--json")
            let tasks = (try? status.json() as? [String: Any])?["tasks"] as? [[String: Any]]
            return tasks?.first?["state"] as? String == "running"
        }
        try #require(started, "the lead never started")
        return (try #require(runID), process, release)
    }

    static func finish(_ h: TestRepository, _ lead: (run: String, process: BackgroundProcess, release: String)) async {
        FileManager.default.createFile(atPath: lead.release, contents: Data())
        _ = await lead.process.exited()
    }

    @Test("spawn returns child ids at once, wait returns states, summaries and result paths; status, cost, logs, resources")
    func spawnAndWait() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let lead = try await Self.leadRun(h)
        let session = try await MCPSession(h, run: lead.run, task: "lead")
        let tools = try await session.client.listTools().tools.map(\.name)
        #expect(tools.sorted() == MCPWiring.toolNames.sorted())

        let one = try await session.call("spawn", ["command": ["sh", "-c", "mkdir -p src/a && echo a > src/a/x.txt && echo summary-of-a"],
                                                    "owns": ["src/a/**"]])
        #expect(!one.isError, "\(one.text)")
        #expect((one.object["children"] as? [[String: Any]])?.map { $0["id"] as? String } == ["lead.1"], "\(one.text)")
        let many = try await session.call("spawn", ["children": [
            ["id": "b", "command": "sh -c 'echo summary-of-b'", "owns": ["src/b/**"]],
            ["id": "c", "command": ["sh", "-c", "echo failing-c; exit 3"], "owns": "src/c/**"],
        ]])
        #expect((many.object["children"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["b", "c"], "\(many.text)")

        let waited = try await session.call("wait", ["summary_chars": 40])
        #expect(!waited.isError, "\(waited.text)")
        let results = try #require(waited.object["tasks"] as? [[String: Any]], "\(waited.text)")
        #expect(results.compactMap { $0["id"] as? String } == ["lead.1", "b", "c"], "\(waited.text)")
        #expect(results.compactMap { $0["state"] as? String } == ["succeeded", "succeeded", "failed"], "\(waited.text)")
        #expect((results[0]["summary"] as? String)?.contains("summary-of-a") == true, "\(waited.text)")
        #expect(waited.object["all_succeeded"] as? Bool == false)
        if let path = results[0]["result_path"] as? String { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }

        let status = try await session.call("status")
        #expect((status.object["tasks"] as? [[String: Any]])?.count == 4, "\(status.text)")
        #expect(status.object["run"] as? String == lead.run)
        let cost = try await session.call("cost")
        #expect(cost.object["total_usd"] as? Double == 0, "shell tasks cost a known $0: \(cost.text)")
        let logs = try await session.call("logs", ["task": "b", "lines": 5])
        #expect((logs.object["output"] as? String)?.contains("summary-of-b") == true, "\(logs.text)")

        let resources = try await session.client.listResources().resources.map(\.uri)
        #expect(resources.contains("muster://runs/\(lead.run)/events"), "\(resources)")
        let log = try await session.client.readResource(uri: "muster://runs/\(lead.run)/tasks/b/log")
        #expect(log.first?.text?.contains("summary-of-b") == true)
        let events = try await session.client.readResource(uri: "muster://runs/\(lead.run)/events")
        #expect(events.first?.text?.contains("\"kind\"") == true)
        await session.close()
        await Self.finish(h, lead)
        let child = try await h.git("show", "muster/\(lead.run)/lead.1:src/a/x.txt")
        #expect(child.stdout == "a\n", "the child ran in its own worktree and branch: \(child.stderr)")
    }

    @Test("bad input is a tool error naming the field or the rule, and the server keeps serving")
    func refusals() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let lead = try await Self.leadRun(h, maxDepth: 1)
        let session = try await MCPSession(h, run: lead.run, task: "lead")
        let cases: [(String, [String: Value], String)] = [
            ("spawn", ["prompt": "x", "ownz": ["src/**"]], "unknown field `ownz`; did you mean `owns`?"),
            ("spawn", ["command": "true", "owns": 5], "`owns` must be a list of text"),
            ("spawn", ["command": "true", "retries": "two"], "`retries` must be a whole number"),
            ("spawn", ["command": "true", "owns": ["lib/**"]], "not inside its parent's owns"),
            ("spawn", ["command": "true", "needs": ["nowhere"]], "not a task of this run"),
            ("spawn", ["command": "true", "id": "../evil"], "refused"),
            ("spawn", ["agent": "nosuch", "prompt": "hi"], "unknown agent `nosuch`"),
            ("spawn", [:], "give the child a `prompt`, or a `command`"),
            ("wait", ["tasks": ["ghost"]], "has no task ghost"),
            ("wait", ["tasks": ["lead"]], "cannot wait for itself"),
            ("wait", ["timeout_seconds": "soon"], "`timeout_seconds` must be a number"),
            ("wait", ["taks": ["x"]], "unknown field `taks`; did you mean `tasks`?"),
            ("logs", ["task": "ghost"], "has no task ghost"),
            ("logs", [:], "`task` is required"),
            ("lock", ["path": 3], "`path` must be text"),
            ("ack", ["token": "nope"], "is not a claim token"),
            ("status", ["run": "no-such-run"], "no-such-run"),
            ("bogus", [:], "unknown tool bogus"),
        ]
        for (tool, arguments, expected) in cases {
            let answer = try await session.call(tool, arguments)
            #expect(answer.isError, "\(tool) \(arguments) should be refused: \(answer.text)")
            #expect(answer.text.contains(expected), "\(tool) \(arguments): \(answer.text)")
        }
        // Depth: a child of lead (depth 1 = max_depth) may not spawn.
        let hold = h.folder.appending("hold").path
        let child = try await session.call("spawn", ["id": "mid", "shell": true, "owns": ["src/m/**"],
                                                      "command": .string("until [ -f '\(hold)' ]; do sleep 0.1; done")])
        #expect(!child.isError, "\(child.text)")
        let timedOut = try await session.call("wait", ["tasks": ["mid"], "timeout_seconds": 0.3])
        #expect(timedOut.object["timed_out"] as? Bool == true, "\(timedOut.text)")
        let running = try await eventually {
            let status = try await session.call("status")
            return (status.object["tasks"] as? [[String: Any]])?.first { $0["id"] as? String == "mid" }?["state"] as? String == "running"
        }
        try #require(running)
        let mid = try await MCPSession(h, run: lead.run, task: "mid")
        let deep = try await mid.call("spawn", ["command": "true", "owns": ["src/m/x/**"]])
        #expect(deep.isError && deep.text.contains("beyond max_depth 1"), "\(deep.text)")
        await mid.close()
        FileManager.default.createFile(atPath: hold, contents: Data())
        let ok = try await session.call("wait", ["tasks": ["mid"]])
        #expect(ok.object["all_succeeded"] as? Bool == true, "\(ok.text)")
        await session.close()
        await Self.finish(h, lead)
    }

    @Test("locks and exactly-once messages through the tools; the claim returns its token")
    func locksAndMessages() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let lead = try await Self.leadRun(h)
        let session = try await MCPSession(h, run: lead.run, task: "lead")
        let locked = try await session.call("lock", ["path": "src/shared.txt", "ttl_seconds": 60])
        #expect(locked.object["acquired"] as? Bool == true, "\(locked.text)")
        let list = try await session.call("locks")
        #expect((list.json as? [[String: Any]])?.first?["path"] as? String == "src/shared.txt", "\(list.text)")
        let unlocked = try await session.call("unlock", ["path": "src/shared.txt"])
        #expect(unlocked.object["released"] as? Bool == true, "\(unlocked.text)")

        let sent = try await session.call("send", ["to": "role:reviewer", "body": "file X is ready"])
        #expect(!sent.isError, "\(sent.text)")
        let claimed = try await session.call("claim", ["role": "reviewer"])
        let message = try #require(claimed.object["message"] as? [String: Any], "\(claimed.text)")
        #expect(message["body"] as? String == "file X is ready")
        let token = try #require(message["token"] as? String)
        let again = try await session.call("claim", ["role": "reviewer"])
        #expect(again.object["message"] is NSNull, "claimed once: \(again.text)")
        let acked = try await session.call("ack", ["token": .string(token)])
        #expect(acked.object["acked"] as? Bool == true, "\(acked.text)")
        let twice = try await session.call("ack", ["token": .string(token)])
        #expect(twice.isError && twice.text.contains("not current"), "\(twice.text)")
        await session.close()
        await Self.finish(h, lead)
    }

    @Test("outside a run spawn and wait refuse clearly; plan, run and status work")
    func outsideARun() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("w.yml", """
            name: top-level
            sandbox: none
            tasks:
              hello:
                command: echo hello-from-mcp
            """)
        try await h.commitAll()
        let session = try await MCPSession(h, run: nil, task: nil)
        for tool in ["spawn", "wait"] {
            let answer = try await session.call(tool, tool == "spawn" ? ["command": "true"] : [:])
            #expect(answer.isError && answer.text.contains("only inside a muster task"), "\(answer.text)")
        }
        let bad = try await session.call("plan", ["spec": "name: x\ntasks:\n  a:\n    comand: true\n"])
        #expect(bad.isError && bad.text.contains("comand"), "\(bad.text)")
        let plan = try await session.call("plan", ["path": "w.yml"])
        #expect(plan.object["task_count"] as? Int == 1, "\(plan.text)")
        let started = try await session.call("run", ["path": "w.yml"])
        let run = try #require(started.object["run"] as? String, "\(started.text)")
        let done = try await eventually(timeout: 60) {
            let status = try await session.call("status", ["run": .string(run)])
            return status.object["status"] as? String == "succeeded"
        }
        #expect(done)
        let logs = try await session.call("logs", ["run": .string(run), "task": "hello"])
        #expect((logs.object["output"] as? String)?.contains("hello-from-mcp") == true, "\(logs.text)")
        // The run went through WorkflowRunner in the server: its end as `muster run --json` prints it, and DONE.
        let report = try #require(started.object["report"] as? String, "\(started.text)")
        let reported = try await eventually(timeout: 30) {
            let data = FileManager.default.contents(atPath: report) ?? Data()
            return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["status"] as? String == "succeeded"
        }
        #expect(reported, "no end written to \(report)")
        #expect(FileManager.default.fileExists(atPath: h.path(".muster/runs/\(run)/DONE")))
        await session.close()
    }

    @Test("run: rehearse starts the model stub with the run; bad flags are tool errors")
    func runRehearsesAndChecksItsFlags() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("w.yml", "name: rehearsed\nsandbox: none\ntasks:\n  hello:\n    command: echo hi\n")
        try await h.commitAll()
        let session = try await MCPSession(h, run: nil, task: nil)
        let both = try await session.call("run", ["path": "w.yml", "rehearse": true, "simulate": true])
        #expect(both.isError && both.text.contains("pick one"), "\(both.text)")
        let text = try await session.call("run", ["path": "w.yml", "rehearse": "yes"])
        #expect(text.isError && text.text.contains("`rehearse` must be true or false"), "\(text.text)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/muster.db")), "a refused run records nothing")
        let started = try await session.call("run", ["path": "w.yml", "rehearse": true])
        let run = try #require(started.object["run"] as? String, "\(started.text)")
        let done = try await eventually(timeout: 60) {
            try await session.call("status", ["run": .string(run)]).object["status"] as? String == "succeeded"
        }
        #expect(done)
        #expect(h.read(".muster/runs/\(run)/events.jsonl").contains("\"kind\":\"run.rehearsal\""), "the run was not recorded as rehearsed")
        await session.close()
    }
}
