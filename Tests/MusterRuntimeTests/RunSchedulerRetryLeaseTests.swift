import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterRuntime

/// Retries, back-off, rate-limit free retries and the run's lease, on a manual clock.
@Suite struct RunSchedulerRetryLeaseTests {
    typealias Clock = RunSchedulerTests.Clock

    @Test func retriesBackOffExponentiallyWithInjectedJitter() {
        let clock = Clock()
        let backoff = Backoff(initial: .seconds(2), max: .seconds(10))
        let low = RunScheduler(config: .init(concurrency: 1, backoff: backoff), now: clock.now, random: FixedRandom(0))
        let high = RunScheduler(config: .init(concurrency: 1, backoff: backoff), now: clock.now, random: FixedRandom(0.999999))
        func delay(_ s: RunScheduler, failures: Int) -> Double? {
            s.retryAt(failures: failures, retries: 5, retryable: true, now: clock.now)?.timeIntervalSince(clock.now)
        }
        // Jitter keeps each delay in [half, full] of the step: 2, 4, 8, then capped at 10.
        #expect(delay(low, failures: 0) == 1)
        #expect(delay(low, failures: 1) == 2)
        #expect(delay(low, failures: 2) == 4)
        #expect(delay(low, failures: 3) == 5)
        #expect(abs((delay(high, failures: 0) ?? 0) - 2) < 0.001)
        #expect(abs((delay(high, failures: 4) ?? 0) - 10) < 0.001)
    }

    @Test func retriesStopWhenSpentOrNotRetryable() {
        let clock = Clock()
        let s = RunScheduler(config: .init(concurrency: 1), now: clock.now, random: FixedRandom(0.5))
        #expect(s.retryAt(failures: 1, retries: 2, retryable: true, now: clock.now) != nil)
        #expect(s.retryAt(failures: 2, retries: 2, retryable: true, now: clock.now) == nil, "retries spent")
        #expect(s.retryAt(failures: 0, retries: 0, retryable: true, now: clock.now) == nil, "no retries")
        #expect(s.retryAt(failures: 0, retries: 3, retryable: false, now: clock.now) == nil, "a denial or a violation")
    }

    @Test func rateLimitRetriesAreFreeUpToTheirCap() {
        let s = RunScheduler(config: .init(concurrency: 1, maxRateLimitRetries: 3), now: Clock().now)
        // Attempt 1, no failures: the first free retry is cool-down #1.
        #expect(s.freeRetry(attempt: 1, failures: 0) == 1)
        // Attempt 4 after one real failure: two free retries taken.
        #expect(s.freeRetry(attempt: 4, failures: 1) == 3)
        #expect(s.freeRetry(attempt: 4, failures: 0) == nil, "three free retries taken: it fails as usual")
    }

    @Test func aLiveRateLimitStartsOneCooldownPerAttempt() {
        var clock = Clock()
        var s = RunScheduler(config: .init(concurrency: 2), now: clock.now)
        _ = s.handle(.launched(.init(task: "a", attempt: 3, failures: 1)), now: clock.now)
        #expect(s.handle(.rateLimitedLive(task: "a", attempt: 3, detail: "429"), now: clock.now)
                == [.startCooldown(task: "a", detail: "429", attempt: 2)])
        #expect(s.handle(.rateLimitedLive(task: "a", attempt: 3, detail: "429"), now: clock.now) == [], "once per attempt")
        #expect(s.handle(.rateLimitedLive(task: "a", attempt: 2, detail: "429"), now: clock.now) == [], "a stale attempt")
        _ = s.handle(.launched(.init(task: "b", timeout: .seconds(1))), now: clock.now)
        clock.advance(1)
        _ = s.handle(.tick(lastOutput: ["a": clock.now, "b": clock.now]), now: clock.now)
        #expect(s.handle(.rateLimitedLive(task: "b", attempt: 1, detail: "529"), now: clock.now) == [], "a task being stopped")
        #expect(s.handle(.rateLimitedLive(task: "gone", attempt: 1, detail: "429"), now: clock.now) == [])
    }

    @Test func theLeaseIsRenewedEveryThirdOfIt() {
        var clock = Clock()
        var s = RunScheduler(config: .init(concurrency: 1, leaseSeconds: 30), now: clock.now)
        clock.advance(9.9)
        #expect(s.handle(.awake, now: clock.now) == [])
        clock.advance(0.1)
        #expect(s.handle(.awake, now: clock.now) == [.renewLease])
        #expect(s.handle(.leaseRenewed(lapsed: false), now: clock.now) == [], "renewed in time: nothing to say")
        #expect(s.lastRenewal == clock.now)
        clock.advance(5)
        #expect(s.handle(.awake, now: clock.now) == [])
    }

    @Test func aWokenHolderRenewsAndItsTasksSilenceIsNoStall() {
        var clock = Clock()
        var s = RunScheduler(config: .init(concurrency: 1, leaseSeconds: 30), now: clock.now)
        _ = s.handle(.launched(.init(task: "a", stallTimeout: .seconds(20))), now: clock.now)
        let lastOutput = clock.now
        // Suspended (SIGSTOP) for 100 s: past the lease and the task's stall timeout.
        clock.advance(100)
        #expect(s.handle(.awake, now: clock.now) == [.renewLease])
        #expect(s.handle(.leaseRenewed(lapsed: false), now: clock.now) == [
            .appendEvent(kind: "run.lease_renewed", task: nil, message:
                "the orchestrator was silent for 1m40s and its 30.0s lease lapsed; nobody took over, so it carries on with its tasks"),
        ])
        #expect(s.resumedAt == clock.now)
        #expect(s.handle(.tick(lastOutput: ["a": lastOutput]), now: clock.now) == [], "nobody read its output while suspended")
        clock.advance(20)
        #expect(s.handle(.tick(lastOutput: ["a": lastOutput]), now: clock.now).first == .signal(task: "a", .terminate))
    }

    @Test func aLeaseTheStoreSawLapseIsReportedEvenWhenTheHolderCountsLessSilence() {
        var clock = Clock()
        var s = RunScheduler(config: .init(concurrency: 1, leaseSeconds: 30), now: clock.now)
        clock.advance(29.9)
        #expect(s.handle(.awake, now: clock.now) == [.renewLease])
        #expect(s.handle(.leaseRenewed(lapsed: true), now: clock.now) == [
            .appendEvent(kind: "run.lease_renewed", task: nil, message:
                "the orchestrator was silent for 29.9s and its 30.0s lease lapsed; nobody took over, so it carries on with its tasks"),
        ])
        #expect(s.resumedAt == clock.now)
    }

    @Test func aWokenHolderWhoseRunWasTakenStops() {
        var clock = Clock()
        var s = RunScheduler(config: .init(concurrency: 1, leaseSeconds: 30), now: clock.now)
        _ = s.handle(.launched(.init(task: "a", timeout: .seconds(1))), now: clock.now)
        clock.advance(100)
        #expect(s.handle(.awake, now: clock.now) == [.renewLease])
        let other = ProcessIdentity(id: "other", host: "h", pid: 1)
        #expect(s.handle(.leaseLost(holder: other), now: clock.now) == [.stop(.holderLost(other))])
    }
}

/// Typed outcomes keep the Store's stored text, and are read back from it.
@Suite struct TaskIssueTests {
    @Test func storedTextIsUnchangedAndReadsBack() {
        let damaged = WorktreeError.damaged(worktree: "/w", reason: "its .git is a symlink")
        let cases: [(TaskIssue, String, TaskIssue.Kind)] = [
            (.warning(.unchanged(owns: ["a.txt", "b/"])), "warning: it owns a.txt, b/ but changed nothing", .warning),
            (.warning(.spawnRefused("spawn.json: bad")), "warning: spawn.json: bad", .warning),
            (.denied("1 tool call was refused: Bash"),
             "denied: 1 tool call was refused: Bash (allow them in the agent's permissions, or set `allow_denials: true`)", .denied),
            (.ownershipViolation(owns: [], paths: ["x"]), "changed files outside its owns (it owns nothing): x", .ownershipViolation),
            (.rateLimited(.retrying(seconds: 2.5)), "rate-limited: retrying in 2.5 s", .rateLimited),
            (.rateLimited(.exhausted(retries: 20, error: "429")), "rate-limited again after 20 free retries: 429", .rateLimited),
            (.worktreeDamaged(damaged), damaged.description, .worktreeDamaged),
        ]
        for (issue, text, kind) in cases {
            #expect(issue.text == text)
            #expect(TaskIssue.kind(of: text) == kind)
        }
        #expect(TaskIssue.isWarning("warning: x"))
        #expect(!TaskIssue.isWarning("exit status 1"))
        #expect(TaskIssue.kind(of: nil) == nil)
        #expect(!TaskIssue.worktreeDamaged(damaged).retryable && !TaskIssue.denied("x").retryable)
        let many = TaskIssue.ownershipViolation(owns: ["a"], paths: (1...12).map { "f\($0)" }).text
        #expect(many.hasSuffix("f10, …"))
    }
}

/// The bounded pool for blocking work.
@Suite struct BlockingPoolTests {
    @Test func runsEveryJobOnAtMostItsThreads() async throws {
        let pool = BlockingPool(threads: 2)
        let busy = Counter()
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await pool.run { () throws -> Int in
                        busy.enter()
                        defer { busy.leave() }
                        usleep(2000)
                        return index
                    }
                }
            }
            var all: [Int] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(results.sorted() == Array(0..<20))
        #expect(busy.peak <= 2 && busy.peak >= 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await pool.run { () throws -> Int in throw Boom() } }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var now = 0
        private(set) var peak = 0
        func enter() { lock.lock(); now += 1; peak = max(peak, now); lock.unlock() }
        func leave() { lock.lock(); now -= 1; lock.unlock() }
    }
}
