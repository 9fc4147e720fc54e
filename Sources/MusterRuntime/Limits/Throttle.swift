import Foundation
import MusterCore
import MusterStore
import MusterSystem

/// Runs one command under a shared limit (`muster throttle`): waits for its turn in the store's
/// token buckets and semaphore, runs the command with this process's stdin/stdout/stderr in a
/// process group of its own, passes the signals this process gets on to that group, renews its
/// concurrency slot while it runs and gives the slot back at the end.
public struct Throttle: Sendable {
    public var key: String
    public var limit: MusterStore.RateLimit
    /// Tokens the command counts against the limit's tokens per minute.
    public var tokens: Int
    public var holder: String
    /// How long the slot lasts if this process dies (renewed every third of it while the command runs).
    public var leaseSeconds: Double
    /// Give up after waiting this long for a turn (`RateLimiter.Failure`); nil: as long as it takes.
    public var maxWait: Double?

    public init(key: String, limit: MusterStore.RateLimit, tokens: Int = 1, holder: String? = nil, leaseSeconds: Double = 60,
                maxWait: Double? = nil) {
        self.key = key
        self.limit = limit
        self.tokens = tokens
        self.holder = holder ?? "throttle:\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
        self.leaseSeconds = leaseSeconds
        self.maxWait = maxWait
    }

    /// The figures given (any of requests, tokens or concurrency), or else those of `key` in muster.toml.
    public static func limit(key: String, requestsPerMinute: Int?, tokensPerMinute: Int?, concurrent: Int?, burst: Double?,
                             root: URL) throws -> MusterStore.RateLimit {
        if requestsPerMinute != nil || tokensPerMinute != nil || concurrent != nil {
            return MusterStore.RateLimit(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute, concurrent: concurrent,
                                         burstSeconds: burst ?? MusterStore.RateLimit.defaultBurstSeconds)
        }
        let config = try ProjectConfig.load(root: root)
        guard let spec = config.limits[key] else {
            let known = config.limits.keys.sorted()
            throw RunRefusal("give at least one of --rpm N, --tokens N or --concurrent N, or define `\(key)` in muster.toml "
                             + "(`[limits.\(key)]` with `requests_per_minute = 60`, or `\(key) = N` under `[resources]`)"
                             + (known.isEmpty ? "" : "; muster.toml defines \(known.joined(separator: ", "))"))
        }
        var limit = MusterStore.RateLimit(spec)
        if let burst { limit.burstSeconds = burst }
        return limit
    }

    /// Waits for a turn, runs `executable` (a resolved path) with `arguments` in `directory`, and
    /// returns how it ended. Throws `RateLimiter.Failure` when `maxWait` passes first.
    public func run(_ executable: String, _ arguments: [String], in directory: String, store: any Store,
                    environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> TerminationStatus {
        let limiter = RateLimiter(store: store)
        let permit = try await limiter.acquire(key: key, requests: 1, tokens: limit.tokensPerMinute == nil ? 0 : tokens, limit: limit,
                                               holder: holder, leaseSeconds: leaseSeconds, maxWait: maxWait)
        let pid: pid_t
        do {
            pid = try CommandRunner.spawnInheritingStreams(executable, arguments, in: directory, environment: environment)
        } catch {
            try? await limiter.release(permit)
            throw error
        }
        let forwarding = SignalForwarder(pid: pid)
        let capacity = limit.concurrent ?? 1, leaseSeconds = leaseSeconds
        let renewal = permit.holdsSlot ? Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int64(leaseSeconds * 1000 / 3)))
                if Task.isCancelled { break }
                try? await limiter.renew(permit, capacity: capacity, leaseSeconds: leaseSeconds)
            }
        } : nil
        // waitpid blocks: on a thread of its own, never one of Swift concurrency's.
        let status = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: CommandRunner.wait(pid)) }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        renewal?.cancel()
        forwarding.stop()
        try await limiter.release(permit)
        return status
    }
}

/// Passes the signals a terminal or supervisor sends this process on to the child's process group
/// (it runs in a group of its own), so Ctrl-C stops the command and its status is then relayed.
final class SignalForwarder: Sendable {
    let signals = UnixSignals(trapping: SIGINT, SIGTERM, SIGHUP, SIGQUIT)

    init(pid: pid_t) {
        Task { [signals] in for await sig in signals { kill(-pid, sig) } }
    }

    /// The command has ended: nothing left to forward to (the signals stay ignored while this process exits).
    func stop() { signals.cancel(restoringDefaults: false) }
}
