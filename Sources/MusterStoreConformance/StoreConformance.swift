import Foundation
import MusterCore
import MusterStore

/// A failed conformance check, with the check's name and what it saw.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Behaviour every `Store` must show. Each check gets a fresh, empty store from `makeStore`.
/// Test targets call every check in `all` (one `@Test` each), so a second store reuses the suite.
public struct StoreConformance: Sendable {
    public typealias Check = @Sendable (any Store) async throws -> Void
    public static let all: [(name: String, check: Check)] = [
        ("createRunAndReadBack", createRunAndReadBack),
        ("aggregatesMatchTheRecords", aggregatesMatchTheRecords),
        ("claimIsExclusiveAndBounded", claimIsExclusiveAndBounded),
        ("concurrentClaimsNeverDoubleClaim", concurrentClaimsNeverDoubleClaim),
        ("expiredLeaseIsClaimableWithOrphan", expiredLeaseIsClaimableWithOrphan),
        ("heartbeatExtendsLease", heartbeatExtendsLease),
        ("fanInWaitsForWholeGroup", fanInWaitsForWholeGroup),
        ("staleHolderIsFencedOut", staleHolderIsFencedOut),
        ("succeededTaskNeverRunsAgain", succeededTaskNeverRunsAgain),
        ("retryWaitsForBackoff", retryWaitsForBackoff),
        ("freeRetrySpendsNoRetryAndStartTimeIsTheProcesses", freeRetrySpendsNoRetryAndStartTimeIsTheProcesses),
        ("failureSkipsDependentsTransitively", failureSkipsDependentsTransitively),
        ("expansionIsAtomic", expansionIsAtomic),
        ("eventsAreOrderedAndPaged", eventsAreOrderedAndPaged),
        ("runAcquisitionRespectsLiveHolder", runAcquisitionRespectsLiveHolder),
        ("runTakeOverIsOneCompareAndSwap", runTakeOverIsOneCompareAndSwap),
        ("replacedHolderIsFenced", replacedHolderIsFenced),
        ("reopenRequeuesOnlyUnfinished", reopenRequeuesOnlyUnfinished),
        ("cancelRequestStopsClaims", cancelRequestStopsClaims),
        ("workersRegisterAndLeave", workersRegisterAndLeave),
        ("usageAndCostAddUp", usageAndCostAddUp),
        ("locksAreExclusiveExpireAndCanBeTakenOver", locksAreExclusiveExpireAndCanBeTakenOver),
        ("gitStateIsKeptAndBlockedSkipsDependents", gitStateIsKeptAndBlockedSkipsDependents),
        ("taskLevelOrderingWaitsForOneTask", taskLevelOrderingWaitsForOneTask),
        ("agentFactsSurviveEveryFinish", agentFactsSurviveEveryFinish),
    ] + labelChecks + concurrentFinishChecks

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(message()) }
    }

    static func task(_ id: String, group: String? = nil, needs: [String] = [], retries: Int = 0) -> PlannedTask {
        PlannedTask(id: id, group: group ?? id, item: nil, agent: "shell", model: nil, prompt: nil,
                    command: Command(argv: ["true"]), needs: needs, owns: [], env: [:], timeout: nil, stallTimeout: nil,
                    retries: retries, estimate: nil, kind: .exploration, expands: nil)
    }

    static func makeRun(_ store: any Store, _ tasks: [PlannedTask], id: String = "r1") async throws {
        let workflow = Workflow(name: "conformance", tasks: [])
        try await store.createRun(NewRun(id: id, workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 4,
                                         simulate: false, createdAt: t0), tasks: tasks)
    }

    static func succeed(_ store: any Store, _ claimed: [ClaimedTask], holder: String, at: Date = t0, run: String = "r1") async throws {
        let report = try await store.finish(run: run, holder: holder, claimed.map {
            TaskOutcome(task: $0.task.id, attempt: $0.task.attempt, result: .succeeded, summary: "ok \($0.task.id)")
        }, now: at)
        try expect(report.rejected.isEmpty, "finish rejected \(report.rejected)")
    }

    // MARK: Checks

    public static let createRunAndReadBack: Check = { store in
        try await makeRun(store, [task("a"), task("b", needs: ["a"])])
        let run = try await store.run("r1")
        try expect(run?.status == .running && run?.workflow.name == "conformance", "run not read back: \(String(describing: run))")
        let tasks = try await store.tasks(run: "r1")
        try expect(tasks.map(\.id) == ["a", "b"], "tasks out of order: \(tasks.map(\.id))")
        try expect(tasks[0].state == .ready && tasks[1].state == .pending, "initial states \(tasks.map(\.state))")
        try expect(tasks[0].idempotencyKey != tasks[1].idempotencyKey, "idempotency keys must differ")
        try expect(tasks[1].spec.needs == ["a"], "spec not stored")
        do {
            try await makeRun(store, [task("x")])
            throw ConformanceFailure("a second run with the same id was accepted")
        } catch is StoreError {}
        try expect(try await store.runs(limit: 10).map(\.id) == ["r1"], "runs listing")
    }

    public static let claimIsExclusiveAndBounded: Check = { store in
        try await makeRun(store, (0..<10).map { task("t\($0)") })
        let first = try await store.claim(run: "r1", holder: "h1", limit: 4, leaseSeconds: 60, now: t0)
        let second = try await store.claim(run: "r1", holder: "h2", limit: 100, leaseSeconds: 60, now: t0)
        try expect(first.count == 4 && second.count == 6, "claimed \(first.count) + \(second.count), want 4 + 6")
        try expect(Set(first.map(\.task.id)).isDisjoint(with: second.map(\.task.id)), "a task was claimed twice")
        try expect(first.map(\.task.id) == ["t0", "t1", "t2", "t3"], "claims follow position order")
        try expect(first.allSatisfy { $0.task.attempt == 1 && $0.task.holder == "h1" && $0.orphan == nil }, "claim fields")
        try expect(try await store.claim(run: "r1", holder: "h3", limit: 5, leaseSeconds: 60, now: t0).isEmpty, "nothing left")
    }

    public static let concurrentClaimsNeverDoubleClaim: Check = { store in
        try await makeRun(store, (0..<400).map { task("t\($0)") })
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let got = try await store.claim(run: "r1", holder: "w\(worker)", limit: 3, leaseSeconds: 60, now: t0)
                        if got.isEmpty { return mine }
                        mine += got.map(\.task.id)
                    }
                }
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        try expect(ids.count == 400 && Set(ids).count == 400, "claimed \(ids.count), distinct \(Set(ids).count), want 400")
    }

    public static let expiredLeaseIsClaimableWithOrphan: Check = { store in
        try await makeRun(store, [task("a")])
        let claimed = try await store.claim(run: "r1", holder: "h1", limit: 1, leaseSeconds: 10, now: t0)
        try await store.recordProcesses(run: "r1", holder: "h1", [StartedProcess(task: "a", pid: 4242, pgid: 4242, host: "hostA")], now: t0)
        try expect(try await store.claim(run: "r1", holder: "h2", limit: 1, leaseSeconds: 10, now: t0.addingTimeInterval(9)).isEmpty,
                   "a live lease was taken")
        let retaken = try await store.claim(run: "r1", holder: "h2", limit: 1, leaseSeconds: 10, now: t0.addingTimeInterval(11))
        try expect(retaken.count == 1 && retaken[0].task.attempt == 2, "expired lease not reclaimed")
        try expect(retaken[0].orphan == StartedProcess(task: "a", pid: 4242, pgid: 4242, host: "hostA"),
                   "the previous process group must be handed over: \(String(describing: retaken[0].orphan))")
        // The first holder's late outcome is fenced out.
        let late = try await store.finish(run: "r1", holder: "h1", [TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .succeeded)], now: t0)
        try expect(late.rejected == ["a"], "stale outcome applied")
    }

    public static let heartbeatExtendsLease: Check = { store in
        try await makeRun(store, [task("a"), task("b")])
        _ = try await store.claim(run: "r1", holder: "h1", limit: 2, leaseSeconds: 10, now: t0)
        let renewed = try await store.heartbeat(run: "r1", holder: "h1", leaseSeconds: 10, now: t0.addingTimeInterval(8))
        try expect(renewed == 2, "renewed \(renewed)")
        try expect(try await store.claim(run: "r1", holder: "h2", limit: 2, leaseSeconds: 10, now: t0.addingTimeInterval(15)).isEmpty,
                   "a renewed lease expired")
        try expect(try await store.claim(run: "r1", holder: "h2", limit: 2, leaseSeconds: 10, now: t0.addingTimeInterval(19)).count == 2,
                   "lease did not expire after renewal period")
    }

    public static let fanInWaitsForWholeGroup: Check = { store in
        try await makeRun(store, [task("m.1", group: "m"), task("m.2", group: "m"), task("m.3", group: "m"), task("reduce", needs: ["m"])])
        let maps = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(maps.count == 3, "reduce must wait: claimed \(maps.map(\.task.id))")
        try await succeed(store, Array(maps.prefix(2)), holder: "h")
        try expect(try await store.task(run: "r1", id: "reduce")?.state == .pending, "reduce released before the whole group")
        try await succeed(store, [maps[2]], holder: "h")
        try expect(try await store.task(run: "r1", id: "reduce")?.state == .ready, "reduce not released")
    }

    public static let staleHolderIsFencedOut: Check = { store in
        try await makeRun(store, [task("a")])
        let claimed = try await store.claim(run: "r1", holder: "h1", limit: 1, leaseSeconds: 60, now: t0)
        let wrong = try await store.finish(run: "r1", holder: "intruder",
                                           [TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .succeeded)], now: t0)
        try expect(wrong.rejected == ["a"] && wrong.applied.isEmpty, "another holder completed a task it does not lease")
        let wrongAttempt = try await store.finish(run: "r1", holder: "h1", [TaskOutcome(task: "a", attempt: 99, result: .succeeded)], now: t0)
        try expect(wrongAttempt.rejected == ["a"], "an outcome for another attempt was applied")
    }

    public static let succeededTaskNeverRunsAgain: Check = { store in
        try await makeRun(store, [task("a")])
        let claimed = try await store.claim(run: "r1", holder: "h1", limit: 1, leaseSeconds: 1, now: t0)
        try await succeed(store, claimed, holder: "h1")
        let twice = try await store.finish(run: "r1", holder: "h1",
                                           [TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .succeeded)], now: t0)
        try expect(twice.rejected == ["a"], "a task completed twice")
        try expect(try await store.claim(run: "r1", holder: "h2", limit: 1, leaseSeconds: 1, now: t0.addingTimeInterval(3600)).isEmpty,
                   "a succeeded task was claimed again")
        _ = try await store.reopen("r1", now: t0)
        try expect(try await store.claim(run: "r1", holder: "h2", limit: 1, leaseSeconds: 1, now: t0.addingTimeInterval(3600)).isEmpty,
                   "reopen put a succeeded task back in line")
    }

    public static let retryWaitsForBackoff: Check = { store in
        try await makeRun(store, [task("a", retries: 1)])
        let first = try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0)
        _ = try await store.finish(run: "r1", holder: "h", [TaskOutcome(task: "a", attempt: first[0].task.attempt,
                                   result: .failed(retryAt: t0.addingTimeInterval(5)), exitCode: 1, error: "exit 1")], now: t0)
        let record = try await store.task(run: "r1", id: "a")
        try expect(record?.state == .ready && record?.failures == 1, "retry state \(String(describing: record?.state))")
        try expect(try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0.addingTimeInterval(4)).isEmpty,
                   "claimed before its back-off ended")
        let second = try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0.addingTimeInterval(6))
        try expect(second.count == 1 && second[0].task.attempt == 2, "not claimable after back-off")
    }

    /// A rate-limited attempt goes back in line without counting against `retries`; the task's start
    /// time is its process's, not its claim's (a task may wait for its limits in between).
    public static let freeRetrySpendsNoRetryAndStartTimeIsTheProcesses: Check = { store in
        try await makeRun(store, [task("a", retries: 0)])
        let first = try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0)
        var outcome = TaskOutcome(task: "a", attempt: first[0].task.attempt, result: .failed(retryAt: t0.addingTimeInterval(2)),
                                  exitCode: 1, error: "rate-limited")
        outcome.countsAsFailure = false
        _ = try await store.finish(run: "r1", holder: "h", [outcome], now: t0)
        let record = try await store.task(run: "r1", id: "a")
        try expect(record?.state == .ready && record?.failures == 0, "free retry: \(String(describing: record?.state)), failures \(record?.failures ?? -1)")
        let events = try await store.events(run: "r1", after: 0, limit: 100)
        try expect(events.contains { $0.kind == "task.retry" && $0.message.contains("without spending a retry") }, "no free task.retry event")
        let second = try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: t0.addingTimeInterval(3))
        try expect(second.count == 1 && second[0].task.attempt == 2, "not claimable after the cool-down")
        let spawned = t0.addingTimeInterval(7)
        try await store.recordProcesses(run: "r1", holder: "h", [StartedProcess(task: "a", pid: 1, pgid: 1, host: "x", startedAt: spawned)],
                                        now: t0.addingTimeInterval(8))
        let started = try await store.task(run: "r1", id: "a")?.startedAt
        try expect(started == spawned, "startedAt \(String(describing: started)), want the process's start")
    }

    public static let failureSkipsDependentsTransitively: Check = { store in
        try await makeRun(store, [task("a"), task("b", needs: ["a"]), task("c", needs: ["b"]), task("d")])
        let claimed = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(Set(claimed.map(\.task.id)) == ["a", "d"], "claimed \(claimed.map(\.task.id))")
        let a = claimed.first { $0.task.id == "a" }!
        let report = try await store.finish(run: "r1", holder: "h", [TaskOutcome(task: "a", attempt: a.task.attempt,
                                            result: .failed(retryAt: nil), exitCode: 2, error: "boom")], now: t0)
        try expect(report.skipped == 2, "skipped \(report.skipped), want b and c")
        let states = Dictionary(uniqueKeysWithValues: try await store.tasks(run: "r1").map { ($0.id, $0.state) })
        try expect(states == ["a": .failed, "b": .skipped, "c": .skipped, "d": .running], "states \(states)")
        let counts = try await store.counts(run: "r1")
        try expect(counts[.skipped] == 2 && counts[.failed] == 1 && counts.unfinished == 1, "counts \(counts.byState)")
    }

    public static let expansionIsAtomic: Check = { store in
        var expander = task("fan", needs: ["src"])
        expander.expands = TaskSpec(id: "fan", command: Command(argv: ["true"]), needs: ["src"])
        try await makeRun(store, [task("src"), expander, task("join", needs: ["fan"])])
        try await succeed(store, try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0), holder: "h")
        let stand = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(stand.map(\.task.id) == ["fan"], "stand-in not released: \(stand.map(\.task.id))")
        let added = try await store.expand(run: "r1", holder: "h", expander: "fan",
                                           into: [task("fan.a", group: "fan", needs: ["src"]), task("fan.b", group: "fan", needs: ["src"])], now: t0)
        try expect(added == 2, "added \(added)")
        let children = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(children.map(\.task.id) == ["fan.a", "fan.b"], "children \(children.map(\.task.id)); join must wait")
        try await succeed(store, children, holder: "h")
        try expect(try await store.task(run: "r1", id: "join")?.state == .ready, "join not released after the fan-out")
        // An empty fan-out releases its dependents at once.
        var empty = task("e", needs: [])
        empty.expands = TaskSpec(id: "e", command: Command(argv: ["true"]))
        try await makeRun(store, [empty, task("after", needs: ["e"])], id: "r2")
        _ = try await store.claim(run: "r2", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        _ = try await store.expand(run: "r2", holder: "h", expander: "e", into: [], now: t0)
        try expect(try await store.task(run: "r2", id: "after")?.state == .ready, "empty fan-out blocked its dependents")
    }

    public static let eventsAreOrderedAndPaged: Check = { store in
        try await makeRun(store, [task("a")])
        for i in 0..<5 { try await store.appendEvent(NewEvent(run: "r1", task: "a", kind: "note", message: "n\(i)", at: t0)) }
        let all = try await store.events(run: "r1", after: 0, limit: 100)
        try expect(all.count == 6 && all[0].kind == "run.created", "events \(all.map(\.kind))")
        try expect(zip(all, all.dropFirst()).allSatisfy { $0.sequence < $1.sequence }, "sequence not increasing")
        let page = try await store.events(run: "r1", after: all[2].sequence, limit: 2)
        try expect(page.map(\.message) == ["n2", "n3"], "paging \(page.map(\.message))")
    }

    public static let reopenRequeuesOnlyUnfinished: Check = { store in
        try await makeRun(store, [task("ok"), task("bad"), task("after", needs: ["bad"])])
        let claimed = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        _ = try await store.finish(run: "r1", holder: "h", claimed.map {
            TaskOutcome(task: $0.task.id, attempt: $0.task.attempt, result: $0.task.id == "ok" ? .succeeded : .failed(retryAt: nil))
        }, now: t0)
        try await store.finishRun("r1", status: .failed, now: t0)
        let reopened = try await store.reopen("r1", now: t0)
        try expect(reopened == 2, "reopened \(reopened)")
        let again = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(again.map(\.task.id) == ["bad"], "reopened claims \(again.map(\.task.id))")
        try expect(try await store.run("r1")?.status == .running, "run status not reset")
    }

    public static let cancelRequestStopsClaims: Check = { store in
        try await makeRun(store, [task("a"), task("b"), task("c"), task("d")])
        _ = try await store.claim(run: "r1", holder: "dead", limit: 1, leaseSeconds: 5, now: t0)
        _ = try await store.claim(run: "r1", holder: "alive", limit: 1, leaseSeconds: 60, now: t0)
        try await store.requestCancel("r1", now: t0)
        try expect(try await store.run("r1")?.cancelRequested == true, "flag not set")
        try expect(try await store.claim(run: "r1", holder: "h", limit: 5, leaseSeconds: 60, now: t0).isEmpty, "claimed after cancel")
        let closed = try await store.closeUnstarted(run: "r1", state: .cancelled, reason: "cancelled", now: t0.addingTimeInterval(10))
        try expect(closed == 3, "closed \(closed): want the two unstarted tasks and the lapsed lease, not the live one")
        try expect(try await store.task(run: "r1", id: "b")?.state == .running, "a live lease was closed")
    }

    public static let workersRegisterAndLeave: Check = { store in
        try await makeRun(store, [task("a")])
        let worker = WorkerRecord(id: "w1", run: "r1", role: "orchestrator", host: "h", pid: 7, startedAt: t0, heartbeatAt: t0)
        try await store.registerWorker(worker)
        try await store.heartbeatWorker(id: "w1", task: "a", now: t0.addingTimeInterval(5))
        let seen = try await store.workers(run: "r1")
        try expect(seen.count == 1 && seen[0].task == "a" && seen[0].heartbeatAt == t0.addingTimeInterval(5), "worker \(seen)")
        try await store.removeWorker(id: "w1")
        try expect(try await store.workers(run: nil).isEmpty, "worker not removed")
    }

    public static let usageAndCostAddUp: Check = { store in
        try await makeRun(store, [task("a"), task("b"), task("c")])
        let claimed = try await store.claim(run: "r1", holder: "h", limit: 3, leaseSeconds: 60, now: t0)
        _ = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a", attempt: 1, result: .succeeded, usage: TokenUsage(input: 100, output: 10), costUSD: 0.5),
            TaskOutcome(task: "b", attempt: 1, result: .succeeded, usage: TokenUsage(input: 50, output: 5), costUSD: 0.25),
            TaskOutcome(task: "c", attempt: 1, result: .succeeded, usage: nil, costUSD: nil),
        ], now: t0)
        try expect(claimed.count == 3, "claimed")
        let counts = try await store.counts(run: "r1")
        try expect(abs(counts.costUSD - 0.75) < 1e-9 && counts.tokens.input == 150 && counts.tokens.output == 15,
                   "totals \(counts.costUSD) \(counts.tokens)")
        try expect(counts.unknownCost == 1, "a task without cost must count as unknown, not 0: \(counts.unknownCost)")
        try expect(try await store.task(run: "r1", id: "c")?.costUSD == nil, "unknown cost stored as a number")
    }

    public static let locksAreExclusiveExpireAndCanBeTakenOver: Check = { store in
        func request(_ holder: String, ttl: Double = 10, replacing: String? = nil) -> LockRequest {
            LockRequest(path: "Package.swift", holder: holder, host: "h", pid: 1, ttl: ttl, replacing: replacing)
        }
        try expect(try await store.acquireLock(request("a"), now: t0) == .acquired(previous: nil), "first acquire")
        guard case .heldBy(let held) = try await store.acquireLock(request("b"), now: t0.addingTimeInterval(5)), held.holder == "a" else {
            throw ConformanceFailure("a live lock was given to another holder")
        }
        try expect(try await store.acquireLock(request("a"), now: t0.addingTimeInterval(5)) == .acquired(previous: nil), "re-acquire renews")
        guard case .heldBy = try await store.acquireLock(request("b"), now: t0.addingTimeInterval(12)) else {
            throw ConformanceFailure("the renewal did not extend the lease")
        }
        guard case .acquired(let previous) = try await store.acquireLock(request("b"), now: t0.addingTimeInterval(16)),
              previous?.holder == "a" else { throw ConformanceFailure("an expired lock was not taken over") }
        guard case .acquired(let taken) = try await store.acquireLock(request("c", replacing: "b"), now: t0.addingTimeInterval(17)),
              taken?.holder == "b" else { throw ConformanceFailure("a dead holder's lock was not taken over") }
        try expect(try await store.releaseLock(path: "Package.swift", holder: "b") == false, "a non-holder released the lock")
        try expect(try await store.locks().map(\.holder) == ["c"], "locks listing")
        try expect(try await store.releaseLock(path: "Package.swift", holder: "c"), "holder could not release")
        try expect(try await store.locks().isEmpty, "lock not released")
    }

    public static let gitStateIsKeptAndBlockedSkipsDependents: Check = { store in
        try await makeRun(store, [task("a"), task("b"), task("after", needs: ["b"])])
        let claimed = try await store.claim(run: "r1", holder: "h", limit: 2, leaseSeconds: 60, now: t0)
        let started = TaskGitState(worktree: "/w/a", branch: "muster/r1/a", baseCommit: "abc")
        try await store.recordProcesses(run: "r1", holder: "h", [StartedProcess(task: "a", pid: 10, pgid: 10, host: "h", git: started)], now: t0)
        try expect(try await store.task(run: "r1", id: "a")?.git == started, "git state not recorded at start")
        var finished = started
        finished.headCommit = "def"
        finished.changedPaths = ["x.swift"]
        let report = try await store.finish(run: "r1", holder: "h", [
            TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .succeeded, git: finished),
            TaskOutcome(task: "b", attempt: claimed[1].task.attempt, result: .blocked, error: "blocked: conflict in x.swift"),
        ], now: t0)
        try expect(report.applied.count == 2 && report.skipped == 1, "report \(report)")
        try expect(try await store.task(run: "r1", id: "a")?.git == finished, "git state not updated at finish")
        try expect(try await store.task(run: "r1", id: "b")?.state == .blocked, "blocked state")
        try expect(try await store.task(run: "r1", id: "after")?.state == .skipped, "dependents of a blocked task must be skipped")
        try expect(try await store.reopen("r1", now: t0) == 2, "reopen must put blocked and skipped tasks back")
    }

    public static let taskLevelOrderingWaitsForOneTask: Check = { store in
        var second = task("edit.b", group: "edit")
        second.after = ["edit.a"]
        var third = task("edit.c", group: "edit")
        third.after = ["edit.b"]
        try await makeRun(store, [task("edit.a", group: "edit"), second, third, task("other")])
        let first = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(first.map(\.task.id) == ["edit.a", "other"], "ordered tasks started together: \(first.map(\.task.id))")
        try await succeed(store, [first[0]], holder: "h")
        let next = try await store.claim(run: "r1", holder: "h", limit: 10, leaseSeconds: 60, now: t0)
        try expect(next.map(\.task.id) == ["edit.b"], "edit.b must follow edit.a alone: \(next.map(\.task.id))")
        let report = try await store.finish(run: "r1", holder: "h",
                                            [TaskOutcome(task: "edit.b", attempt: next[0].task.attempt, result: .failed(retryAt: nil))], now: t0)
        try expect(report.skipped == 1, "edit.c waits for edit.b, which failed: skipped \(report.skipped)")
        try expect(try await store.task(run: "r1", id: "other")?.state == .running, "an unrelated task was touched")
    }
}
