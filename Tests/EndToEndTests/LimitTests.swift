import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// `muster throttle`: many processes, one limit shared through the store.
@Suite(.serialized) struct LimitTests {
    /// The seed's scenario, scaled down: 15 processes hammer one shared 600-a-minute limit (10 a second,
    /// a bucket of 10) as fast as they can for a few seconds. In any one second the commands that ran
    /// must stay within the rate plus one bucket's burst (20), and every process must get turns.
    @Test func fifteenProcessesShareOneRateLimit() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        // Create the store first, so the measured turns are not the ones racing to make its schema.
        let warm = try await h.musterArgs(["throttle", "--store", store, "--limit", "warmup", "--rpm", "600", "--", "true"])
        #expect(warm.status == 0, "\(warm.stderr)")

        let seconds = 4
        let deadline = Int(Date().timeIntervalSince1970) + 1 + seconds
        let loop = """
            while [ "$(date +%s)" -lt \(deadline) ]; do
              "$MUSTER" throttle --store "$STORE" --limit api --rpm 600 -- sh -c 'echo "$0 $(date +%s.%N)" >> log' "$ID" || exit 1
            done
            """
        let processes = try (0..<15).map { id in
            try Command.start("/bin/sh", ["-c", loop], in: h.root,
                              environment: ["MUSTER": TestRepository.muster, "STORE": store, "ID": "p\(id)"],
                              stderr: h.path("err.\(id)"))
        }
        for (id, process) in processes.enumerated() {
            #expect(await process.exited() == .exited(0), "process \(id) failed: \(h.read("err.\(id)"))")
        }

        let turns = h.lines("log").compactMap { line -> (String, Double)? in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let t = Double(parts[1]) else { return nil }
            return (String(parts[0]), t)
        }
        let times = turns.map(\.1).sorted()
        var busiest = 0, start = 0
        for end in times.indices {
            while times[end] - times[start] >= 1 { start += 1 }
            busiest = max(busiest, end - start + 1)
        }
        let perProcess = Dictionary(grouping: turns, by: \.0).mapValues(\.count)
        print("throttle: \(turns.count) turns in ~\(seconds) s, busiest second \(busiest), per process \(perProcess.values.sorted())")
        // The property under test: rate (10) + burst (10). `date` runs a moment after the grant, so a turn
        // can be recorded a little late (more so on a loaded machine): allow 5 of slack, never anything like 15 × 10.
        #expect(busiest <= 25, "\(busiest) commands ran within one second under a limit of 10 a second (burst 10)")
        #expect(perProcess.count == 15, "starved: only \(perProcess.count) of 15 processes got a turn: \(perProcess)")
        #expect(turns.count >= 15)
    }

    @Test func throttleRelaysOutputAndExitStatus() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        let echo = try await h.musterArgs(["throttle", "--store", store, "--limit", "k", "--rpm", "60", "--concurrent", "1", "--", "echo", "a b", "$HOME"])
        #expect(echo.status == 0 && echo.stdout == "a b $HOME\n", "argv must pass through without a shell: \(echo.stdout) \(echo.stderr)")
        let failing = try await h.musterArgs(["throttle", "--store", store, "--limit", "k", "--concurrent", "1", "--", "sh", "-c", "exit 7"])
        #expect(failing.status == 7, "exit status not relayed: \(failing.status)")
        // The slot was released each time: a concurrency of 1 lets the next one through at once.
        let next = try await h.musterArgs(["throttle", "--store", store, "--limit", "k", "--concurrent", "1", "--max-wait", "2s", "--", "true"])
        #expect(next.status == 0, "slot not released: \(next.stderr)")
    }

    @Test func zeroOrNegativeLimitsAreRefused() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        for bad in [["--rpm", "0"], ["--concurrent=-2"], ["--tokens", "0"], []] {
            let result = try await h.musterArgs(["throttle", "--store", store, "--limit", "k"] + bad + ["--", "true"])
            #expect(result.status == 2, "\(bad) accepted")
            #expect(result.stderr.contains("--rpm") || result.stderr.contains("--concurrent") || result.stderr.contains("--tokens"),
                    "unclear: \(result.stderr)")
        }
        let missing = try await h.musterArgs(["throttle", "--store", store, "--limit", "k", "--rpm", "5", "--", "no-such-command-xyz"])
        #expect(missing.status == 2 && missing.stderr.contains("no-such-command-xyz"))
    }

    /// A 429 one run's task hits cools the key down for every process on the store: a second `muster run`
    /// started during the cool-down does not start its task before the cool-down's end. Asserted on
    /// the store's timestamps (and the task's own clock), never on durations.
    @Test func aCooldownIsSharedByEveryRunOnTheStore() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let header = """
            isolation: none
            limits:
              api: {requests_per_minute: 600}
            """
        // Two 429s in a row: the second cool-down is ~2 s (1.5 to 2.5 with jitter), time enough to start run b inside it.
        try h.write("a.yml", """
            name: a
            agent: sim
            \(header)
            tasks:
              call:
                prompt: "call the API"
                uses: [api]
                retries: 0
                env: {MUSTER_SIM_RATE_LIMIT_ATTEMPTS: 2}
            """)
        try h.write("b.yml", """
            name: b
            \(header)
            tasks:
              call:
                command: [date, "+%s.%N"]
                uses: [api]
            """)
        #expect(try await h.muster("plan", "a.yml").status == 0)
        let a = try h.start(["run", "a.yml", "--speed", "60"])
        // Wait for the second cool-down (the store is created by run a).
        let path = h.path(".muster/muster.db")
        var second: Cooldown?
        _ = try await eventually(timeout: 60) {
            guard FileManager.default.fileExists(atPath: path), let store = try? SQLiteStore(path: path),
                  let active = try? await store.cooldown(key: "api", now: Date()), active.attempt >= 2 else { return false }
            second = active
            return true
        }
        let during = try #require(second, "run a never started its second cool-down")
        let b = try h.start(["run", "b.yml"])
        #expect(await a.exited() == .exited(0))
        #expect(await b.exited() == .exited(0))

        let store = try SQLiteStore(path: path)
        let cooldown = try #require(try await store.cooldown(key: "api", now: Date(timeIntervalSince1970: 0)))
        #expect(cooldown.until == during.until, "the cool-down changed after run b started")
        let runs = try await store.runs(limit: 10)
        let runA = try #require(runs.first { $0.name == "a" }), runB = try #require(runs.first { $0.name == "b" })
        let taskA = try #require(try await store.task(run: runA.id, id: "call"))
        let taskB = try #require(try await store.task(run: runB.id, id: "call"))
        #expect(taskA.state == .succeeded && taskA.attempt == 3 && taskA.failures == 0, "two 429s spent no retry (retries: 0)")
        #expect(runB.createdAt < cooldown.until, "run b was recorded after the cool-down ended: nothing was tested")
        #expect(try #require(taskB.startedAt) >= cooldown.until, "run b's task started \(taskB.startedAt!) before the cool-down's end \(cooldown.until)")
        let printed = try #require(Double(taskB.summary ?? ""), "run b's task printed \(taskB.summary ?? "nothing")")
        #expect(printed >= cooldown.until.timeIntervalSince1970, "run b's task ran at \(printed), before \(cooldown.until.timeIntervalSince1970)")
        let eventsA = try await store.events(run: runA.id, after: 0, limit: 1000)
        #expect(eventsA.filter { $0.kind == "limit.cooldown" }.count == 2)
        #expect(eventsA.filter { $0.kind == "task.retry" }.allSatisfy { $0.message.contains("without spending a retry") })
    }

    /// `[limits.NAME]` and `[resources]` in muster.toml: `throttle --limit NAME` alone takes their figures,
    /// and a workflow may use them without declaring them.
    @Test func musterTomlLimitsServeThrottleAndWorkflows() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("muster.toml", """
            [limits.api]
            requests_per_minute = 600
            concurrent = 1

            [resources]
            db = 2
            """)
        let throttled = try await h.muster("throttle", "--limit", "api", "--max-wait", "5s", "--", "echo", "through")
        #expect(throttled.status == 0 && throttled.stdout == "through\n", "\(throttled.stderr)")
        let pool = try await h.muster("throttle", "--limit", "db", "--max-wait", "5s", "--", "true")
        #expect(pool.status == 0, "\(pool.stderr)")
        let unknown = try await h.muster("throttle", "--limit", "other", "--", "true")
        #expect(unknown.status == 2 && unknown.stderr.contains("--rpm") && unknown.stderr.contains("[limits.other]")
                && unknown.stderr.contains("api, db"), "\(unknown.stderr)")

        try h.write("wf.yml", """
            name: toml
            isolation: none
            resources:
              db: 1
            tasks:
              t:
                command: [echo, ok]
                uses: [api, db]
            """)
        let run = try await h.muster("run", "wf.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let status = try #require(try await h.muster("status", id, "--json").json() as? [String: Any])
        let limits = try #require(status["limits"] as? [String: [String: Any]])
        #expect(limits["api"]?["requests_per_minute"] as? Int == 600 && limits["api"]?["concurrent"] as? Int == 1)
        #expect(limits["db"]?["concurrent"] as? Int == 1 && limits["db"]?["kind"] as? String == "resource", "the spec's pool wins")
    }

    @Test func badLimitsInMusterTomlNameTheLine() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("wf.yml", "name: w\nisolation: none\ntasks:\n  t:\n    command: [echo]\n")
        let cases: [(String, String, String)] = [
            ("[limits.api]\nrequests_per_minute = 0\n", "muster.toml:2:23: error: `limits.api.requests_per_minute` must be more than 0", "positive whole number"),
            ("[limits.api]\nrequest_per_minute = 5\n", "muster.toml:2:1: error: unknown key `request_per_minute` in limit `api`", "did you mean `requests_per_minute`?"),
            ("[limits.api]\nconcurrent = 1.5\n", "muster.toml:2:14: error: `limits.api.concurrent` must be a whole number", "e.g. `50`"),
            ("[limits.db]\nconcurrent = 2\n\n[resources]\ndb = 3\n", "muster.toml:5:1: error: `db` is both a limit and a resource", "keep one"),
        ]
        for (toml, message, fix) in cases {
            try h.write("muster.toml", toml)
            let plan = try await h.muster("plan", "wf.yml")
            #expect(plan.status == 2, "\(toml) accepted")
            #expect(plan.stderr.contains(message) && plan.stderr.contains(fix), "\(plan.stderr)")
        }
    }
}
