import Foundation
import MusterCore
import MusterStore
import Testing

/// What the agent reported (model, refused calls, `denied`, partial usage) survives the store, and
/// a task without any reads back as nil.
@Suite struct AgentFactsStoreTests {
    @Test func agentFactsRoundTripAndShowTheDeniedState() async throws {
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        let tasks = ["a", "b"].map { PlannedTask(id: $0, group: $0, agent: "claude", prompt: "p") }
        try await store.createRun(NewRun(id: "r", workflow: Workflow(name: "r", concurrency: 2, tasks: []), specPath: "r.yml",
                                         root: "/tmp", concurrency: 2, simulate: false, createdAt: Date()), tasks: tasks)
        let claimed = try await store.claim(run: "r", holder: "h", limit: 2, leaseSeconds: 60, now: Date())
        #expect(claimed.count == 2)
        var denied = TaskOutcome(task: "a", attempt: 1, result: .failed(retryAt: nil), error: "denied: …")
        denied.agentFacts = AgentFacts(model: "claude-opus-5-5", denials: [PermissionDenial(tool: "Write", input: "/tmp/x")],
                                       denied: true, usagePartial: false)
        let plain = TaskOutcome(task: "b", attempt: 1, result: .succeeded)
        _ = try await store.finish(run: "r", holder: "h", [denied, plain], now: Date())
        let a = try #require(try await store.task(run: "r", id: "a"))
        #expect(a.agentFacts == denied.agentFacts)
        #expect(a.state == .failed && a.shownState == "denied")
        let b = try #require(try await store.task(run: "r", id: "b"))
        #expect(b.agentFacts == nil && b.shownState == "succeeded")
    }
}
