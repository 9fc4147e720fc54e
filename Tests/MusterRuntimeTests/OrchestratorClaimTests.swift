import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Claims the Store holds for an orchestrator that never heard of them (a network store applied a
/// claim whose reply was lost, and the claim was sent again).
@Suite struct OrchestratorClaimTests {
    /// While `a` runs (concurrency 1), `b` is claimed under the orchestrator's own holder name behind
    /// its back, as a replayed claim leaves it. The orchestrator hands `b` back at its next lease
    /// renewal, without spending a retry, and runs it once `a` is done: the run ends, each task ran
    /// once. Without the hand-back, `b` stays held forever and the run never ends.
    @Test func aClaimTheOrchestratorNeverHeardOfIsHandedBack() async throws {
        let f = try OrchestratorTests.Fixture()
        let log = f.file("ran")
        let gate = try TaskGate()
        let yaml = """
            name: ghost
            concurrency: 1
            sandbox: none  # the tasks wait at a gate file and write a log in the test's folder
            tasks:
              a:
                shell: true
                command: "echo a >> \(log); \(gate.wait)"
              b:
                shell: true
                command: "echo b >> \(log)"
            """
        let store = f.store
        let ghost = Task {
            let running = try await eventually(timeout: 120) {
                guard let run = try await store.runs(limit: 1).first, run.holder != nil else { return false }
                return try await store.task(run: run.id, id: "a")?.state == .running
            }
            let run = try #require(try await store.runs(limit: 1).first)
            defer { gate.open() }
            guard running, let holder = try await store.task(run: run.id, id: "a")?.holder else { return false }
            let claimed = try await store.claim(run: run.id, holder: holder, limit: 1, leaseSeconds: 30, now: Date())
            guard claimed.map(\.task.id) == ["b"] else { return false }
            // Handed back: `b` is ready again (or already running again, for the orchestrator).
            let handedBack = try await eventually(timeout: 60) {
                try await store.events(run: run.id, after: 0, limit: 1000).contains { $0.task == "b" && $0.kind == "task.retry" && $0.message.contains("never started") }
            }
            if !handedBack { try await store.requestCancel(run.id, now: Date()) }
            return handedBack
        }
        let (outcome, tasks) = try await f.run(yaml) { options in
            options.leaseSeconds = 0.9
        }
        #expect(try await ghost.value, "b was never handed back")
        #expect(outcome.status == .succeeded)
        #expect(tasks["b"]?.state == .succeeded && tasks["b"]?.failures == 0, "\(String(describing: tasks["b"]))")
        #expect(f.lines("ran").sorted() == ["a", "b"])
    }
}
