import Foundation
import MusterCore
import MusterStore
import Testing

/// The decision rules both stores call (`LimitRules`, `OutcomeEffect`/`FinishTally`, `SpawnRules`),
/// checked as the pure functions they are: no store, no clock but the `t` passed in.
@Suite struct StoreRulesTests {
    let t = 1_800_000_000.0
    let perSecond = RateLimit(requestsPerMinute: 600)  // capacity 10, 10 a second

    @Test func aBucketRefillsAtItsRateUpToItsCapacityAndNeverBackwards() {
        #expect(LimitRules.level(nil, perMinute: 600, limit: perSecond, at: t) == 10)
        #expect(LimitRules.level(BucketLevel(level: 2, updatedAt: t - 0.5), perMinute: 600, limit: perSecond, at: t) == 7)
        #expect(LimitRules.level(BucketLevel(level: 2, updatedAt: t - 60), perMinute: 600, limit: perSecond, at: t) == 10)
        // Another host's clock ahead of ours: no refill, not a negative one.
        #expect(LimitRules.level(BucketLevel(level: 2, updatedAt: t + 5), perMinute: 600, limit: perSecond, at: t) == 2)
    }

    @Test func acquiringTakesEverythingOrNothing() {
        let limit = RateLimit(requestsPerMinute: 600, tokensPerMinute: 6000)  // capacities 10 and 100
        let full = LimitRules.acquire(key: "k", requests: 1, tokens: 40, limit: limit, buckets: [:], cooldown: nil, at: t)
        #expect(full.answer == .granted)
        #expect(full.writes.map(\.dimension) == ["requests", "tokens"] && full.writes.map(\.level) == [9, 60])
        // The token bucket is short by 40 at 100/s: wait 0.4 s, and take from neither bucket.
        let short = LimitRules.acquire(key: "k", requests: 1, tokens: 100, limit: limit,
                                       buckets: ["requests": BucketLevel(level: 9, updatedAt: t), "tokens": BucketLevel(level: 60, updatedAt: t)],
                                       cooldown: nil, at: t)
        guard case .wait(let seconds) = short.answer else { Issue.record("want a wait, got \(short.answer)"); return }
        #expect(abs(seconds - 0.4) < 1e-6)
        #expect(short.writes.map(\.level) == [9, 60])
        // Bigger than the bucket: goes through once the bucket is full, leaving it in debt.
        let huge = LimitRules.acquire(key: "k", requests: 25, tokens: 0, limit: perSecond, buckets: [:], cooldown: nil, at: t)
        #expect(huge.answer == .granted && huge.writes.first?.level == -15)
    }

    @Test func reservationsSpendAheadInArrivalOrderWithinMaxWait() {
        let empty = ["requests": BucketLevel(level: 0, updatedAt: t)]
        let first = LimitRules.reserve(key: "k", requests: 5, tokens: 0, limit: perSecond, maxWait: 10, buckets: empty, cooldown: nil, at: t)
        #expect(first.answer == .reserved(0.5) && first.writes.first?.level == -5)
        let second = LimitRules.reserve(key: "k", requests: 5, tokens: 0, limit: perSecond, maxWait: 10,
                                        buckets: ["requests": BucketLevel(level: -5, updatedAt: t)], cooldown: nil, at: t)
        #expect(second.answer == .reserved(1.0))
        let tooLate = LimitRules.reserve(key: "k", requests: 5, tokens: 0, limit: perSecond, maxWait: 0.2, buckets: empty, cooldown: nil, at: t)
        guard case .wait(let seconds) = tooLate.answer else { Issue.record("want a wait, got \(tooLate.answer)"); return }
        #expect(abs(seconds - 0.3) < 1e-9 && tooLate.writes.isEmpty)
    }

    @Test func aCooldownStopsEveryoneAndIsSharedNotEscalatedTwice() {
        let running = StoredCooldown(attempt: 2, until: t + 3)
        #expect(LimitRules.acquire(key: "k", requests: 1, tokens: 0, limit: perSecond, buckets: [:], cooldown: running, at: t)
                == BucketDecision(answer: .wait(3), writes: []))
        #expect(LimitRules.active(running, key: "k", at: t + 3) == nil)
        // A second worker hitting the same wave of 429s: the running one (attempt 2, 3 s left) already covers attempt 1.
        let shared = LimitRules.cooldown(key: "k", attempt: 1, stored: StoredCooldown(attempt: 2, until: t + 5), jitter: 1, at: t)
        #expect(shared.write == false && shared.cooldown.attempt == 2)
        // Soon after the last one ended: the next attempt, twice as long.
        let next = LimitRules.cooldown(key: "k", attempt: 1, stored: StoredCooldown(attempt: 2, until: t - 1), jitter: 1, at: t)
        #expect(next.write && next.cooldown.attempt == 3 && next.cooldown.until.timeIntervalSince1970 == t + 4)
        // Long after: starts over.
        let fresh = LimitRules.cooldown(key: "k", attempt: 1, stored: StoredCooldown(attempt: 5, until: t - 1000), jitter: 1, at: t)
        #expect(fresh.cooldown.attempt == 1 && fresh.cooldown.until.timeIntervalSince1970 == t + 1)
    }

    @Test func anOutcomesEffectAndWhatItReleasesOrSkips() {
        let retry = OutcomeEffect(TaskOutcome(task: "a", attempt: 2, result: .failed(retryAt: Date(timeIntervalSince1970: t + 5)), error: "429"))
        #expect(retry.state == .ready && retry.notBefore == t + 5 && retry.failed == 1 && retry.eventKind == "task.retry")
        #expect(retry.eventMessage == "attempt 2 failed: 429; retrying" && retry.finishedAt(t) == nil && !retry.skipsDependents)
        let failed = OutcomeEffect(TaskOutcome(task: "b", attempt: 1, result: .failed(retryAt: nil), error: "boom"))
        #expect(failed.state == .failed && failed.skipsDependents && failed.finishedAt(t) == t && failed.eventMessage == "boom")
        var tally = FinishTally()
        tally.note(task: "a1", group: "a", origin: "a", depth: 0, effect: OutcomeEffect(TaskOutcome(task: "a1", attempt: 1, result: .succeeded)))
        tally.note(task: "b", group: "b", origin: "lead", depth: 1, effect: failed)
        tally.note(task: "c", group: "c", origin: "lead", depth: 2, effect: retry)
        #expect(tally.succeeded == ["a", "a1"] && tally.failedGroups == ["b"] && tally.failedTasks == ["b"] && tally.skips)
        // Only a spawned task that ended for good can be the last one a join waits for; a retry is not.
        #expect(tally.finishedLineages == ["lead"])
    }

    func parent(owns: [String] = ["src/**"], depth: Int = 0, children: Int = 0) -> SpawnParent {
        SpawnParent(id: "lead", state: "running", spec: PlannedTask(id: "lead", group: "lead", agent: "shell", owns: owns),
                    depth: depth, origin: "lead", ancestors: ["lead", "root"], children: children)
    }

    func child(_ argv: String, id: String = "", owns: [String] = [], after: [String] = []) -> PlannedTask {
        PlannedTask(id: id, group: id, agent: "shell", command: Command(argv: [argv]), owns: owns, after: after)
    }

    @Test func spawnRulesRefuseWhatCouldCollideOrCycle() {
        #expect(throws: SpawnError.ownsNotSubset(child: "of lead", glob: "docs/x", parentOwns: ["src/**"])) {
            try SpawnRules.plan(run: "r", parent: parent(), children: [child("a", owns: ["docs/x"])], maxDepth: 3, states: [:], keys: [:])
        }
        #expect(throws: SpawnError.tooDeep(child: "of lead", depth: 3, maxDepth: 2)) {
            try SpawnRules.plan(run: "r", parent: parent(depth: 2), children: [child("a")], maxDepth: 2, states: [:], keys: [:])
        }
        #expect(throws: SpawnError.needsAncestor(child: "of lead", need: "root")) {
            try SpawnRules.plan(run: "r", parent: parent(), children: [child("a", after: ["root"])], maxDepth: 3,
                                states: ["root": "running"], keys: [:])
        }
        #expect(throws: SpawnError.unknownNeed(child: "of lead", need: "ghost")) {
            try SpawnRules.plan(run: "r", parent: parent(), children: [child("a", after: ["ghost"])], maxDepth: 3, states: [:], keys: [:])
        }
        #expect(throws: SpawnError.idTaken("x")) {
            try SpawnRules.plan(run: "r", parent: parent(), children: [child("a", id: "x")], maxDepth: 3, states: ["x": "ready"], keys: [:])
        }
        #expect(throws: SpawnError.parentNotRunning(task: "lead", state: "succeeded")) {
            var done = parent()
            done.state = "succeeded"
            try SpawnRules.checkParent(done)
        }
    }

    @Test func spawnRulesFoldDuplicatesNumberChildrenAndSkipAfterAFailedNeed() throws {
        let existingKey = SpawnRules.key(run: "r", parent: "lead", child: child("old", owns: ["src/a/"]))
        let steps = try SpawnRules.plan(
            run: "r", parent: parent(children: 1),
            children: [child("old", owns: ["src/a/"]), child("new", owns: ["src/b/**"]), child("new", owns: ["src/b/**"]),
                       child("late", after: ["broken"])],
            maxDepth: 3, states: ["lead.1": "running", "lead.2": "ready", "broken": "failed"], keys: [existingKey: "lead.1"])
        #expect(steps.map(\.result) == [SpawnedTask(id: "lead.1", folded: true), SpawnedTask(id: "lead.3", folded: false),
                                        SpawnedTask(id: "lead.3", folded: true), SpawnedTask(id: "lead.4", folded: false)])
        guard case .add(let added, _, nil) = steps[1], case .add(_, _, "broken") = steps[3] else {
            Issue.record("steps \(steps)")
            return
        }
        #expect(added.parent == "lead" && added.depth == 1 && added.group == "lead.3" && added.needs.isEmpty && !added.join)
    }
}
