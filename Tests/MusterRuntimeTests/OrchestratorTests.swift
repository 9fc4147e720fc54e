import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Synchronization
import Testing
@testable import MusterRuntime

/// The orchestrator through the library API: real processes, a real SQLite store, temp folders.
@Suite struct OrchestratorTests {
    struct Fixture {
        let folder: TemporaryFolder
        var root: URL { folder.url }
        let store: SQLiteStore
        var workspace: Workspace { Workspace(root: root, isGitRepository: false) }

        init() throws {
            folder = try TemporaryFolder("orch")
            store = try SQLiteStore(path: folder.appending(".muster/muster.db").path)
        }

        /// Plans `yaml`, records the run and executes it to the end.
        func run(_ yaml: String, concurrency: Int? = nil, configure: (inout RunOptions) -> Void = { _ in }) async throws -> (RunOutcome, [String: TaskRecord]) {
            let loaded = try WorkflowLoader.parse(yaml, file: "test.yml")
            let plan = try Planner.plan(loaded, root: root, concurrency: concurrency)
            let id = try await RunFactory.create(plan: plan, specPath: "test.yml", workspace: workspace, store: store,
                                                 concurrency: plan.concurrency, simulate: false)
            var options = RunOptions(concurrency: plan.concurrency)
            options.grace = .milliseconds(500)
            configure(&options)
            let outcome = try await Orchestrator(store: store, workspace: workspace, storePath: store.path, run: id, options: options).execute()
            let tasks = try await store.tasks(run: id)
            return (outcome, Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0) }))
        }

        func file(_ name: String) -> String { root.appendingPathComponent(name).path }
        func lines(_ name: String) -> [String] {
            ((try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    @Test func fanOutThenFanInSeesEveryResult() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: mr
            concurrency: 3
            tasks:
              map:
                foreach: {items: [a, b, c, d, e]}
                command: ["echo", "result-{{item}}"]
              reduce:
                needs: [map]
                command: ["printf", "%s", "{{needs.map.summaries}}"]
            """)
        #expect(outcome.status == .succeeded)
        #expect(outcome.counts[.succeeded] == 6)
        let reduce = try #require(tasks["reduce"])
        for item in ["a", "b", "c", "d", "e"] {
            #expect(reduce.summary?.contains("result-\(item)") == true)
            #expect(reduce.summary?.contains("tasks/map.\(item)/result.md") == true, "summaries point at the full result")
        }
        #expect(tasks["map.a"]?.startedAt ?? .distantFuture < reduce.startedAt ?? .distantPast)
    }

    @Test func concurrencyIsReachedButNeverExceeded() async throws {
        let f = try Fixture()
        let log = f.file("spans")
        let (outcome, _) = try await f.run("""
            name: bound
            concurrency: 3
            tasks:
              w:
                foreach: {items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
                shell: true
                command: "echo + >> \(log); sleep 0.15; echo - >> \(log)"
            """)
        #expect(outcome.status == .succeeded)
        var live = 0, peak = 0
        for line in f.lines("spans") {
            live += line == "+" ? 1 : -1
            peak = max(peak, live)
        }
        #expect(peak == 3, "peak concurrency \(peak), want exactly 3")
    }

    @Test func retriesWithBackoffUntilSuccess() async throws {
        let f = try Fixture()
        let counter = f.file("attempts")
        let (outcome, tasks) = try await f.run("""
            name: flaky
            backoff: {initial: 50ms, max: 200ms}
            tasks:
              flaky:
                shell: true
                command: "echo x >> \(counter); [ $(wc -l < \(counter)) -ge 3 ]"
                retries: 3
            """)
        #expect(outcome.status == .succeeded)
        #expect(f.lines("attempts").count == 3)
        #expect(tasks["flaky"]?.attempt == 3)
        #expect(tasks["flaky"]?.failures == 2)
    }

    @Test func retriesRunOutAndTheTaskFails() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: nope
            backoff: {initial: 20ms, max: 50ms}
            tasks:
              nope:
                command: ["false"]
                retries: 2
            """)
        #expect(outcome.status == .failed)
        #expect(tasks["nope"]?.state == .failed)
        #expect(tasks["nope"]?.attempt == 3)
        #expect(tasks["nope"]?.error?.contains("exit status 1") == true)
    }

    @Test func onFailureStopStartsNothingNew() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: stop
            concurrency: 1
            on_failure: stop
            tasks:
              bad:
                command: ["false"]
              later:
                command: ["true"]
            """)
        #expect(outcome.status == .failed)
        #expect(tasks["bad"]?.state == .failed)
        #expect(tasks["later"]?.state == .skipped)
        #expect(tasks["later"]?.attempt == 0)
    }

    @Test func onFailureContinueSkipsOnlyDependents() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: cont
            concurrency: 1
            on_failure: continue
            tasks:
              bad:
                command: ["false"]
              child:
                needs: [bad]
                command: ["true"]
              grandchild:
                needs: [child]
                command: ["true"]
              independent:
                command: ["true"]
            """)
        #expect(outcome.status == .failed)
        #expect(tasks["independent"]?.state == .succeeded)
        #expect(tasks["child"]?.state == .skipped)
        #expect(tasks["grandchild"]?.state == .skipped)
    }

    // The stopped tasks run until they are stopped (`sleep infinity`): the check sees the stop, and
    // no margin of seconds stands in for it. Nothing here times the stop.
    @Test func timeoutAndStallStopTheTask() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: slow
            concurrency: 2
            on_failure: continue
            tasks:
              slow:
                command: ["sleep", "infinity"]
                timeout: 300ms
              quiet:
                shell: true
                command: "echo started; exec sleep infinity"
                stall_timeout: 400ms
              chatty:
                shell: true
                command: "for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done"
                stall_timeout: 10s
            """)
        #expect(outcome.status == .failed)
        #expect(tasks["slow"]?.error?.hasPrefix("timed out after 300ms") == true)
        #expect(tasks["quiet"]?.error?.hasPrefix("stalled: no output for 400ms") == true)
        #expect(tasks["chatty"]?.state == .succeeded, "a task that keeps printing is not stalled")
        // Stopped by SIGTERM (128 + 15), not run to completion.
        #expect(tasks["slow"]?.exitCode == 143)
        #expect(tasks["quiet"]?.exitCode == 143)
    }

    /// The run's records take their time from `RunOptions.clock`, never from an inline `Date()`:
    /// a clock set in 2040 shows in every start, finish and task event.
    @Test func recordsTakeTheInjectedClock() async throws {
        let f = try Fixture()
        let base = Date(timeIntervalSince1970: 2_208_988_800)
        let ticks = Mutex(0)
        let (outcome, tasks) = try await f.run("""
            name: clocked
            tasks:
              a:
                command: ["echo", "a"]
              b:
                needs: [a]
                command: ["echo", "b"]
            """) { options in
                // A millisecond a reading: it moves forward, so leases and back-offs still make sense.
                options.clock = { base.addingTimeInterval(Double(ticks.withLock { $0 += 1; return $0 }) / 1000) }
            }
        #expect(outcome.status == .succeeded)
        for task in tasks.values {
            #expect(task.startedAt.map { $0 >= base } == true && task.finishedAt.map { $0 >= base } == true, "\(task.id)")
        }
        let events = try await f.store.events(run: outcome.run, after: 0, limit: 1000).filter { $0.task != nil }
        #expect(!events.isEmpty && events.allSatisfy { $0.at >= base }, "\(events.map { "\($0.kind) \($0.at)" })")
    }

    @Test func dynamicFanOutFromAPrintedList() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: dyn
            tasks:
              plan:
                shell: true
                command: "echo 'thinking…' >&2; echo '[\\"alpha\\", \\"beta\\", {\\"name\\": \\"gamma\\"}]'"
              work:
                foreach: {from: plan}
                command: ["echo", "did {{item}}"]
              join:
                needs: [work]
                command: ["printf", "%s", "{{needs.work.summaries}}"]
            """)
        #expect(outcome.status == .succeeded)
        #expect(tasks["work.alpha"]?.summary == "did alpha")
        #expect(tasks["work.beta"]?.summary == "did beta")
        #expect(tasks.values.contains { $0.summary == "did {\"name\":\"gamma\"}" })
        let join = try #require(tasks["join"]?.summary)
        #expect(join.contains("did alpha") && join.contains("did beta"))
    }

    @Test func dynamicFanOutRefusesOutputThatIsNotAList() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: dynbad
            tasks:
              plan:
                command: ["echo", "not json"]
              work:
                foreach: {from: plan}
                command: ["echo", "{{item}}"]
            """)
        #expect(outcome.status == .failed)
        #expect(tasks["work"]?.error?.contains("did not print a JSON list") == true)
    }

    @Test func simulatedAgentReportsTokensAndCost() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: sim
            agent: sim
            concurrency: 4
            tasks:
              scan:
                foreach: {items: [a, b, c, d]}
                prompt: "Audit {{item}}"
                estimate: {minutes: 1, input_tokens: 2000, output_tokens: 500}
            """) { $0.simulationSpeed = 600 }
        #expect(outcome.status == .succeeded)
        #expect(outcome.counts.tokens.input == 8000 && outcome.counts.tokens.output == 2000)
        // claude-opus-4-8: 2,000 × $5/M + 500 × $25/M = $0.0225 per task.
        #expect(abs(outcome.counts.costUSD - 0.09) < 1e-9)
        #expect(tasks["scan.a"]?.summary == "simulated scan.a for a")
        // All four ran at once: each started before any finished.
        let starts = tasks.values.compactMap(\.startedAt), ends = tasks.values.compactMap(\.finishedAt)
        #expect(starts.count == 4 && starts.max()! <= ends.min()!)
    }

    @Test func cancelRequestStopsRunningTasks() async throws {
        let f = try Fixture()
        let yaml = """
            name: cancel
            concurrency: 2
            tasks:
              w:
                foreach: {items: [1, 2, 3, 4]}
                command: ["sleep", "infinity"]
            """
        let store = f.store
        // Cancels once two tasks run (the tasks run until stopped: only the cancel ends them).
        let canceller = Task {
            let seen = try await eventually(timeout: 120) {
                guard let run = try await store.runs(limit: 1).first else { return false }
                return try await store.counts(run: run.id)[.running] == 2
            }
            // Cancelled even when it was not seen, so a failing test ends instead of hanging.
            if let run = try await store.runs(limit: 1).first { try await store.requestCancel(run.id, now: Date()) }
            return seen
        }
        let (outcome, tasks) = try await f.run(yaml)
        #expect(try await canceller.value, "two tasks never ran at once")
        #expect(outcome.status == .cancelled)
        #expect(tasks.values.allSatisfy { $0.state == .cancelled })
        #expect(tasks.values.filter { $0.attempt == 1 }.allSatisfy { $0.exitCode == 143 }, "running ones were stopped by SIGTERM")
    }

    /// Each sim task is estimated at $0.0225 (2,000 in + 500 out on claude-opus-4-8). One at a
    /// time against $0.05: after two, $0.045 is spent and a third starts; while it runs, spent plus
    /// its estimate ($0.0675) reaches the budget, so nothing more starts.
    @Test func budgetStopsDispatchAndLetsRunningTasksFinish() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: budget
            agent: sim
            concurrency: 1
            isolation: none
            budget: {usd: 0.05}
            tasks:
              scan:
                foreach: {items: [a, b, c, d, e, f, g, h]}
                prompt: "Audit {{item}}"
                estimate: {minutes: 0.5, input_tokens: 2000, output_tokens: 500}
            """) { $0.simulationSpeed = 60 }
        #expect(outcome.status == .failed)
        #expect(outcome.counts[.succeeded] == 3)
        #expect(outcome.counts[.skipped] == 5)
        #expect(tasks["scan.d"]?.error == "not started: the budget was reached")
        let events = try await f.store.events(run: outcome.run, after: 0, limit: 1000)
        #expect(events.contains { $0.kind == "budget.exceeded" && $0.message.contains("$0.05") })
    }

    @Test func hardBudgetStopsRunningTasks() async throws {
        let f = try Fixture()
        let (outcome, tasks) = try await f.run("""
            name: hard
            agent: sim
            concurrency: 4
            isolation: none
            tasks:
              scan:
                foreach: {items: [a, b, c, d, e, f]}
                prompt: "Audit {{item}}"
                estimate: {minutes: 10, input_tokens: 2000, output_tokens: 500}
            """) {
                $0.budgetUSD = 0.01
                $0.budgetHard = true
                $0.simulationSpeed = 10
            }
        #expect(outcome.status == .failed)
        #expect(tasks.values.filter { $0.attempt == 1 }.allSatisfy { $0.state == .cancelled && $0.exitCode == 143 })
        #expect(tasks.values.filter { $0.attempt == 0 }.allSatisfy { $0.state == .skipped })
    }
}
