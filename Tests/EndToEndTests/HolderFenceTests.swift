import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// One holder per run (issue 11, findings 4 and 5): an orchestrator suspended past its lease keeps
/// its tasks when nobody took over and stops without touching them when someone did; of two
/// `muster resume` started together exactly one orchestrates.
@Suite struct HolderFenceTests {
    static func status(_ h: TestRepository, _ run: String) async throws -> [String: Any] {
        try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
    }

    static func runStatus(_ h: TestRepository, _ run: String) async -> String? {
        (try? await status(h, run))?["status"] as? String
    }

    /// `+ TASK ATTEMPT` when a task starts, `- TASK ATTEMPT` when it ends; it waits for the file
    /// `go` (every task) or `go-TASK` (that one).
    static func spec(_ h: TestRepository, concurrency: Int, items: [String]) throws {
        try h.write("w.yml", """
            name: fence
            concurrency: \(concurrency)
            sandbox: none  # the tasks' shared log and gates are in the checkout, read-only in a sandbox
            tasks:
              work:
                foreach: {items: [\(items.joined(separator: ", "))]}
                shell: true
                command: |
                  echo "+ $MUSTER_TASK_ID $MUSTER_ATTEMPT" >> \(h.path("log"))
                  while [ ! -f \(h.path("go")) ] && [ ! -f \(h.path("go"))-$MUSTER_TASK_ID ]; do sleep 0.05; done
                  echo "- $MUSTER_TASK_ID $MUSTER_ATTEMPT" >> \(h.path("log"))
            """)
    }

    static func lines(_ h: TestRepository, _ sign: String) -> [String] {
        h.lines("log").filter { $0.hasPrefix(sign + " ") }.map { String($0.dropFirst(2)) }
    }

    static func newestRun(_ h: TestRepository) async throws -> String {
        let runs = try #require(try await h.muster("runs", "--json").json() as? [[String: Any]])
        return try #require(runs.first?["run"] as? String)
    }

    @Test func suspendedPastItsLeaseWithNobodyTakingOverItKeepsItsTasks() async throws {
        let h = try await TestRepository()
        try Self.spec(h, concurrency: 4, items: ["a", "b", "c"])
        let orchestrator = try Command.start(TestRepository.muster, ["run", "w.yml", "--lease", "2"], in: h.root,
                                             stdout: h.path("run.out"), stderr: h.path("run.err"))
        #expect(try await eventually(timeout: 60) { Self.lines(h, "+").count == 3 }, "the tasks never started")
        let run = try await Self.newestRun(h)
        orchestrator.signal(SIGSTOP)
        // One task ends while it is stopped: on waking, its exit is the first thing the loop sees,
        // with free slots to fill and the other tasks' leases lapsed.
        try h.write("go-work.c", "")
        #expect(try await eventually(timeout: 60) { Self.lines(h, "-") == ["work.c 1"] }, "task c never ended")
        // Stopped (alive, silent) past its lease: status says so and suggests a resume.
        #expect(try await eventually(timeout: 60) { await Self.runStatus(h, run) == "interrupted" }, "lease never seen lapsed")
        orchestrator.signal(SIGCONT)
        // It renews (nobody took over) before it judges or kills anything.
        #expect(try await eventually(timeout: 60) { await Self.runStatus(h, run) == "running" }, "the woken orchestrator did not renew")
        try h.write("go", "")
        let exit = await orchestrator.exited()
        #expect(exit.code == 0, "run: \(exit) \(h.read("run.err"))")
        let started = Self.lines(h, "+"), ended = Self.lines(h, "-")
        #expect(started.sorted() == ["a 1", "b 1", "c 1"].map { "work.\($0)" }, "each task must start exactly once: \(started)")
        #expect(ended.sorted() == ["a 1", "b 1", "c 1"].map { "work.\($0)" }, "each task must end exactly once: \(ended)")
        await #expect(try Self.status(h, run)["status"] as? String == "succeeded")
        let events = h.read(".muster/runs/\(run)/events.jsonl")
        #expect(events.contains("run.lease_renewed"), "no lease_renewed event")
        #expect(!events.contains("lease_lost") && !events.contains("orphans_stopped"))
    }

    @Test func takenOverWhileSuspendedItStopsWithoutTouchingTheNewHoldersTasks() async throws {
        let h = try await TestRepository()
        try Self.spec(h, concurrency: 2, items: ["a", "b", "c"])
        let first = try Command.start(TestRepository.muster, ["run", "w.yml", "--lease", "2"], in: h.root,
                                      stdout: h.path("first.out"), stderr: h.path("first.err"))
        #expect(try await eventually(timeout: 60) { Self.lines(h, "+").count == 2 }, "two tasks never started")
        let run = try await Self.newestRun(h)
        first.signal(SIGSTOP)
        #expect(try await eventually(timeout: 60) { await Self.runStatus(h, run) == "interrupted" }, "lease never seen lapsed")
        let second = try Command.start(TestRepository.muster, ["resume", run, "--lease", "2"], in: h.root,
                                       stdout: h.path("second.out"), stderr: h.path("second.err"))
        // The new holder stops the first one's agents and runs their tasks again, as attempt 2.
        #expect(try await eventually(timeout: 60) { Self.lines(h, "+").filter { $0.hasSuffix(" 2") }.count == 2 },
                "the resume did not take over: \(h.read("second.err"))")
        first.signal(SIGCONT)
        let firstExit = await first.exited()
        #expect(firstExit.code == 2, "the replaced orchestrator: \(firstExit)")
        #expect(h.read("first.err").contains("taken over by pid \(second.pid)"), "message: \(h.read("first.err"))")
        // The new holder's tasks are untouched: both still running, nothing ended.
        let tasks = try await #require(try Self.status(h, run)["tasks"] as? [[String: Any]])
        #expect(tasks.filter { $0["state"] as? String == "running" }.count == 2, "the new holder's tasks: \(tasks)")
        #expect(Self.lines(h, "-").isEmpty, "a task ended before it was let go: \(Self.lines(h, "-"))")
        try h.write("go", "")
        let secondExit = await second.exited()
        #expect(secondExit.code == 0, "resume: \(secondExit) \(h.read("second.err"))")
        // Every run of a task is accounted to its own attempt: the ends recorded are the attempts the store kept.
        let final = try await #require(try Self.status(h, run)["tasks"] as? [[String: Any]])
        let recorded = final.map { "\($0["id"] as? String ?? "?") \($0["attempt"] as? Int ?? 0)" }.sorted()
        #expect(Self.lines(h, "-").sorted() == recorded, "ended \(Self.lines(h, "-")), store \(recorded)")
        var starts: [String: Int] = [:]
        for line in Self.lines(h, "+") { starts[line, default: 0] += 1 }
        #expect(starts.values.allSatisfy { $0 == 1 }, "an attempt ran twice: \(starts)")
        #expect(final.allSatisfy { $0["state"] as? String == "succeeded" })
        #expect(!h.lines("log").contains { $0.hasSuffix(" 3") }, "a third attempt ran")
    }

    @Test func twoResumesAtOnceExactlyOneOrchestrates() async throws {
        let h = try await TestRepository()
        let concurrency = 2
        try FileManager.default.createDirectory(atPath: h.path("go"), withIntermediateDirectories: true)
        // Each line names its run and attempt; a task stopped by the new holder still logs the end
        // of what it logged as started (the trap is set first, so a stop at any moment is counted).
        // Its output goes nowhere: an orphan writing to its dead orchestrator's pipe dies of SIGPIPE.
        try h.write("w.yml", """
            name: twice
            concurrency: \(concurrency)
            sandbox: none
            tasks:
              work:
                foreach: {items: [a, b, c, d, e]}
                shell: true
                command: |
                  exec >/dev/null 2>&1
                  me="$MUSTER_RUN $MUSTER_TASK_ID $MUSTER_ATTEMPT"
                  trap 'grep -qxF "+ $me" \(h.path("log")) && echo "- $me" >> \(h.path("log")); exit 143' TERM
                  echo "+ $me" >> \(h.path("log"))
                  while [ ! -f \(h.path("go"))/$MUSTER_RUN ]; do sleep 0.05; done
                  sleep 0.1
                  echo "- $me" >> \(h.path("log"))
            """)
        for round in 0..<10 {
            let killed = try h.start(["run", "w.yml"])
            var run = ""
            #expect(try await eventually(timeout: 60) {
                let mine = h.lines("log").filter { $0.hasPrefix("+ ") }.map { $0.split(separator: " ")[1] }
                let counts = Dictionary(mine.map { ($0, 1) }, uniquingKeysWith: +)
                guard let (id, n) = counts.first(where: { $0.value == concurrency }), !h.read("done").contains(id) else { return false }
                run = String(id)
                return n == concurrency
            }, "round \(round): tasks never started")
            killed.signal(SIGKILL)
            _ = await killed.exited()
            if round == 0 {
                // Its orchestrator is gone: status says so, in text and JSON, with the way out.
                await #expect(try Self.status(h, run)["status"] as? String == "interrupted")
                await #expect(try Self.status(h, run)["resume"] as? String == "muster resume \(run)")
                let text = try await h.muster("status", run)
                #expect(text.stdout.contains("interrupted") && text.stdout.contains("muster resume \(run)"), "status: \(text.stdout)")
            }
            try h.write("go/\(run)", "")
            let one = try Command.start(TestRepository.muster, ["resume", run], in: h.root, stdout: h.path("one.out"), stderr: h.path("one.err"))
            let two = try Command.start(TestRepository.muster, ["resume", run], in: h.root, stdout: h.path("two.out"), stderr: h.path("two.err"))
            let exits = [await one.exited().code, await two.exited().code]
            let errors = [h.read("one.err"), h.read("two.err")]
            #expect(exits.sorted() == [0, 2], "round \(round): exits \(exits): \(errors)")
            if let loser = exits.firstIndex(of: 2) {
                let winner = [one, two][1 - loser]
                #expect(errors[loser].contains("being orchestrated by pid \(winner.pid) on "), "round \(round): \(errors[loser])")
            }
            // Exactly counted from the tasks' own lines: never more than `concurrency` at once.
            var live = 0, most = 0
            for line in h.lines("log") where line.split(separator: " ").count == 4 && line.split(separator: " ")[1] == run {
                live += line.hasPrefix("+") ? 1 : -1
                most = max(most, live)
            }
            let mine = h.lines("log").filter { $0.contains(" \(run) ") }
            #expect(most <= concurrency, "round \(round): \(most) tasks ran at once: \(mine) \(errors)")
            #expect(live == 0, "round \(round): \(live) tasks never ended")
            await #expect(try Self.status(h, run)["status"] as? String == "succeeded", "round \(round)")
            try h.write("done", h.read("done") + run + "\n")
        }
    }
}
