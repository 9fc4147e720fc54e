import Foundation
import MusterStore

/// Waits its turn under a shared limit kept in the Store, so every process (and, with a shared
/// store, every host) queues on the same buckets, semaphore and cool-down.
///
/// `acquire` takes a concurrency slot first (when the limit has one), then reserves from the token
/// buckets in arrival order and sleeps until the reservation starts. A cool-down (a 429 somebody
/// reported) makes everyone wait it out, with jitter so they do not come back in lockstep.
public struct RateLimiter: Sendable {
    public let store: any Store
    let clock: @Sendable () -> Date
    let sleep: @Sendable (Double) async throws -> Void

    /// `clock`: nil, the store's (buckets are judged by the clock the store keeps).
    public init(store: any Store, clock: (@Sendable () -> Date)? = nil,
                sleep: @escaping @Sendable (Double) async throws -> Void = { seconds in
                    if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up)))) }
                }) {
        self.store = store
        self.clock = clock ?? store.clock
        self.sleep = sleep
    }

    /// What `acquire` got: release it when the work is done (only a concurrency slot needs releasing).
    public struct Permit: Sendable, Equatable {
        public var key: String
        public var holder: String
        public var holdsSlot: Bool
        /// Seconds spent waiting for it.
        public var waited: Double
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case timedOut(key: String, waited: Double)
        public var description: String {
            switch self {
            case .timedOut(let key, let waited): "gave up on limit \(key) after waiting \(Int(waited.rounded())) s"
            }
        }
    }

    /// Waits until `limit` lets one call of `requests` requests and `tokens` tokens through on `key`.
    /// `holder` names the concurrency slot (unique per caller); `maxWait` bounds the whole wait.
    public func acquire(key: String, requests: Int = 1, tokens: Int = 0, limit: MusterStore.RateLimit, holder: String,
                        leaseSeconds: Double = 60, maxWait: Double? = nil) async throws -> Permit {
        try limit.validate(key: key)
        let started = clock()
        func remaining() -> Double { maxWait.map { $0 - clock().timeIntervalSince(started) } ?? .infinity }
        var holdsSlot = false
        if let capacity = limit.concurrent {
            while true {
                switch try await store.acquireSlot(key: key, capacity: capacity, holder: holder, leaseSeconds: leaseSeconds, now: clock()) {
                case .acquired:
                    holdsSlot = true
                case .full(_, let retryAfter):
                    // Holders release long before their lease ends, as a rule: poll, backing off up to a second.
                    try await pause(min(max(retryAfter, 0.01), 0.05 + Double.random(in: 0...0.2)), remaining: remaining(), key: key, started: started)
                    continue
                }
                break
            }
        }
        // While it waits for the buckets or a cool-down, the slot it holds must not lapse.
        let slot = holdsSlot ? HeldSlot(key: key, holder: holder, capacity: limit.concurrent ?? 1, leaseSeconds: leaseSeconds) : nil
        do {
            // Even a concurrency-only limit asks the buckets: that is where a cool-down makes it wait.
            do {
                while true {
                    let budget = remaining()
                    switch try await store.reserveTokens(key: key, requests: requests, tokens: tokens, limit: limit,
                                                         maxWait: budget.isFinite ? max(0, budget) : 3600, now: clock()) {
                    case .granted:
                        return Permit(key: key, holder: holder, holdsSlot: holdsSlot, waited: clock().timeIntervalSince(started))
                    case .reserved(let seconds):
                        // The tokens are ours: sleep exactly until the reservation starts (never earlier).
                        try await sleep(seconds, holding: slot)
                        return Permit(key: key, holder: holder, holdsSlot: holdsSlot, waited: clock().timeIntervalSince(started))
                    case .wait(let seconds):
                        try await pause(seconds * Double.random(in: 1...1.2) + 0.005, remaining: remaining(), key: key, started: started,
                                        holding: slot)
                    }
                }
            }
        } catch {
            if holdsSlot { _ = try? await store.releaseSlot(key: key, holder: holder) }
            throw error
        }
    }

    private func pause(_ seconds: Double, remaining: Double, key: String, started: Date, holding slot: HeldSlot? = nil) async throws {
        guard remaining > 0 else { throw Failure.timedOut(key: key, waited: clock().timeIntervalSince(started)) }
        try await sleep(min(seconds, remaining), holding: slot)
    }

    /// A slot taken before waiting for the buckets.
    struct HeldSlot: Sendable {
        var key: String
        var holder: String
        var capacity: Int
        var leaseSeconds: Double
    }

    /// Sleeps, renewing a held slot every third of its lease: a long reservation or cool-down must not let it lapse.
    private func sleep(_ seconds: Double, holding slot: HeldSlot?) async throws {
        guard let slot else { return try await sleep(seconds) }
        var left = seconds
        while true {
            let step = min(left, slot.leaseSeconds / 3)
            try await sleep(step)
            left -= step
            guard left > 0 else { return }
            _ = try await store.acquireSlot(key: slot.key, capacity: slot.capacity, holder: slot.holder, leaseSeconds: slot.leaseSeconds,
                                            now: clock())
        }
    }

    /// Keeps a held slot alive (for work longer than its lease).
    public func renew(_ permit: Permit, capacity: Int, leaseSeconds: Double) async throws {
        guard permit.holdsSlot else { return }
        _ = try await store.acquireSlot(key: permit.key, capacity: capacity, holder: permit.holder, leaseSeconds: leaseSeconds, now: clock())
    }

    public func release(_ permit: Permit) async throws {
        if permit.holdsSlot { try await store.releaseSlot(key: permit.key, holder: permit.holder) }
    }

    /// Reports a rate-limit or overload error on `key`: starts (or extends) the shared cool-down.
    @discardableResult
    public func backOff(key: String, attempt: Int) async throws -> Cooldown {
        try await store.startCooldown(key: key, attempt: attempt, now: clock())
    }
}
