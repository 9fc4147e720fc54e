import Foundation
import MusterCore
import MusterStore
import Synchronization

/// Lets claimed tasks through the shared limits their spec `uses`, without blocking the
/// orchestrator's loop: each task waits in a child task of its own and the loop hears back through
/// `deliver`. The gate also keeps the permits of waiting and running tasks, so the loop can renew
/// their concurrency slots on its heartbeat and release them when a task ends.
final class LimitGate: Sendable {
    let limiter: RateLimiter
    let limits: [String: LimitSpec]
    /// A held slot lasts this long unless renewed (a dead orchestrator's slots come back after it).
    let leaseSeconds: Double
    /// Put before every key in the store: a `--simulate` run waits on buckets of its own, never on the real ones.
    let keyPrefix: String
    /// Multiplies the per-minute figures: a simulation at 60× gets 60 times the rate, as its minutes last a second.
    let rateScale: Double
    /// Permits by task id: added as each key is acquired, removed on release.
    private let held = Mutex<[String: [RateLimiter.Permit]]>([:])
    /// The acquisitions under way, by task id.
    private let pending = Mutex<[String: Task<Void, Never>]>([:])

    /// What became of one task's wait.
    struct Admission: Sendable {
        var task: String
        var attempt: Int
        /// Seconds from the start of the wait to the last permit.
        var waited: Double
        /// nil: every key let it through.
        var failure: String?
        /// The wait was called off (the run is stopping).
        var cancelled: Bool
    }

    init(limiter: RateLimiter, limits: [String: LimitSpec], leaseSeconds: Double, keyPrefix: String = "", rateScale: Double = 1) {
        self.limiter = limiter
        self.limits = limits
        self.leaseSeconds = leaseSeconds
        self.keyPrefix = keyPrefix
        self.rateScale = rateScale
    }

    /// The Store's name for a spec key.
    func storeKey(_ key: String) -> String { keyPrefix + key }

    /// The Store's limit for a spec key (nil: the run declares no such key).
    func rateLimit(_ key: String) -> MusterStore.RateLimit? {
        guard let spec = limits[key] else { return nil }
        var limit = MusterStore.RateLimit(spec)
        func scaled(_ perMinute: Int?) -> Int? { perMinute.map { Int(min(Double(Int.max / 2), (Double($0) * rateScale).rounded(.up))) } }
        if rateScale != 1 {
            limit.requestsPerMinute = scaled(limit.requestsPerMinute)
            limit.tokensPerMinute = scaled(limit.tokensPerMinute)
        }
        return limit
    }

    /// `task:<run>/<task>#<attempt>`: one holder per start, so a retry never renews a lost attempt's slot.
    static func holder(run: String, task: TaskRecord) -> String { "task:\(run)/\(task.id)#\(task.attempt)" }

    /// Tokens a start counts against `tokens_per_minute`: its estimate, input plus output.
    static func estimatedTokens(_ spec: PlannedTask) -> Int {
        max(0, (spec.estimate?.inputTokens ?? 0) + (spec.estimate?.outputTokens ?? 0))
    }

    /// Starts waiting for every key `task` uses, in sorted order (two tasks using the same pair never
    /// hold one each while waiting for the other). `deliver` gets the result exactly once.
    func admit(_ task: TaskRecord, run: String, deliver: @escaping @Sendable (Admission) -> Void) {
        let keys = task.spec.uses.sorted()
        let holder = Self.holder(run: run, task: task)
        let tokens = Self.estimatedTokens(task.spec)
        let (id, attempt) = (task.id, task.attempt)
        // Registered under the lock before the child can finish and unregister itself.
        pending.withLock { tasks in tasks[id] = Task { [self] in
            let started = Date()
            var admission = Admission(task: id, attempt: attempt, waited: 0, failure: nil, cancelled: false)
            do {
                for key in keys {
                    guard let limit = rateLimit(key) else { throw LimitError.invalid("no limit or resource named \(key) in this run") }
                    let permit = try await limiter.acquire(key: storeKey(key), requests: 1, tokens: limit.tokensPerMinute == nil ? 0 : tokens,
                                                           limit: limit, holder: holder, leaseSeconds: leaseSeconds)
                    held.withLock { $0[id, default: []].append(permit) }
                    try Task.checkCancellation()
                }
            } catch {
                // Give back what this wait got; the task never started.
                await release(id)
                admission.cancelled = error is CancellationError
                admission.failure = "\(error)"
            }
            admission.waited = Date().timeIntervalSince(started)
            self.pending.withLock { _ = $0.removeValue(forKey: id) }
            deliver(admission)
        } }
    }

    /// Calls off every wait under way; each still delivers its admission (cancelled).
    func cancelPending() {
        for child in pending.withLock({ Array($0.values) }) { child.cancel() }
    }

    /// Releases the concurrency slots `task` holds (nothing when it holds none).
    func release(_ task: String) async {
        guard let permits = held.withLock({ $0.removeValue(forKey: task) }) else { return }
        for permit in permits { try? await limiter.release(permit) }
    }

    func releaseAll() async {
        for task in held.withLock({ Array($0.keys) }) { await release(task) }
    }

    /// Renews every held slot's lease (the loop's heartbeat calls this).
    func renewAll() async {
        for permit in held.withLock({ $0.values.flatMap { $0 } }) where permit.holdsSlot {
            try? await limiter.renew(permit, capacity: limits[String(permit.key.dropFirst(keyPrefix.count))]?.concurrent ?? 1,
                                     leaseSeconds: leaseSeconds)
        }
    }
}
