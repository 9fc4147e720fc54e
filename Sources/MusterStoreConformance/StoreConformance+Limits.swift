import Foundation
import MusterCore
import MusterStore

/// Shared limits: token buckets, semaphores and cool-downs (see `RateLimit`).
extension StoreConformance {
    public static let limitChecks: [(name: String, check: Check)] = [
        ("bucketNeverExceedsItsRateOverAMinute", bucketNeverExceedsItsRateOverAMinute),
        ("tokenBucketChargesTokensAndBigRequestsWait", tokenBucketChargesTokensAndBigRequestsWait),
        ("reservationsKeepArrivalOrderAndRate", reservationsKeepArrivalOrderAndRate),
        ("semaphoreNeverExceedsCapacityWith16Holders", semaphoreNeverExceedsCapacityWith16Holders),
        ("expiredSlotsAreFreed", expiredSlotsAreFreed),
        ("cooldownIsSharedAndGrows", cooldownIsSharedAndGrows),
        ("zeroOrNegativeLimitsAreRefused", zeroOrNegativeLimitsAreRefused),
        ("activeCooldownsAreListedUntilTheyEnd", activeCooldownsAreListedUntilTheyEnd),
    ]

    public static let activeCooldownsAreListedUntilTheyEnd: Check = { store in
        try expect(try await store.activeCooldowns(now: t0).isEmpty, "no cool-down yet")
        let first = try await store.startCooldown(key: "anthropic", attempt: 1, now: t0)
        _ = try await store.startCooldown(key: "openai", attempt: 1, now: t0)
        let active = try await store.activeCooldowns(now: t0)
        try expect(Set(active.map(\.key)) == ["anthropic", "openai"], "active: \(active.map(\.key))")
        try expect(active.first { $0.key == "anthropic" }?.until == first.until, "until differs from startCooldown's")
        let later = active.map(\.until).max()!.addingTimeInterval(1)
        try expect(try await store.activeCooldowns(now: later).isEmpty, "an ended cool-down is still listed")
    }

    /// The most grants in any window of `width` seconds.
    static func busiestWindow(_ times: [Double], width: Double) -> Int {
        let sorted = times.sorted()
        var best = 0, start = 0
        for end in sorted.indices {
            while sorted[end] - sorted[start] >= width { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    public static let bucketNeverExceedsItsRateOverAMinute: Check = { store in
        // 600 a minute = 10 a second, a bucket of 10 (1 s of burst). Ask every 10 ms for a simulated minute.
        let limit = RateLimit(requestsPerMinute: 600)
        var granted: [Double] = []
        var waits = 0
        for _ in 0..<12 {
            if try await store.acquireTokens(key: "api", requests: 1, tokens: 0, limit: limit, now: t0) == .granted { granted.append(0) }
        }
        try expect(granted.count == 10, "a fresh bucket lets \(granted.count) through at once, want its 10")
        for step in 0..<6000 {
            let t = Double(step) / 100
            switch try await store.acquireTokens(key: "api", requests: 1, tokens: 0, limit: limit, now: t0.addingTimeInterval(t)) {
            case .granted: granted.append(t)
            case .wait(let seconds):
                waits += 1
                try expect(seconds > 0 && seconds <= 0.1 + 1e-9, "wait \(seconds) s for one request at 10/s")
            case .reserved: throw ConformanceFailure("acquireTokens must never reserve")
            }
        }
        try expect(granted.count <= 10 + 600 && granted.count >= 595, "granted \(granted.count) in a minute, want 600 + burst 10 at most")
        let busiest = busiestWindow(granted, width: 1)
        try expect(busiest <= 20, "\(busiest) grants in one second: more than the rate (10) plus one burst (10)")
        try expect(waits > 0, "an exhausted bucket never said wait")
        // Other keys have buckets of their own.
        try expect(try await store.acquireTokens(key: "other", requests: 1, tokens: 0, limit: limit, now: t0) == .granted, "keys share a bucket")
    }

    public static let tokenBucketChargesTokensAndBigRequestsWait: Check = { store in
        // 6,000 tokens a minute = 100 a second (bucket 100), no request limit.
        let limit = RateLimit(tokensPerMinute: 6000)
        try expect(try await store.acquireTokens(key: "llm", requests: 1, tokens: 80, limit: limit, now: t0) == .granted, "80 of 100")
        guard case .wait(let seconds) = try await store.acquireTokens(key: "llm", requests: 1, tokens: 50, limit: limit, now: t0) else {
            throw ConformanceFailure("50 more tokens granted from a bucket holding 20")
        }
        try expect(abs(seconds - 0.3) < 1e-6, "wait \(seconds), want 0.3 s for 30 tokens at 100/s")
        try expect(try await store.acquireTokens(key: "llm", requests: 1, tokens: 50, limit: limit, now: t0.addingTimeInterval(0.3)) == .granted,
                   "not granted once refilled")
        // A request bigger than the bucket waits for a full bucket, then goes through (leaving a debt).
        guard case .wait = try await store.acquireTokens(key: "llm", requests: 1, tokens: 500, limit: limit, now: t0.addingTimeInterval(0.5)) else {
            throw ConformanceFailure("an oversized request went through before the bucket was full")
        }
        try expect(try await store.acquireTokens(key: "llm", requests: 1, tokens: 500, limit: limit, now: t0.addingTimeInterval(2)) == .granted,
                   "an oversized request never goes through")
        guard case .wait(let debt) = try await store.acquireTokens(key: "llm", requests: 1, tokens: 1, limit: limit, now: t0.addingTimeInterval(2)) else {
            throw ConformanceFailure("the debt of an oversized request was forgotten")
        }
        try expect(debt > 3.9 && debt < 4.1, "wait \(debt) s after a 500-token request at 100/s, want 4")
        // Both dimensions must have room.
        let both = RateLimit(requestsPerMinute: 60, tokensPerMinute: 6000)
        try expect(try await store.acquireTokens(key: "both", requests: 1, tokens: 10, limit: both, now: t0) == .granted, "first call")
        guard case .wait(let w) = try await store.acquireTokens(key: "both", requests: 1, tokens: 10, limit: both, now: t0) else {
            throw ConformanceFailure("the request bucket (1 a second) was ignored")
        }
        try expect(abs(w - 1) < 1e-6, "wait \(w), want 1 s")
        try expect(try await store.acquireTokens(key: "both", requests: 1, tokens: 10, limit: both, now: t0.addingTimeInterval(1)) == .granted,
                   "a refused call must not have taken tokens")
    }

    public static let reservationsKeepArrivalOrderAndRate: Check = { store in
        let limit = RateLimit(requestsPerMinute: 600)  // 10 a second, bucket 10
        var starts: [Double] = []
        for _ in 0..<50 {
            switch try await store.reserveTokens(key: "api", requests: 1, tokens: 0, limit: limit, maxWait: 60, now: t0) {
            case .granted: starts.append(0)
            case .reserved(let seconds): starts.append(seconds)
            case .wait(let seconds): throw ConformanceFailure("refused a reservation within maxWait (wait \(seconds))")
            }
        }
        try expect(starts == starts.sorted(), "reservations out of arrival order: \(starts)")
        try expect(starts.filter { $0 == 0 }.count == 10, "the burst: \(starts.filter { $0 == 0 }.count) at once, want 10")
        try expect(abs(starts[49] - 4.0) < 1e-6, "the 50th starts at \(starts[49]) s, want 4 s")
        try expect(busiestWindow(starts, width: 1) <= 20, "reservations exceed rate plus burst")
        // Past maxWait nothing is reserved; a non-reserving caller sees the queue too.
        guard case .wait = try await store.reserveTokens(key: "api", requests: 1, tokens: 0, limit: limit, maxWait: 1, now: t0) else {
            throw ConformanceFailure("reserved beyond maxWait")
        }
        guard case .wait(let seconds) = try await store.acquireTokens(key: "api", requests: 1, tokens: 0, limit: limit, now: t0) else {
            throw ConformanceFailure("acquireTokens jumped the queue of reservations")
        }
        try expect(abs(seconds - 4.1) < 1e-6, "wait \(seconds), want 4.1 s behind 40 reservations")
    }

    public static let semaphoreNeverExceedsCapacityWith16Holders: Check = { store in
        let inside = Occupancy()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for holder in 0..<16 {
                group.addTask {
                    for _ in 0..<5 {
                        while true {
                            if case .acquired(let holders) = try await store.acquireSlot(key: "db", capacity: 4, holder: "h\(holder)",
                                                                                         leaseSeconds: 60, now: Date()) {
                                try expect(holders <= 4, "the store reports \(holders) holders of 4 slots")
                                break
                            }
                            try await Task.sleep(for: .milliseconds(1))
                        }
                        let now = await inside.enter()
                        try expect(now <= 4, "\(now) holders inside a semaphore of 4")
                        try await Task.sleep(for: .milliseconds(2))
                        await inside.leave()
                        try expect(try await store.releaseSlot(key: "db", holder: "h\(holder)"), "release of a held slot said not held")
                    }
                }
            }
            try await group.waitForAll()
        }
        let (peak, turns) = await (inside.peak, inside.turns)
        try expect(turns == 80 && peak <= 4, "turns \(turns), peak \(peak)")
        try expect(peak >= 2, "no concurrency at all (peak \(peak))")
    }

    public static let expiredSlotsAreFreed: Check = { store in
        try expect(try await store.acquireSlot(key: "pool", capacity: 2, holder: "a", leaseSeconds: 10, now: t0) == .acquired(holders: 1), "a")
        try expect(try await store.acquireSlot(key: "pool", capacity: 2, holder: "b", leaseSeconds: 10, now: t0.addingTimeInterval(2))
                   == .acquired(holders: 2), "b")
        // Acquiring again renews: no second slot.
        try expect(try await store.acquireSlot(key: "pool", capacity: 2, holder: "a", leaseSeconds: 10, now: t0.addingTimeInterval(4))
                   == .acquired(holders: 2), "a renewing took a second slot")
        let full = try await store.acquireSlot(key: "pool", capacity: 2, holder: "c", leaseSeconds: 10, now: t0.addingTimeInterval(5))
        try expect(full == .full(holders: 2, retryAfter: 7), "full semaphore: \(full), want b's lease to end in 7 s")
        // b died (its lease lapsed at 12 s); a renewed until 14 s.
        try expect(try await store.acquireSlot(key: "pool", capacity: 2, holder: "c", leaseSeconds: 10, now: t0.addingTimeInterval(13))
                   == .acquired(holders: 2), "the slot of a dead holder was not freed")
        try expect(!(try await store.releaseSlot(key: "pool", holder: "b")), "an expired slot was still held")
        try expect(try await store.releaseSlot(key: "pool", holder: "a"), "release")
        try expect(try await store.acquireSlot(key: "pool", capacity: 2, holder: "d", leaseSeconds: 10, now: t0.addingTimeInterval(13))
                   == .acquired(holders: 2), "a released slot was not reusable")
    }

    public static let cooldownIsSharedAndGrows: Check = { store in
        try expect(try await store.cooldown(key: "anthropic", now: t0) == nil, "a cool-down out of nowhere")
        let first = try await store.startCooldown(key: "anthropic", attempt: 1, now: t0)
        let length = first.until.timeIntervalSince(t0)
        try expect(first.attempt == 1 && length >= 0.75 && length <= 1.25, "first cool-down \(length) s, want 1 s ± 25%")
        // Another worker sees it, and a token bucket on the key waits it out.
        try expect(try await store.cooldown(key: "anthropic", now: t0.addingTimeInterval(0.5)) == first, "cool-down not shared")
        guard case .wait(let wait) = try await store.acquireTokens(key: "anthropic", requests: 1, tokens: 0,
                                                                   limit: RateLimit(requestsPerMinute: 6000), now: t0.addingTimeInterval(0.5)) else {
            throw ConformanceFailure("granted during a cool-down")
        }
        try expect(abs(wait - (length - 0.5)) < 1e-6, "wait \(wait), want the rest of the cool-down")
        guard case .wait = try await store.reserveTokens(key: "anthropic", requests: 1, tokens: 0, limit: RateLimit(concurrent: 3),
                                                         maxWait: 60, now: t0.addingTimeInterval(0.5)) else {
            throw ConformanceFailure("reserved during a cool-down")
        }
        // A second worker hitting the same wave never shortens it.
        let again = try await store.startCooldown(key: "anthropic", attempt: 1, now: t0.addingTimeInterval(0.6))
        try expect(again.until >= first.until, "a second report shortened the cool-down")
        // After it ends, the next one grows: attempt 2 (2 s ± 25%) even if the caller says 1.
        let later = t0.addingTimeInterval(10)
        try expect(try await store.cooldown(key: "anthropic", now: later) == nil, "the cool-down never ended")
        let second = try await store.startCooldown(key: "anthropic", attempt: 1, now: later)
        let secondLength = second.until.timeIntervalSince(later)
        try expect(second.attempt == 2 && secondLength >= 1.5 && secondLength <= 2.5, "second cool-down attempt \(second.attempt), \(secondLength) s")
        let fifth = try await store.startCooldown(key: "anthropic", attempt: 5, now: later.addingTimeInterval(1))
        let fifthLength = fifth.until.timeIntervalSince(later.addingTimeInterval(1))
        try expect(fifth.attempt == 5 && fifthLength >= 12 && fifthLength <= 20, "attempt 5: \(fifthLength) s, want 16 s ± 25%")
        let huge = try await store.startCooldown(key: "anthropic", attempt: 40, now: later.addingTimeInterval(1))
        try expect(huge.until.timeIntervalSince(later.addingTimeInterval(1)) <= Cooldown.maxSeconds * 1.25, "back-off not capped")
        try expect(try await store.cooldown(key: "openai", now: later) == nil, "a cool-down leaked to another key")
    }

    public static let zeroOrNegativeLimitsAreRefused: Check = { store in
        func refused(_ what: String, _ body: () async throws -> Void) async throws {
            do {
                try await body()
                throw ConformanceFailure("\(what) was accepted")
            } catch let error as LimitError {
                try expect(!error.description.isEmpty, "no message")
            }
        }
        try await refused("rpm 0") { _ = try await store.acquireTokens(key: "k", requests: 1, tokens: 0, limit: RateLimit(requestsPerMinute: 0), now: t0) }
        try await refused("tpm -5") { _ = try await store.acquireTokens(key: "k", requests: 1, tokens: 1, limit: RateLimit(tokensPerMinute: -5), now: t0) }
        try await refused("concurrent 0") {
            _ = try await store.reserveTokens(key: "k", requests: 1, tokens: 0, limit: RateLimit(concurrent: 0), maxWait: 1, now: t0)
        }
        try await refused("burst 0") {
            _ = try await store.acquireTokens(key: "k", requests: 1, tokens: 0, limit: RateLimit(requestsPerMinute: 5, burstSeconds: 0), now: t0)
        }
        try await refused("negative requests") {
            _ = try await store.acquireTokens(key: "k", requests: -1, tokens: 0, limit: RateLimit(requestsPerMinute: 5), now: t0)
        }
        try await refused("capacity 0") { _ = try await store.acquireSlot(key: "k", capacity: 0, holder: "h", leaseSeconds: 1, now: t0) }
        try await refused("lease 0") { _ = try await store.acquireSlot(key: "k", capacity: 1, holder: "h", leaseSeconds: 0, now: t0) }
        do {
            _ = try await store.acquireTokens(key: "k", requests: 1, tokens: 0, limit: RateLimit(requestsPerMinute: 0), now: t0)
        } catch {
            try expect("\(error)".contains("requests_per_minute") && "\(error)".contains("0"), "unclear error: \(error)")
        }
    }
}

/// Who is inside the semaphore right now, as the holders themselves count it.
actor Occupancy {
    var now = 0, peak = 0, turns = 0
    func enter() -> Int {
        now += 1
        peak = max(peak, now)
        turns += 1
        return now
    }
    func leave() { now -= 1 }
}
