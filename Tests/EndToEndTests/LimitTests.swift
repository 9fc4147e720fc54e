import Foundation
import MusterRuntime
import Testing

/// `muster throttle`: many processes, one limit shared through the store.
@Suite(.serialized) struct LimitTests {
    /// The seed's scenario, scaled down: 15 processes hammer one shared 600-a-minute limit (10 a second,
    /// a bucket of 10) as fast as they can for a few seconds. In any one second the commands that ran
    /// must stay within the rate plus one bucket's burst (20), and every process must get turns.
    @Test func fifteenProcessesShareOneRateLimit() async throws {
        let h = try Harness(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        // Create the store first, so the measured turns are not the ones racing to make its schema.
        let warm = try h.musterArgs(["throttle", "--store", store, "--limit", "warmup", "--rpm", "600", "--", "true"])
        #expect(warm.status == 0, "\(warm.stderr)")

        let seconds = 4
        let deadline = Int(Date().timeIntervalSince1970) + 1 + seconds
        let loop = """
            while [ "$(date +%s)" -lt \(deadline) ]; do
              "$MUSTER" throttle --store "$STORE" --limit api --rpm 600 -- sh -c 'echo "$0 $(date +%s.%N)" >> log' "$ID" || exit 1
            done
            """
        let processes = try (0..<15).map { id in
            try Harness.spawn("/bin/sh", ["-c", loop], in: h.root,
                              environment: ["MUSTER": Harness.muster, "STORE": store, "ID": "p\(id)"],
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

    @Test func throttleRelaysOutputAndExitStatus() throws {
        let h = try Harness(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        let echo = try h.musterArgs(["throttle", "--store", store, "--limit", "k", "--rpm", "60", "--concurrent", "1", "--", "echo", "a b", "$HOME"])
        #expect(echo.status == 0 && echo.stdout == "a b $HOME\n", "argv must pass through without a shell: \(echo.stdout) \(echo.stderr)")
        let failing = try h.musterArgs(["throttle", "--store", store, "--limit", "k", "--concurrent", "1", "--", "sh", "-c", "exit 7"])
        #expect(failing.status == 7, "exit status not relayed: \(failing.status)")
        // The slot was released each time: a concurrency of 1 lets the next one through at once.
        let next = try h.musterArgs(["throttle", "--store", store, "--limit", "k", "--concurrent", "1", "--max-wait", "2s", "--", "true"])
        #expect(next.status == 0, "slot not released: \(next.stderr)")
    }

    @Test func zeroOrNegativeLimitsAreRefused() throws {
        let h = try Harness(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let store = h.path("limits.db")
        for bad in [["--rpm", "0"], ["--concurrent=-2"], ["--tokens", "0"], []] {
            let result = try h.musterArgs(["throttle", "--store", store, "--limit", "k"] + bad + ["--", "true"])
            #expect(result.status == 2, "\(bad) accepted")
            #expect(result.stderr.contains("--rpm") || result.stderr.contains("--concurrent") || result.stderr.contains("--tokens"),
                    "unclear: \(result.stderr)")
        }
        let missing = try h.musterArgs(["throttle", "--store", store, "--limit", "k", "--rpm", "5", "--", "no-such-command-xyz"])
        #expect(missing.status == 2 && missing.stderr.contains("no-such-command-xyz"))
    }
}
