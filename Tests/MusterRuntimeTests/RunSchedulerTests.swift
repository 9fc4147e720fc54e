import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterRuntime

/// The scheduler's supervision on a manual clock: events in, effects out, no process or Store.
@Suite struct RunSchedulerTests {
    /// A manual clock: time moves only when the test says so.
    struct Clock {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
        mutating func advance(_ seconds: Double) { now = now.addingTimeInterval(seconds) }
    }

    static func scheduler(_ config: RunScheduler.Config = .init(concurrency: 4), at clock: Clock) -> RunScheduler {
        RunScheduler(config: config, now: clock.now, random: FixedRandom(0.5))
    }

    static func launch(_ id: String, timeout: Double? = nil, stall: Double? = nil, cost: Double = 0) -> SchedulerEvent {
        .launched(RunScheduler.Launch(task: id, timeout: timeout.map { .seconds($0) }, stallTimeout: stall.map { .seconds($0) },
                                      estimatedCostUSD: cost))
    }

    @Test func dispatchClaimsTheFreeSlotsOnly() {
        var clock = Clock()
        var s = Self.scheduler(.init(concurrency: 3), at: clock)
        #expect(s.handle(.dispatch, now: clock.now) == [.claim(3)])
        _ = s.handle(Self.launch("a"), now: clock.now)
        _ = s.handle(.waitingForLimits(task: "b", estimatedCostUSD: 0), now: clock.now)
        #expect(s.handle(.dispatch, now: clock.now) == [.claim(1)])
        _ = s.handle(Self.launch("c"), now: clock.now)
        #expect(s.handle(.dispatch, now: clock.now) == [])
        // A task blocked in `muster wait` lends its slot.
        _ = s.handle(.blockedInWait(1), now: clock.now)
        #expect(s.handle(.dispatch, now: clock.now) == [.claim(1)])
        clock.advance(1)
        _ = s.handle(.exited(tasks: ["a"]), now: clock.now)
        _ = s.handle(.blockedInWait(0), now: clock.now)
        #expect(s.handle(.dispatch, now: clock.now) == [.claim(1)])
    }

    @Test func aTimeoutTerminatesThenKillsAfterTheGrace() {
        var clock = Clock()
        var s = Self.scheduler(.init(concurrency: 2, grace: 5), at: clock)
        _ = s.handle(Self.launch("t", timeout: 10), now: clock.now)
        clock.advance(9.9)
        #expect(s.handle(.tick(lastOutput: ["t": clock.now]), now: clock.now) == [])
        clock.advance(0.1)
        #expect(s.handle(.tick(lastOutput: ["t": clock.now]), now: clock.now) == [.signal(task: "t", .terminate)])
        #expect(s.stopReason(of: "t") == .timeout(.seconds(10)))
        // Signalled once, not at every tick.
        clock.advance(4.9)
        #expect(s.handle(.tick(lastOutput: ["t": clock.now]), now: clock.now) == [])
        clock.advance(0.1)
        #expect(s.handle(.tick(lastOutput: ["t": clock.now]), now: clock.now) == [.signal(task: "t", .kill)])
        clock.advance(10)
        #expect(s.handle(.tick(lastOutput: ["t": clock.now]), now: clock.now) == [])
        _ = s.handle(.exited(tasks: ["t"]), now: clock.now)
        #expect(s.idle)
    }

    @Test func aStallIsJudgedFromTheLastOutput() {
        var clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(Self.launch("s", stall: 3), now: clock.now)
        var last = clock.now
        for _ in 0..<5 {
            clock.advance(2)
            last = clock.now
            #expect(s.handle(.tick(lastOutput: ["s": last]), now: clock.now) == [], "output keeps it alive")
        }
        clock.advance(2.9)
        #expect(s.handle(.tick(lastOutput: ["s": last]), now: clock.now) == [])
        clock.advance(0.1)
        #expect(s.handle(.tick(lastOutput: ["s": last]), now: clock.now) == [
            .signal(task: "s", .terminate),
            .appendEvent(kind: "task.stalled", task: "s", message: "stalled: no output for 3.0s"),
        ])
        #expect(s.stopReason(of: "s") == .stalled(.seconds(3)))
    }

    @Test func theFirstCancelIsGracefulTheSecondKills() {
        var clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(Self.launch("a"), now: clock.now)
        _ = s.handle(Self.launch("b"), now: clock.now)
        _ = s.handle(.waitingForLimits(task: "w", estimatedCostUSD: 0), now: clock.now)
        #expect(s.handle(.interrupt(signal: 2), now: clock.now) == [
            .appendEvent(kind: "run.cancelling", task: nil, message: "interrupted by signal 2"),
            .signal(task: "a", .terminate), .signal(task: "b", .terminate), .callOffWaits,
        ])
        #expect(!s.accepting && s.cancelling)
        #expect(s.stopReason(of: "a") == .cancelled)
        #expect(s.handle(.dispatch, now: clock.now) == [.callOffWaits], "nothing new is claimed")
        clock.advance(1)
        #expect(s.handle(.interrupt(signal: 2), now: clock.now) == [
            .signal(task: "a", .kill), .signal(task: "b", .kill), .callOffWaits,
        ])
    }

    @Test func aRequestedCancelActsOnceAndOnlyWhileAccepting() {
        let clock = Clock()
        var s = Self.scheduler(at: clock)
        _ = s.handle(Self.launch("a"), now: clock.now)
        #expect(s.handle(.cancelRequested, now: clock.now) == [
            .appendEvent(kind: "run.cancelling", task: nil, message: "cancel requested"), .signal(task: "a", .terminate),
        ])
        #expect(s.handle(.cancelRequested, now: clock.now) == [])
        // `muster cancel` of a run nobody orchestrated: taken over only to close it.
        let closed = RunScheduler(config: .init(concurrency: 2), now: clock.now, cancelled: true)
        #expect(!closed.accepting)
    }

    @Test func aSoftBudgetStopsDispatchingOnly() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 4, budgetUSD: 1.0), at: clock)
        _ = s.handle(Self.launch("a", cost: 0.3), now: clock.now)
        _ = s.handle(.waitingForLimits(task: "w", estimatedCostUSD: 0.2), now: clock.now)
        #expect(s.handle(.spent(costUSD: 0.4), now: clock.now) == [])
        let effects = s.handle(.spent(costUSD: 0.5), now: clock.now)
        #expect(effects == [
            .appendEvent(kind: "budget.exceeded", task: nil, message:
                "spent $0.5000 + $0.5000 estimated for 2 running tasks reaches the budget of $1.00: no new tasks start; running ones finish"),
            .callOffWaits,
        ])
        #expect(s.overBudget && !s.accepting && !s.watchesBudget)
        #expect(s.stopReason(of: "a") == nil, "a soft budget lets running tasks finish")
        #expect(s.handle(.spent(costUSD: 5), now: clock.now) == [.callOffWaits], "reported once")
    }

    @Test func aHardBudgetStopsRunningTasks() {
        let clock = Clock()
        var s = Self.scheduler(.init(concurrency: 4, budgetUSD: 1.0, budgetHard: true), at: clock)
        _ = s.handle(Self.launch("a"), now: clock.now)
        let effects = s.handle(.spent(costUSD: 1.0), now: clock.now)
        #expect(effects.count == 2)
        #expect(effects.last == .signal(task: "a", .terminate))
        #expect(s.stopReason(of: "a") == .cancelled)
    }

    @Test func onFailureStopTripsOnAFinalFailureTheStoreApplied() {
        let clock = Clock()
        var stop = Self.scheduler(.init(concurrency: 2, onFailure: .stop), at: clock)
        let retrying = TaskOutcome(task: "r", attempt: 1, result: .failed(retryAt: clock.now))
        let failed = TaskOutcome(task: "f", attempt: 1, result: .failed(retryAt: nil))
        _ = stop.handle(.outcomesApplied([retrying], applied: ["r"]), now: clock.now)
        #expect(stop.accepting, "a retry is not a failure for good")
        _ = stop.handle(.outcomesApplied([failed], applied: []), now: clock.now)
        #expect(stop.accepting, "an outcome the Store rejected (a lost lease) stops nothing")
        _ = stop.handle(.outcomesApplied([failed], applied: ["f"]), now: clock.now)
        #expect(stop.stopping && !stop.accepting)
        var carryOn = Self.scheduler(.init(concurrency: 2, onFailure: .continue), at: clock)
        _ = carryOn.handle(.outcomesApplied([failed], applied: ["f"]), now: clock.now)
        #expect(carryOn.accepting)
    }

    @Test func aStoppedTaskIsNotStoppedAgainNorStalledAfter() {
        var clock = Clock()
        var s = Self.scheduler(.init(concurrency: 2, grace: 100), at: clock)
        _ = s.handle(Self.launch("x", timeout: 1, stall: 1), now: clock.now)
        clock.advance(1)
        #expect(s.handle(.tick(lastOutput: ["x": clock.now.addingTimeInterval(-1)]), now: clock.now) == [.signal(task: "x", .terminate)])
        #expect(s.stopReason(of: "x") == .timeout(.seconds(1)), "the timeout comes first")
        clock.advance(5)
        #expect(s.handle(.tick(lastOutput: ["x": .distantPast]), now: clock.now) == [])
        #expect(s.handle(.cancelRequested, now: clock.now).contains(.signal(task: "x", .terminate)) == false)
    }
}

/// A random source that always answers the same number.
struct FixedRandom: RandomSource {
    let value: Double
    init(_ value: Double) { self.value = value }
    func unit() -> Double { value }
}
