import Foundation
import MusterCore
import MusterStore
import Synchronization

/// Finishes of one run from many holders at once, with a reader paging the run's events meanwhile:
/// every dependent is released exactly once however the finishes interleave, and a reader that
/// pages by sequence number never skips an event that committed after a later-numbered one.
extension StoreConformance {
    public static let concurrentFinishChecks: [(name: String, check: Check)] = [
        ("concurrentFinishesReleaseEachDependentOnceAndPageEveryEvent", concurrentFinishesReleaseEachDependentOnceAndPageEveryEvent),
    ]

    /// 32 tasks `a0…a31`, 8 holders finishing 4 each one at a time, all at once. `b<i>` needs `a<i>`
    /// and `a<i+1>`, so every `b` is released by two finishes that may run together; `join` needs all
    /// 32. Released counts add up to exactly 32 (a dependent released twice counts twice), and the
    /// reader's pages hold the same events as one read afterwards.
    public static let concurrentFinishesReleaseEachDependentOnceAndPageEveryEvent: Check = { store in
        let count = 32, holders = 8
        let sources = (0..<count).map { task("a\($0)") }
        let pairs = (0..<count - 1).map { task("b\($0)", needs: ["a\($0)", "a\($0 + 1)"]) }
        try await makeRun(store, sources + pairs + [task("join", needs: sources.map(\.id))])
        var claimed: [[ClaimedTask]] = []
        for holder in 0..<holders {
            claimed.append(try await store.claim(run: "r1", holder: "h\(holder)", limit: count / holders, leaseSeconds: 600, now: t0))
        }
        try expect(claimed.allSatisfy { $0.count == count / holders }, "claimed \(claimed.map(\.count))")
        let finishing = Countdown(holders)
        let (released, paged) = try await withThrowingTaskGroup(of: (Int, [Int64]?).self) { group in
            for (holder, tasks) in claimed.enumerated() {
                group.addTask {
                    defer { finishing.done() }
                    var released = 0
                    for claim in tasks {
                        let report = try await store.finish(run: "r1", holder: "h\(holder)", [
                            TaskOutcome(task: claim.task.id, attempt: claim.task.attempt, result: .succeeded),
                        ], now: t0)
                        try expect(report.applied == [claim.task.id], "finish of \(claim.task.id): \(report)")
                        released += report.released
                    }
                    return (released, nil)
                }
            }
            group.addTask {
                var seen: [Int64] = [], after: Int64 = 0
                while true {
                    let done = finishing.isOver  // read before the page: a last page follows every finish
                    let page = try await store.events(run: "r1", after: after, limit: 7)
                    seen += page.map(\.sequence)
                    after = page.last?.sequence ?? after
                    if done && page.isEmpty { return (0, seen) }
                }
            }
            var released = 0, paged: [Int64] = []
            for try await (count, seen) in group {
                released += count
                if let seen { paged = seen }
            }
            return (released, paged)
        }
        try expect(released == count, "released \(released) dependents in all, want \(count): one was released twice or never")
        let tasks = try await store.tasks(run: "r1")
        let ready = tasks.filter { $0.state == .ready }.map(\.id)
        try expect(Set(ready) == Set(pairs.map(\.id) + ["join"]), "ready afterwards: \(ready)")
        let all = try await store.events(run: "r1", after: 0, limit: 10_000).map(\.sequence)
        try expect(paged == all, "a reader paging by sequence saw \(paged.count) of \(all.count) events; missed \(Set(all).subtracting(paged).sorted())")
    }
}

/// How many finishers are still at work, shared by the reader.
private final class Countdown: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }
    func done() { left.withLock { $0 -= 1 } }
    var isOver: Bool { left.withLock { $0 == 0 } }
}
