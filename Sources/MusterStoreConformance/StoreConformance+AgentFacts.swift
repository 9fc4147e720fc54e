import Foundation
import MusterCore
import MusterStore

/// What the agent reported of an attempt (`AgentFacts`) survives every way a finish is applied: a
/// success on its own, a failure for good that skips dependents, a retry, and a batch mixing them.
extension StoreConformance {
    public static let agentFactsSurviveEveryFinish: Check = { store in
        try await makeRun(store, [task("ok"), task("denied"), task("after", needs: ["denied"]), task("again", retries: 1),
                                  task("plain")])
        let claimed = try await store.claim(run: "r1", holder: "h", limit: 5, leaseSeconds: 60, now: t0)
        try expect(claimed.count == 4, "claimed \(claimed.count), want 4")
        let partial = AgentFacts(model: "claude-opus-5-5", usagePartial: true)
        var ok = TaskOutcome(task: "ok", attempt: 1, result: .succeeded, summary: "done")
        ok.agentFacts = partial
        // A success alone: the store's quickest path.
        _ = try await store.finish(run: "r1", holder: "h", [ok], now: t0)
        let refused = AgentFacts(model: "claude-opus-5-5", denials: [PermissionDenial(tool: "Write", input: "/tmp/x")], denied: true)
        var denied = TaskOutcome(task: "denied", attempt: 1, result: .failed(retryAt: nil), error: "denied: Write(/tmp/x)")
        denied.agentFacts = refused
        var again = TaskOutcome(task: "again", attempt: 1, result: .failed(retryAt: t0), error: "429")
        again.agentFacts = AgentFacts(model: "m2")
        let plain = TaskOutcome(task: "plain", attempt: 1, result: .succeeded)
        // A failure for good, a retry and a success without facts in one batch.
        let report = try await store.finish(run: "r1", holder: "h", [denied, again, plain], now: t0)
        try expect(report.rejected.isEmpty && report.skipped == 1, "report \(report)")
        let tasks = Dictionary(uniqueKeysWithValues: try await store.tasks(run: "r1").map { ($0.id, $0) })
        try expect(tasks["ok"]?.agentFacts == partial, "success's facts: \(String(describing: tasks["ok"]?.agentFacts))")
        try expect(tasks["denied"]?.agentFacts == refused && tasks["denied"]?.shownState == "denied",
                   "denied task: \(String(describing: tasks["denied"]?.agentFacts)), shown \(tasks["denied"]?.shownState ?? "?")")
        try expect(tasks["again"]?.agentFacts?.model == "m2" && tasks["again"]?.state == .ready, "retried task's facts")
        try expect(tasks["plain"]?.agentFacts == nil && tasks["plain"]?.shownState == "succeeded", "a task without facts reads back nil")
        try expect(tasks["after"]?.state == .skipped, "the denied task's dependent must be skipped")
    }
}
