import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterRuntime

/// A task's lifecycle as effects: claim, expand or wait for limits, prepare git, launch, settle
/// git, finish. Events in, effects out, on a manual clock; no Store, process or git.
@Suite struct RunSchedulerLifecycleTests {
    typealias Clock = RunSchedulerTests.Clock

    static func scheduler(_ config: RunScheduler.Config = .init(concurrency: 4), at clock: Clock) -> RunScheduler {
        RunScheduler(config: config, now: clock.now, random: FixedRandom(0.5))
    }

    static func launched(_ id: String, attempt: Int = 1) -> SchedulerEvent {
        .launched(RunScheduler.Launch(task: id, attempt: attempt))
    }

    @Test func aClaimedTaskIsPreparedLaunchedSettledAndFinished() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 2), at: clock)
        #expect(s.handle(.dispatch, now: clock.now) == [.claim(2)])
        #expect(s.handle(.claimed([.init(task: "a")]), now: clock.now) == [.prepare(["a"])])
        #expect(s.handle(.placed([.ready(task: "a")]), now: clock.now) == [.launch(["a"])])
        // One task for two slots: the Store had no more, so the round of claims ends.
        #expect(s.handle(Self.launched("a"), now: clock.now) == [])
        #expect(s.running.keys.sorted() == ["a"] && s.claims.isEmpty)
        #expect(s.handle(.exited(tasks: ["a"]), now: clock.now) == [.settle([.init(task: "a", stop: nil)])])
        let done = TaskOutcome(task: "a", attempt: 1, result: .succeeded, exitCode: 0)
        #expect(s.handle(.settled([.init(outcome: done)]), now: clock.now) == [.finish([done])])
        #expect(s.idle)
    }

    @Test func aFullClaimClaimsAgainOnceItsTasksAreLaunched() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 3), at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        #expect(s.handle(.claimed([.init(task: "a"), .init(task: "b", retries: 1)]), now: clock.now) == [.prepare(["a", "b"])])
        // `b` never got its worktree: a retryable failure; `a` starts.
        #expect(s.handle(.placed([.ready(task: "a"), .failed(task: "b", reason: "no disk")]), now: clock.now) == [.launch(["a"])])
        // The batch closes with its last start: its failures in one `finish`.
        let effects = s.handle(Self.launched("a"), now: clock.now)
        #expect(effects.count == 1)
        guard case .finish(let outcomes)? = effects.first else { Issue.record("no finish: \(effects)"); return }
        #expect(outcomes.map(\.task) == ["b"] && outcomes.first?.error == "no disk")
        // The slot `b` left is claimed again, once the Store took its failure.
        #expect(s.handle(.outcomesApplied(outcomes, applied: ["b"]), now: clock.now) == [.claim(2)])
        #expect(s.handle(.claimed([.init(task: "c"), .init(task: "d")]), now: clock.now) == [.prepare(["c", "d"])])
        _ = s.handle(.placed([.ready(task: "c"), .ready(task: "d")]), now: clock.now)
        #expect(s.handle(Self.launched("c"), now: clock.now) == [])
        // Every slot asked for was filled, so it would claim again: no slot is free.
        #expect(s.handle(Self.launched("d"), now: clock.now) == [])
        #expect(s.running.count == 3)
        #expect(s.handle(.claimed([]), now: clock.now) == [], "an empty claim ends the round")
    }

    @Test func aFullClaimWithRoomLeftClaimsAgainAtOnce() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 3), at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        _ = s.handle(.claimed([.init(task: "a", isExpander: true), .init(task: "b", uses: ["api"], estimatedCostUSD: 0.5)]), now: clock.now)
        // The expander leaves its slot: claim what is still free (b holds one while it waits).
        #expect(s.handle(.expanded(task: "a", error: nil), now: clock.now) == [.claim(2)])
        #expect(s.waiting == ["b": 0.5])
    }

    @Test func expandersAndLimitedTasksGoTheirOwnWays() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 4), at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        let effects = s.handle(.claimed([.init(task: "x", isExpander: true), .init(task: "l", uses: ["api"]), .init(task: "r")]),
                               now: clock.now)
        #expect(effects == [.waitForLimits(task: "l"), .expand(task: "x"), .prepare(["r"])])
        #expect(s.occupied == 1, "the waiting task holds a slot")
        // The expansion fails for good (no retry), but the batch stays open until `r` is launched.
        #expect(s.handle(.expanded(task: "x", error: "fan-out failed: bad"), now: clock.now) == [])
        let closing = s.handle(.launchFailed(task: "r", error: "could not start: ENOENT", retryable: true), now: clock.now)
        guard case .finish(let outcomes)? = closing.first else { Issue.record("no finish: \(closing)"); return }
        #expect(outcomes.map(\.task) == ["x", "r"])
        #expect(outcomes[0].result == .failed(retryAt: nil))
        #expect(outcomes[1].result == .failed(retryAt: nil), "no retries left")
    }

    @Test func admissionsStartTheTasksLetThroughAndFinishTheOthers() {
        var clock = Clock()
        var s = Self.scheduler(.init(concurrency: 4), at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        _ = s.handle(.claimed([.init(task: "a", uses: ["api"]), .init(task: "b", retries: 2, uses: ["api"])]), now: clock.now)
        clock.advance(2)
        let effects = s.handle(.admissions([.init(task: "a", waited: 2), .init(task: "b", failure: "could not get a turn on api: down")]),
                               now: clock.now)
        #expect(effects == [.appendEvent(kind: "limit.waiting", task: "a", message: "waited 2.0 s for api"), .prepare(["a"])])
        #expect(s.waiting.isEmpty)
        _ = s.handle(.placed([.ready(task: "a")]), now: clock.now)
        let closing = s.handle(Self.launched("a"), now: clock.now)
        guard case .finish(let outcomes)? = closing.first, closing.count == 1 else { Issue.record("\(closing)"); return }
        #expect(outcomes.map(\.task) == ["b"])
        guard case .failed(let retryAt?) = outcomes[0].result else { Issue.record("not retried"); return }
        #expect(retryAt > clock.now, "retried after the back-off")
    }

    @Test func aCancelledRunFinishesWaitsUnstarted() {
        let clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        _ = s.handle(.claimed([.init(task: "w", uses: ["api"])]), now: clock.now)
        #expect(s.handle(.cancelRequested, now: clock.now).last == .callOffWaits)
        let effects = s.handle(.admissions([.init(task: "w", calledOff: true)]), now: clock.now)
        #expect(effects == [.finish([TaskOutcome(task: "w", attempt: 1, result: .cancelled, error: "cancelled while waiting for its limits")])])
        #expect(s.idle)
    }

    @Test func aBlockedTaskEndsBlocked() {
        let clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        _ = s.handle(.claimed([.init(task: "m", attempt: 2)]), now: clock.now)
        let effects = s.handle(.placed([.blocked(task: "m", reason: "blocked: merging a conflicts in x")]), now: clock.now)
        #expect(effects == [.finish([TaskOutcome(task: "m", attempt: 2, result: .blocked, error: "blocked: merging a conflicts in x", costUSD: 0)])])
    }

    @Test func anOnFailureStopAfterStartFailuresClaimsNoMore() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 1, onFailure: .stop), at: clock)
        _ = s.handle(.dispatch, now: clock.now)
        _ = s.handle(.claimed([.init(task: "x", isExpander: true)]), now: clock.now)
        guard case .finish(let outcomes)? = s.handle(.expanded(task: "x", error: "bad items"), now: clock.now).first else {
            Issue.record("no finish"); return
        }
        #expect(s.handle(.outcomesApplied(outcomes, applied: ["x"]), now: clock.now) == [], "stopped: nothing more is claimed")
        #expect(s.stopping)
    }

    @Test func settlingCarriesTheStopReasonAndFollowsWithEvents() {
        var clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(.launched(RunScheduler.Launch(task: "t", timeout: .seconds(1))), now: clock.now)
        _ = s.handle(.launched(RunScheduler.Launch(task: "u")), now: clock.now)
        clock.advance(1)
        _ = s.handle(.tick(lastOutput: [:]), now: clock.now)
        #expect(s.handle(.exited(tasks: ["t", "u"]), now: clock.now)
            == [.settle([.init(task: "t", stop: .timeout(.seconds(1))), .init(task: "u", stop: nil)])])
        var violated = TaskOutcome(task: "t", attempt: 1, result: .failed(retryAt: nil))
        violated.git = TaskGitState(worktree: nil, branch: nil, baseCommit: "b", violations: ["x.txt", "y.txt"])
        var unchanged = TaskOutcome(task: "u", attempt: 1, result: .succeeded, error: "warning: it owns a but changed nothing")
        unchanged.git = TaskGitState(worktree: nil, branch: nil, baseCommit: "b")
        let effects = s.handle(.settled([.init(outcome: violated, issue: .ownershipViolation(owns: [], paths: ["x.txt", "y.txt"])),
                                         .init(outcome: unchanged, issue: .warning(.unchanged(owns: ["a"])))]), now: clock.now)
        #expect(effects == [
            .finish([violated, unchanged]),
            .appendEvent(kind: "ownership.violation", task: "t", message: "x.txt, y.txt"),
            .appendEvent(kind: "task.unchanged", task: "u", message: "warning: it owns a but changed nothing"),
        ])
    }
}
