import Foundation
import MusterRuntime
import Testing

/// kill -9 of `muster run` at any moment, then `muster resume`: nothing lost, nothing that
/// succeeded runs again, and orphaned agents are stopped before their tasks run again.
@Suite struct CrashSafetyTests {
    static func inFlight(_ h: Harness, run: String) throws -> Set<String> {
        let status = try #require(try h.muster("status", run, "--json").json() as? [String: Any])
        let tasks = try #require(status["tasks"] as? [[String: Any]])
        return Set(tasks.filter { $0["state"] as? String == "running" }.compactMap { $0["id"] as? String })
    }

    static func newestRun(_ h: Harness) throws -> String? {
        guard FileManager.default.fileExists(atPath: h.path(".muster/muster.db")) else { return nil }
        return (try? h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String
    }

    @Test(arguments: [0.25, 0.6, 1.0, 1.5])
    func killNineThenResumeLosesNothingAndRerunsOnlyInFlightTasks(_ delay: Double) throws {
        let h = try Harness()
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
        usleep(useconds_t(delay * 1_000_000))
        process.signal(SIGKILL)
        _ = process.wait()
        guard let run = try Self.newestRun(h) else {
            // Killed before the run was recorded: then nothing may have started.
            #expect(h.lines("counter").isEmpty, "tasks ran for a run that was never recorded")
            return
        }
        let inFlight = try Self.inFlight(h, run: run)
        let resumed = try h.muster("resume", run, "--json")
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

    @Test func orphanedAgentsAreStoppedBeforeTheirTasksRunAgain() throws {
        let h = try Harness()
        try FileManager.default.createDirectory(atPath: h.path("locks"), withIntermediateDirectories: true)
        // Each task holds a lock folder while it runs: a second copy running at the same time finds it taken.
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
                  sleep 3 & wait
                  rmdir "$lock"
                  echo {{task.id}} >> \(h.path("finished"))
            """)
        let process = try h.start(["run", "long.yml"])
        #expect(try Harness.eventually { (try? Self.newestRun(h)).flatMap { $0 }.map { (try? Self.inFlight(h, run: $0).count) == 4 } ?? false })
        usleep(300_000)  // let every task take its lock
        process.signal(SIGKILL)
        _ = process.wait()
        let run = try #require(try Self.newestRun(h))
        let resumed = try h.muster("resume", run, "--grace", "2")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(h.read("doubles").isEmpty, "two copies of a task ran at once: \(h.read("doubles"))")
        #expect(h.lines("finished").sorted() == ["hold.a", "hold.b", "hold.c", "hold.d"],
                "each task finishes exactly once (the orphans were stopped): \(h.lines("finished"))")
        let events = h.read(".muster/runs/\(run)/events.jsonl")
        #expect(events.contains("run.orphans_stopped"))
    }

    @Test func ctrlCStopsEveryAgentAndLeavesTheRunResumable() throws {
        let h = try Harness()
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
        #expect(try Harness.eventually { (try? Self.newestRun(h)).flatMap { $0 }.map { (try? Self.inFlight(h, run: $0).count) == 3 } ?? false })
        let run = try #require(try Self.newestRun(h))
        process.signal(SIGINT)
        #expect(process.wait() == .exited(130))
        let status = try #require(try h.muster("status", run, "--json").json() as? [String: Any])
        #expect(status["status"] as? String == "cancelled")
        let tasks = try #require(status["tasks"] as? [[String: Any]])
        #expect(tasks.allSatisfy { $0["state"] as? String == "cancelled" })
        // Their process groups are gone, even though they ignored SIGTERM.
        let left = try Harness.exec("/usr/bin/env", ["pgrep", "-f", "-a", "sleep 30.271"], in: h.root).stdout
        #expect(!left.contains("sleep 30.271"), "agent processes survived Ctrl-C: \(left)")
    }
}
