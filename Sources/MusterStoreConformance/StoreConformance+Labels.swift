import Foundation
import MusterCore
import MusterStore

/// Task labels (`runs_on`): a claim hands a task only to a claimer whose labels include all of the
/// task's; a task without labels is anyone's. Checked for ready tasks, lapsed leases, spawned and
/// expanded tasks, and many claimers at once.
extension StoreConformance {
    public static let labelChecks: [(name: String, check: Check)] = [
        ("claimTakesOnlyTasksWhoseLabelsTheClaimerHas", claimTakesOnlyTasksWhoseLabelsTheClaimerHas),
        ("lapsedLabelledTaskGoesOnlyToALabelledClaimer", lapsedLabelledTaskGoesOnlyToALabelledClaimer),
        ("spawnedAndExpandedTasksKeepTheirLabels", spawnedAndExpandedTasksKeepTheirLabels),
        ("concurrentLabelledClaimsNeverCross", concurrentLabelledClaimsNeverCross),
        ("workersKeepTheirLabels", workersKeepTheirLabels),
    ]

    static func labelled(_ id: String, _ labels: [String], needs: [String] = []) -> PlannedTask {
        var planned = task(id, needs: needs)
        planned.runsOn = labels.sorted()
        return planned
    }

    public static let claimTakesOnlyTasksWhoseLabelsTheClaimerHas: Check = { store in
        try await makeRun(store, [task("plain0"), labelled("gpu", ["gpu"]), labelled("gpubig", ["gpu", "big"]),
                                  labelled("big", ["big"]), task("plain1")])
        let none = try await store.claim(run: "r1", holder: "none", labels: [], limit: 10, leaseSeconds: 60, now: t0)
        try expect(none.map(\.task.id) == ["plain0", "plain1"], "an unlabelled claimer took \(none.map(\.task.id)), want the two plain tasks")
        let other = try await store.claim(run: "r1", holder: "other", labels: ["cpu", "arm"], limit: 10, leaseSeconds: 60, now: t0)
        try expect(other.isEmpty, "a claimer with other labels took \(other.map(\.task.id))")
        let gpu = try await store.claim(run: "r1", holder: "g", labels: ["gpu"], limit: 10, leaseSeconds: 60, now: t0)
        try expect(gpu.map(\.task.id) == ["gpu"], "a gpu claimer took \(gpu.map(\.task.id)), want only `gpu` (gpubig needs big too)")
        let both = try await store.claim(run: "r1", holder: "gb", labels: ["big", "gpu", "extra"], limit: 1, leaseSeconds: 60, now: t0)
        try expect(both.map(\.task.id) == ["gpubig"], "a gpu+big claimer (limit 1) took \(both.map(\.task.id)), want gpubig first")
        let rest = try await store.claim(run: "r1", holder: "gb", labels: ["big", "gpu", "extra"], limit: 10, leaseSeconds: 60, now: t0)
        try expect(rest.map(\.task.id) == ["big"], "then \(rest.map(\.task.id)), want big")
        let records = try await store.tasks(run: "r1")
        try expect(records.allSatisfy { $0.state == .running }, "states \(records.map { "\($0.id) \($0.state)" })")
        try expect(records.first { $0.id == "gpubig" }?.spec.runsOn == ["big", "gpu"], "runs_on not kept in the spec")
    }

    public static let lapsedLabelledTaskGoesOnlyToALabelledClaimer: Check = { store in
        try await makeRun(store, [labelled("train", ["gpu"])])
        let first = try await store.claim(run: "r1", holder: "g1", labels: ["gpu"], limit: 1, leaseSeconds: 10, now: t0)
        try expect(first.map(\.task.id) == ["train"], "first claim \(first.map(\.task.id))")
        let later = t0.addingTimeInterval(20)
        let unlabelled = try await store.claim(run: "r1", holder: "plain", labels: [], limit: 5, leaseSeconds: 10, now: later)
        try expect(unlabelled.isEmpty, "an unlabelled claimer took over a lapsed gpu task: \(unlabelled.map(\.task.id))")
        let retaken = try await store.claim(run: "r1", holder: "g2", labels: ["gpu"], limit: 5, leaseSeconds: 10, now: later)
        try expect(retaken.map(\.task.id) == ["train"] && retaken.first?.task.attempt == 2 && retaken.first?.task.holder == "g2",
                   "a gpu claimer did not take the lapsed task over: \(retaken.map { "\($0.task.id) attempt \($0.task.attempt)" })")
    }

    public static let spawnedAndExpandedTasksKeepTheirLabels: Check = { store in
        var expander = task("fan", needs: ["src"])
        var spec = TaskSpec(id: "fan", command: Command(argv: ["true"]), needs: ["src"])
        spec.runsOn = ["gpu"]
        expander.expands = spec
        try await makeRun(store, [task("src"), expander])
        try await succeed(store, try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0), holder: "h")
        // The stand-in needs no label; the tasks it becomes do.
        let stand = try await store.claim(run: "r1", holder: "h", labels: [], limit: 10, leaseSeconds: 60, now: t0)
        try expect(stand.map(\.task.id) == ["fan"], "stand-in \(stand.map(\.task.id))")
        _ = try await store.expand(run: "r1", holder: "h", expander: "fan",
                                   into: [labelled("fan.a", ["gpu"]), labelled("fan.b", ["gpu"])].map { var t = $0; t.group = "fan"; return t },
                                   now: t0)
        try expect(try await store.claim(run: "r1", holder: "h", labels: [], limit: 10, leaseSeconds: 60, now: t0).isEmpty,
                   "an unlabelled claimer took an expanded gpu task")
        let expanded = try await store.claim(run: "r1", holder: "g", labels: ["gpu"], limit: 10, leaseSeconds: 60, now: t0)
        try expect(expanded.map(\.task.id) == ["fan.a", "fan.b"], "expanded \(expanded.map(\.task.id))")
        // A running task spawns a gpu child and a plain one.
        var gpuChild = child("train", id: "train")
        gpuChild.runsOn = ["gpu"]
        let spawned = try await store.spawn(run: "r1", parent: "fan.a", children: [gpuChild, child("note", id: "note")], now: t0)
        try expect(spawned.count == 2, "spawned \(spawned)")
        let plain = try await store.claim(run: "r1", holder: "p", labels: [], limit: 10, leaseSeconds: 60, now: t0)
        try expect(plain.map(\.task.id) == ["note"], "an unlabelled claimer took \(plain.map(\.task.id)), want only the plain child")
        let gpu = try await store.claim(run: "r1", holder: "g", labels: ["gpu"], limit: 10, leaseSeconds: 60, now: t0)
        try expect(gpu.map(\.task.id) == ["train"], "a gpu claimer took \(gpu.map(\.task.id))")
    }

    /// 8 claimers at once, 4 with `gpu`: 200 tasks, every other one labelled. Each task is claimed
    /// exactly once, and every labelled one by a gpu claimer.
    public static let concurrentLabelledClaimsNeverCross: Check = { store in
        try await makeRun(store, (0..<200).map { $0 % 2 == 0 ? task("t\($0)") : labelled("t\($0)", ["gpu"]) })
        let claims = try await withThrowingTaskGroup(of: [(String, Bool)].self) { group in
            for claimer in 0..<8 {
                let gpu = claimer % 2 == 0
                group.addTask {
                    var mine: [(String, Bool)] = []
                    while true {
                        let got = try await store.claim(run: "r1", holder: "c\(claimer)", labels: gpu ? ["gpu"] : [], limit: 3,
                                                        leaseSeconds: 60, now: t0)
                        if got.isEmpty { break }
                        mine += got.map { ($0.task.id, gpu) }
                    }
                    return mine
                }
            }
            var all: [(String, Bool)] = []
            for try await claimed in group { all += claimed }
            return all
        }
        try expect(claims.count == 200 && Set(claims.map(\.0)).count == 200, "claimed \(claims.count) (\(Set(claims.map(\.0)).count) distinct), want 200 once each")
        let crossed = claims.filter { id, gpu in !gpu && (Int(id.dropFirst()) ?? 0) % 2 == 1 }
        try expect(crossed.isEmpty, "claimers without gpu took \(crossed.count) gpu tasks: \(crossed.prefix(5).map(\.0))")
    }

    public static let workersKeepTheirLabels: Check = { store in
        try await makeRun(store, [task("a")])
        try await store.registerWorker(WorkerRecord(id: "w1", run: "*", role: "worker", host: "h", pid: 7, startedAt: t0, heartbeatAt: t0,
                                                    labels: ["gpu", "big"]))
        try await store.registerWorker(WorkerRecord(id: "w2", run: "*", role: "worker", host: "h", pid: 8, startedAt: t0, heartbeatAt: t0))
        let seen = Dictionary(uniqueKeysWithValues: try await store.workers(run: nil).map { ($0.id, $0) })
        try expect(seen["w1"]?.labels == ["big", "gpu"], "w1's labels \(String(describing: seen["w1"]?.labels))")
        try expect(seen["w2"]?.labels == nil, "w2 has no labels, read \(String(describing: seen["w2"]?.labels))")
    }
}
