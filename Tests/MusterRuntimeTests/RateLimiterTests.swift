import Foundation
import MusterStore
import Synchronization
import Testing
@testable import MusterRuntime

/// `RateLimiter` on a real SQLite store with a clock that only moves when the limiter sleeps.
@Suite struct RateLimiterTests {
    final class FakeClock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
        var date: Date { now.withLock { $0 } }
    }

    /// A slot taken before a long wait for the bucket is renewed while it waits: nobody else gets it
    /// when its lease would have lapsed.
    @Test func aSlotHeldWhileWaitingForTheBucketDoesNotLapse() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-limiter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("muster.db").path)
        let clock = FakeClock()
        let limiter = RateLimiter(store: store, clock: { clock.date }, sleep: { clock.advance($0) })
        // 6 a minute: a bucket of one request, refilled every 10 s. One slot, leased for 3 s.
        let limit = MusterStore.RateLimit(requestsPerMinute: 6, concurrent: 1)
        let first = try await limiter.acquire(key: "api", limit: limit, holder: "first", leaseSeconds: 3)
        try await limiter.release(first)
        let started = clock.date
        let second = try await limiter.acquire(key: "api", limit: limit, holder: "second", leaseSeconds: 3)
        #expect(second.holdsSlot)
        #expect(clock.date.timeIntervalSince(started) >= 9.9, "it did not wait for the bucket")
        // Without renewals its slot would have lapsed 3 s into the 10 s wait.
        let other = try await store.acquireSlot(key: "api", capacity: 1, holder: "other", leaseSeconds: 3, now: clock.date)
        #expect(other == .full(holders: 1, retryAfter: other.retryAfter), "the waiting holder's slot lapsed: \(other)")
    }
}

extension SlotAcquisition {
    var retryAfter: Double { if case .full(_, let seconds) = self { seconds } else { 0 } }
}
