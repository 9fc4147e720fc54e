/// A shared limit as written under `limits:` (an API's rate and concurrency) or `resources:` (a pool,
/// only a concurrency cap). Tasks name it in `uses:`; the runtime turns it into the Store's token
/// buckets and semaphore, shared by every process on the store.
public struct LimitSpec: Codable, Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrent: Int?
    /// Seconds of the rate a bucket may let through at once after a quiet spell (nil: the default, 1 s).
    public var burstSeconds: Double?
    /// Written under `resources:`: a pool. A rate-limit error cools `limits:` keys down, never a pool.
    public var isResource: Bool

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrent: Int? = nil,
                burstSeconds: Double? = nil, isResource: Bool = false) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrent = concurrent
        self.burstSeconds = burstSeconds
        self.isResource = isResource
    }

    /// `resources: {postgres: 20}`: at most 20 holders at once.
    public static func resource(_ slots: Int) -> LimitSpec { LimitSpec(concurrent: slots, isResource: true) }

    /// The keys of a limit's mapping, in the spec and in muster.toml.
    public static let keys = ["requests_per_minute", "tokens_per_minute", "concurrent", "burst"]

    /// Letters, digits, `_`, `-`, `.` and `:`, at most 64 (every process sharing the store shares the key).
    public static func isValidKey(_ key: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")
        return !key.isEmpty && key.count <= 64 && key.allSatisfy { allowed.contains($0) }
    }

    public var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrent == nil }
}
