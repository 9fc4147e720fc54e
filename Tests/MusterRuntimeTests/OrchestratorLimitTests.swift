import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Tasks that `use` shared limits: real processes, a real SQLite store, no timing assertions.
@Suite struct OrchestratorLimitTests {
    typealias Fixture = OrchestratorTests.Fixture

    /// The most tasks alive at once, read from `+`/`-` lines each task appends as it starts and ends
    /// (appends are atomic and ordered, so the count is exact).
    static func peak(_ lines: [String]) -> Int {
        var live = 0, peak = 0
        for line in lines {
            live += line == "+" ? 1 : -1
            peak = max(peak, live)
        }
        return peak
    }

    /// Eight tasks on eight worker slots through a cap of two: never more than two alive at once, and
    /// every slot given back at the end. Once a limit's own `concurrent`, once a pool next to a rate.
    @Test(arguments: ["limits:\n  api: {concurrent: 2}", "limits:\n  api: {requests_per_minute: 6000}\nresources:\n  db: 2"])
    func aCapOfTwoNeverHasMoreThanTwoRunning(_ header: String) async throws {
        let f = try Fixture()
        let log = f.file("spans")
        let (outcome, tasks) = try await f.run("""
            name: capped
            concurrency: 8
            \(header)
            tasks:
              w:
                foreach: {items: [1, 2, 3, 4, 5, 6, 7, 8]}
                shell: true
                command: "echo + >> \(log); sleep 0.2; echo - >> \(log)"
                uses: [\(header.contains("db") ? "db, api" : "api")]
            """)
        #expect(outcome.status == .succeeded)
        #expect(tasks.count == 8 && tasks.values.allSatisfy { $0.attempt == 1 })
        #expect(f.lines("spans").count == 16)
        #expect(Self.peak(f.lines("spans")) == 2, "peak \(Self.peak(f.lines("spans"))), want exactly 2 under a cap of 2")
        let key = header.contains("db") ? "db" : "api"
        let probe = try await f.store.acquireSlot(key: key, capacity: 2, holder: "probe", leaseSeconds: 1, now: Date())
        #expect(probe == .acquired(holders: 1), "slots left held after the run: \(probe)")
    }

    /// `retries: 0`, yet the task succeeds on its second attempt: the 429 cost no retry. The cool-down
    /// is recorded, and the retry starts no earlier than its end.
    @Test func aRateLimitedTaskRetriesAfterTheCooldownWithoutSpendingARetry() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: limited
            agent: sim
            isolation: none
            limits:
              api: {requests_per_minute: 600}
            resources:
              pool: 4
            tasks:
              call:
                prompt: "call the API"
                uses: [api, pool]
                retries: 0
                env: {MUSTER_SIM_RATE_LIMIT_ATTEMPTS: 1}
                estimate: {minutes: 0.01, input_tokens: 10, output_tokens: 5}
            """) { $0.simulationSpeed = 60 }
        #expect(outcome.status == .succeeded)
        let call = try #require(tasks["call"])
        #expect(call.attempt == 2 && call.failures == 0, "attempt \(call.attempt), failures \(call.failures)")
        let events = try await f.store.events(run: outcome.run, after: 0, limit: 1000)
        let cooldowns = events.filter { $0.kind == "limit.cooldown" }
        #expect(cooldowns.count == 1 && cooldowns[0].message.hasPrefix("api: task call was rate-limited"), "\(cooldowns.map(\.message))")
        #expect(!events.contains { $0.kind == "limit.cooldown" && $0.message.hasPrefix("pool") }, "a pool is never cooled down")
        #expect(events.contains { $0.kind == "task.retry" && $0.message.contains("rate-limited: waiting for the cool-down on api")
                                  && $0.message.contains("without spending a retry") })
        // The cool-down is in the store for every process to see; the retry's process started after it ended.
        let cooldown = try #require(try await f.store.cooldown(key: "api", now: Date(timeIntervalSince1970: 0)))
        #expect(cooldown.attempt == 1)
        #expect(try #require(call.startedAt) >= cooldown.until, "attempt 2 started \(call.startedAt!) before the cool-down ended \(cooldown.until)")
        #expect(call.usage == TokenUsage(input: 10, output: 5), "the 429 attempt spent nothing; the retry its estimate")
    }

    /// A task on no limit has no shared cool-down to wait for, yet its 429 still costs no retry.
    @Test func aRateLimitedTaskOnNoLimitStillRetriesForFree() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: free
            agent: sim
            isolation: none
            tasks:
              call:
                prompt: "call the API"
                env: {MUSTER_SIM_RATE_LIMIT_ATTEMPTS: 1}
            """) { $0.simulationSpeed = 60 }
        #expect(outcome.status == .succeeded)
        #expect(tasks["call"]?.attempt == 2 && tasks["call"]?.failures == 0)
        let events = try await f.store.events(run: outcome.run, after: 0, limit: 1000)
        #expect(!events.contains { $0.kind == "limit.cooldown" })
        #expect(events.contains { $0.kind == "task.retry" && $0.message.contains("rate-limited: retrying in") })
    }

    /// Cancelling a run calls off the waits under way: waiting tasks end cancelled without starting,
    /// and no slot stays held.
    @Test func cancelCallsOffTasksWaitingForTheirLimits() async throws {
        let f = try Fixture()
        let store = f.store
        let canceller = Task {
            let seen = try await eventually(timeout: 120) {
                // One task runs, two wait for the single slot (claimed, so `running` in the store).
                guard let run = try await store.runs(limit: 1).first else { return false }
                guard try await store.counts(run: run.id)[.running] == 3 else { return false }
                return try await store.events(run: run.id, after: 0, limit: 100).contains(where: { $0.kind == "task.started" })
            }
            // Cancelled even when it was not seen, so a failing test ends instead of hanging.
            if let run = try await store.runs(limit: 1).first { try await store.requestCancel(run.id, now: Date()) }
            return seen
        }
        let (outcome, tasks) = try await f.run("""
            name: waiting
            concurrency: 3
            limits:
              api: {concurrent: 1}
            tasks:
              w:
                foreach: {items: [1, 2, 3]}
                command: ["sleep", "infinity"]
                uses: [api]
            """)
        #expect(try await canceller.value, "the tasks never ran and waited")
        #expect(outcome.status == .cancelled)
        #expect(tasks.values.allSatisfy { $0.state == .cancelled })
        let waited = tasks.values.filter { $0.pid == nil }
        #expect(waited.count == 2 && waited.allSatisfy { $0.error == "cancelled while waiting for its limits" },
                "\(tasks.values.map { "\($0.id) \($0.error ?? "")" })")
        let probe = try await store.acquireSlot(key: "api", capacity: 1, holder: "probe", leaseSeconds: 1, now: Date())
        #expect(probe == .acquired(holders: 1), "a slot stayed held: \(probe)")
    }

    /// `--simulate` spends nothing real: its tasks wait on buckets and cool-downs of their own (at the
    /// simulation's speed), so the shared `api` key other runs draw from is left alone.
    @Test func aSimulatedRunLeavesTheRealBucketsAlone() async throws {
        let f = try Fixture()
        let loaded = try WorkflowLoader.parse("""
            name: preview
            agent: claude
            isolation: none
            limits:
              api: {requests_per_minute: 60, concurrent: 3}
            tasks:
              scan:
                foreach: {items: [a, b, c]}
                prompt: "Audit {{item}}"
                uses: [api]
                env: {MUSTER_SIM_RATE_LIMIT_ATTEMPTS: 1}
                estimate: {minutes: 0.1}
            """, file: "test.yml")
        let plan = try Planner.plan(loaded, root: f.root)
        let id = try await RunFactory.create(plan: plan, specPath: "test.yml", workspace: f.workspace, store: f.store,
                                             concurrency: 3, simulate: true)
        var options = RunOptions(concurrency: 3)
        options.simulate = true
        options.simulationSpeed = 600
        let outcome = try await Orchestrator(store: f.store, workspace: f.workspace, storePath: f.store.path, run: id, options: options).execute()
        #expect(outcome.status == .succeeded && outcome.counts[.succeeded] == 3)
        let ever = Date(timeIntervalSince1970: 0)
        #expect(try await f.store.cooldown(key: "api", now: ever) == nil, "a simulated 429 cooled the real key down")
        #expect(try await f.store.cooldown(key: "simulated/\(id)/api", now: ever) != nil)
        // A bucket of 60 a minute holds one request: untouched, it grants one now.
        let api = MusterStore.RateLimit(requestsPerMinute: 60, concurrent: 1)
        #expect(try await f.store.acquireTokens(key: "api", requests: 1, tokens: 0, limit: api, now: Date()) == .granted)
    }

    /// What `sim` prints for a rate-limited attempt is read as a rate limit by each format's real parser;
    /// the attempt after the last limited one succeeds.
    @Test(arguments: AgentOutputFormat.allCases)
    func simRateLimitOutputIsRecognisedByEachParser(_ format: AgentOutputFormat) async throws {
        let task = PlannedTask(id: "t", group: "t", agent: "sim", env: [SimAgent.rateLimitAttemptsVariable: "1"],
                               estimate: Estimate(minutes: 0, inputTokens: 7, outputTokens: 3))
        let agent = SimAgent(format: format)
        let invocation = try agent.invocation(for: task, prompt: nil, context: AgentContext())
        for attempt in [1, 2] {
            var environment = ProcessInfo.processInfo.environment
            environment["MUSTER_ATTEMPT"] = String(attempt)
            let output = try await CommandRunner.run(invocation.executable, Array(invocation.arguments.dropFirst()),
                                                     in: FileManager.default.temporaryDirectory.path, environment: environment)
            let report = agent.report(stdout: output.stdout, status: output.status, task: task)
            if attempt == 1 {
                #expect(!output.succeeded && report.isError && report.rateLimited, "\(format): \(output.stdout)")
            } else {
                #expect(output.succeeded && !report.isError && !report.rateLimited, "\(format): \(output.stdout)")
            }
        }
    }
}
