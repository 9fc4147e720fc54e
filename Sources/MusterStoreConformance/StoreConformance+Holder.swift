import Foundation
import MusterCore
import MusterStore

/// One holder per run: a live holder keeps its run, a take-over is one compare-and-swap, and a
/// replaced holder is fenced out of renewals, claims and outcomes.
extension StoreConformance {
    public static let runAcquisitionRespectsLiveHolder: Check = { store in
        try await makeRun(store, [task("a")])
        let one = ProcessIdentity(id: "o1", host: "h", pid: 1), two = ProcessIdentity(id: "o2", host: "h", pid: 2)
        try expect(try await store.acquireRun("r1", holder: one, leaseSeconds: 30, now: t0) == .acquired(previousHolder: nil, epoch: 1),
                   "first acquire")
        _ = try await store.claim(run: "r1", holder: "o1", limit: 1, leaseSeconds: 600, now: t0)
        let refused = try await store.acquireRun("r1", holder: two, leaseSeconds: 30, now: t0.addingTimeInterval(10))
        guard case .heldBy(let holder, let until) = refused, holder.id == "o1", until == t0.addingTimeInterval(30) else {
            throw ConformanceFailure("live holder overridden: \(refused)")
        }
        let taken = try await store.acquireRun("r1", holder: two, leaseSeconds: 30, now: t0.addingTimeInterval(40))
        try expect(taken == .acquired(previousHolder: "o1", epoch: 2), "holder whose lease lapsed not replaced: \(taken)")
        let orphaned = try await store.claim(run: "r1", holder: "o2", limit: 1, leaseSeconds: 60, now: t0.addingTimeInterval(40))
        try expect(orphaned.count == 1, "the dead holder's task should be claimable at once")
        try expect(try await store.acquireRun("nope", holder: two, leaseSeconds: 30, now: t0) == .notFound, "unknown run")
    }

    /// Taking a run over is one compare-and-swap: of many simultaneous takers exactly one wins, and
    /// every other one is told who holds the run.
    public static let runTakeOverIsOneCompareAndSwap: Check = { store in
        try await makeRun(store, [task("a")])
        let dead = ProcessIdentity(id: "gone", host: "h", pid: 1)
        _ = try await store.acquireRun("r1", holder: dead, leaseSeconds: 10, now: t0)
        let later = t0.addingTimeInterval(60)
        let results = try await withThrowingTaskGroup(of: (String, RunAcquisition).self) { group in
            for n in 0..<8 {
                group.addTask {
                    let me = ProcessIdentity(id: "taker\(n)", host: "h", pid: Int32(100 + n))
                    return (me.id, try await store.acquireRun("r1", holder: me, leaseSeconds: 30, now: later))
                }
            }
            var all: [(String, RunAcquisition)] = []
            for try await result in group { all.append(result) }
            return all
        }
        let winners = results.filter { if case .acquired = $0.1 { true } else { false } }
        try expect(winners.count == 1, "\(winners.count) takers acquired the run at once: \(results)")
        try expect(winners[0].1 == .acquired(previousHolder: "gone", epoch: 2), "winner \(winners[0].1)")
        for (_, result) in results where result != winners[0].1 {
            guard case .heldBy(let holder, _) = result, holder.id == winners[0].0 else {
                throw ConformanceFailure("a loser was not told the winner holds the run: \(result)")
            }
        }
        try expect(try await store.run("r1")?.holder?.id == winners[0].0, "stored holder is not the winner")
    }

    /// A holder replaced while it was away (suspended past its lease) is fenced: it cannot renew,
    /// claim or record outcomes. One that was away but not replaced renews, and keeps its tasks.
    public static let replacedHolderIsFenced: Check = { store in
        try await makeRun(store, [task("a"), task("b"), task("c")])
        let one = ProcessIdentity(id: "o1", host: "h", pid: 1), two = ProcessIdentity(id: "o2", host: "h", pid: 2)
        guard case .acquired(_, let epoch1) = try await store.acquireRun("r1", holder: one, leaseSeconds: 10, now: t0) else {
            throw ConformanceFailure("first acquire")
        }
        let mine = try await store.claim(run: "r1", holder: "o1", limit: 1, leaseSeconds: 10, now: t0)
        // Away for 30 s, nobody took over: it renews; its lapsed task is not claimable by itself.
        try expect(try await store.claim(run: "r1", holder: "o1", limit: 3, leaseSeconds: 10, now: t0.addingTimeInterval(30))
                    .map(\.task.id) == ["b", "c"], "a holder retook its own lapsed task")
        let renewal = try await store.renewRun("r1", holder: "o1", epoch: epoch1, leaseSeconds: 10, now: t0.addingTimeInterval(30))
        try expect(renewal == .renewed(tasks: 3, lapsed: true), "renewal after a lapse nobody used: \(renewal)")
        try expect(try await store.task(run: "r1", id: "a")?.attempt == 1, "the lapsed task changed attempt")
        // Away again, and this time another holder takes over.
        guard case .acquired(_, let epoch2) = try await store.acquireRun("r1", holder: two, leaseSeconds: 10, now: t0.addingTimeInterval(60)),
              epoch2 == epoch1 + 1 else { throw ConformanceFailure("take-over after the lease lapsed") }
        let retaken = try await store.claim(run: "r1", holder: "o2", limit: 3, leaseSeconds: 10, now: t0.addingTimeInterval(60))
        try expect(retaken.count == 3 && retaken.first { $0.task.id == "a" }?.task.attempt == 2, "new holder's claims \(retaken.map(\.task.id))")
        let lost = try await store.renewRun("r1", holder: "o1", epoch: epoch1, leaseSeconds: 10, now: t0.addingTimeInterval(61))
        try expect(lost == .lost(by: two, epoch: epoch2), "a replaced holder renewed: \(lost)")
        try expect(try await store.claim(run: "r1", holder: "o1", limit: 3, leaseSeconds: 10, now: t0.addingTimeInterval(61)).isEmpty,
                   "a replaced holder claimed")
        let stale = try await store.finish(run: "r1", holder: "o1", [
            TaskOutcome(task: "a", attempt: mine[0].task.attempt, result: .succeeded),
            TaskOutcome(task: "a", attempt: 2, result: .succeeded),
        ], now: t0.addingTimeInterval(61))
        try expect(stale.applied.isEmpty, "a replaced holder's outcome was recorded: \(stale)")
        let old = try await store.finish(run: "r1", holder: "o2", [TaskOutcome(task: "a", attempt: 1, result: .succeeded)],
                                         now: t0.addingTimeInterval(61))
        try expect(old.applied.isEmpty, "an outcome of attempt 1 was recorded against attempt 2")
        try expect(try await store.task(run: "r1", id: "a")?.state == .running, "task a no longer running")
        let current = try await store.finish(run: "r1", holder: "o2", [TaskOutcome(task: "a", attempt: 2, result: .succeeded)],
                                             now: t0.addingTimeInterval(61))
        try expect(current.applied == ["a"], "the current attempt's outcome was refused")
    }
}
