import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// kill -9 of `muster run` at any moment, then `muster resume`: nothing lost, nothing that
/// succeeded runs again, and orphaned agents are stopped before their tasks run again.
@Suite struct CrashSafetyTests {
    static func inFlight(_ h: TestRepository, run: String) async throws -> Set<String> {
        let status = try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
        let tasks = try #require(status["tasks"] as? [[String: Any]])
        return Set(tasks.filter { $0["state"] as? String == "running" }.compactMap { $0["id"] as? String })
    }

    static func newestRun(_ h: TestRepository) async throws -> String? {
        guard FileManager.default.fileExists(atPath: h.path(".muster/muster.db")) else { return nil }
        return (try? await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String
    }

    /// Killed at once (-1), as soon as the run is recorded (0), or once that many tasks finished:
    /// moments chosen by polling what the run did, not by sleeping.
    @Test(arguments: [-1, 0, 6, 18])
    func killNineThenResumeLosesNothingAndRerunsOnlyInFlightTasks(_ finishedBeforeKill: Int) async throws {
        let h = try await TestRepository()
        let counter = h.path("counter")
        let items = (1...30).map(String.init).joined(separator: ", ")
        try h.write("crash.yml", """
            name: crash
            concurrency: 6
            sandbox: none  # the tasks count their runs in a file of the checkout
            tasks:
              work:
                foreach: {items: [\(items)]}
                shell: true
                command: "sleep 0.15; echo {{task.id}} >> \(counter)"
              total:
                needs: [work]
                shell: true
                command: "echo total >> \(counter)"
            """)
        let process = try h.start(["run", "crash.yml"])
        if finishedBeforeKill == 0 {
            #expect(try await eventually { try await Self.newestRun(h) != nil })
        } else if finishedBeforeKill > 0 {
            #expect(try await eventually(timeout: 300) { h.lines("counter").count >= finishedBeforeKill })
        }
        process.signal(SIGKILL)
        _ = await process.exited()
        guard let run = try await Self.newestRun(h) else {
            // Killed before the run was recorded: then nothing may have started.
            #expect(h.lines("counter").isEmpty, "tasks ran for a run that was never recorded")
            return
        }
        let inFlight = try await Self.inFlight(h, run: run)
        let resumed = try await h.muster("resume", run, "--json")
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        let ids = h.lines("counter")
        let expected = Set((1...30).map { "work.\($0)" } + ["total"])
        #expect(Set(ids) == expected, "every task must run: missing \(expected.subtracting(ids))")
        var seen: [String: Int] = [:]
        for id in ids { seen[id, default: 0] += 1 }
        let twice = Set(seen.filter { $0.value > 1 }.keys)
        #expect(twice.isSubset(of: inFlight), "ran twice though not in flight at the kill: \(twice.subtracting(inFlight))")
        #expect(seen.values.allSatisfy { $0 <= 2 })
    }

    /// Tasks running in the newest run (nil: none recorded yet, or the store is busy).
    static func inFlightCount(_ h: TestRepository) async throws -> Int? {
        guard let run = try? await newestRun(h) else { return nil }
        return try? await inFlight(h, run: run).count
    }

    @Test func orphanedAgentsAreStoppedBeforeTheirTasksRunAgain() async throws {
        let h = try await TestRepository()
        try FileManager.default.createDirectory(atPath: h.path("locks"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: h.path("ready"), withIntermediateDirectories: true)
        // Each task holds a lock folder while it runs: a second copy running at the same time finds it taken.
        // `sleep & wait`: TERM runs the trap at once (sh would report a foreground sleep killed by TERM on
        // stderr, a pipe to the dead orchestrator, and die of SIGPIPE before its trap).
        try h.write("long.yml", """
            name: long
            concurrency: 4
            sandbox: none  # unsandboxed agents, to leave orphans behind (a sandbox dies with its orchestrator)
            tasks:
              hold:
                foreach: {items: [a, b, c, d]}
                shell: true
                command: |
                  lock=\(h.path("locks"))/{{task.id}}
                  mkdir "$lock" || echo {{task.id}} >> \(h.path("doubles"))
                  trap 'rmdir "$lock"; exit 143' TERM
                  touch \(h.path("ready"))/{{task.id}}
                  while [ ! -f \(h.path("gate")) ]; do sleep 0.05 & wait; done
                  rmdir "$lock"
                  echo {{task.id}} >> \(h.path("finished"))
            """)
        let process = try h.start(["run", "long.yml"])
        #expect(try await eventually { try await Self.inFlightCount(h) == 4 })
        // Every task has taken its lock and set its trap.
        #expect(try await eventually { ((try? FileManager.default.contentsOfDirectory(atPath: h.path("ready"))) ?? []).count == 4 })
        process.signal(SIGKILL)
        _ = await process.exited()
        let run = try #require(try await Self.newestRun(h))
        // The orphans run until the gate opens: only the resumed orchestrator can stop them.
        let resume = try h.spawn(TestRepository.muster, ["resume", run, "--grace", "10"], stderr: h.path("resume.err"))
        let log = ".muster/runs/\(run)/events.jsonl"
        let stopped = try await eventually(timeout: 60) { h.read(log).contains("run.orphans_stopped") }
        #expect(stopped, "the resumed orchestrator did not stop the orphans")
        try h.write("gate", "")
        let resumed = await resume.exited()
        #expect(resumed == .exited(0), "\(h.read("resume.err"))")
        #expect(h.read("doubles").isEmpty, "two copies of a task ran at once: \(h.read("doubles"))")
        #expect(h.lines("finished").sorted() == ["hold.a", "hold.b", "hold.c", "hold.d"],
                "each task finishes exactly once (the orphans were stopped): \(h.lines("finished"))")
        let events = h.read(log)
        #expect(events.contains("run.orphans_stopped"))
    }

    @Test func ctrlCStopsEveryAgentAndLeavesTheRunResumable() async throws {
        let h = try await TestRepository()
        try h.write("slow.yml", """
            name: slow
            concurrency: 3
            tasks:
              nap:
                foreach: {items: [1, 2, 3, 4, 5]}
                shell: true
                command: "trap '' TERM; sleep 30.271 & sleep 30.271; echo never"
            """)
        let process = try h.start(["run", "slow.yml", "--grace", "0.5"])
        #expect(try await eventually { try await Self.inFlightCount(h) == 3 })
        let run = try #require(try await Self.newestRun(h))
        process.signal(SIGINT)
        #expect(await process.exited() == .exited(130))
        let status = try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
        #expect(status["status"] as? String == "cancelled")
        let tasks = try #require(status["tasks"] as? [[String: Any]])
        #expect(tasks.allSatisfy { $0["state"] as? String == "cancelled" })
        // Their process groups are gone, even though they ignored SIGTERM.
        let left = try await Command.run("/usr/bin/env", ["pgrep", "-f", "-a", "sleep 30.271"], in: h.root).stdout
        #expect(!left.contains("sleep 30.271"), "agent processes survived Ctrl-C: \(left)")
    }
}
