import Foundation

/// A lease-backed lock on a repository path, for the rare shared file several tasks edit in turn.
public struct LockRecord: Sendable, Codable, Equatable {
    public var path: String
    public var holder: String
    public var host: String
    public var pid: Int32
    public var run: String?
    public var task: String?
    public var acquiredAt: Date
    public var expiresAt: Date

    public init(path: String, holder: String, host: String, pid: Int32, run: String? = nil, task: String? = nil,
                acquiredAt: Date, expiresAt: Date) {
        self.path = path
        self.holder = holder
        self.host = host
        self.pid = pid
        self.run = run
        self.task = task
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }
}

public struct LockRequest: Sendable, Equatable {
    public var path: String
    public var holder: String
    public var host: String
    public var pid: Int32
    public var run: String?
    public var task: String?
    public var ttl: Double
    /// Take the lock over from this holder even if its lease is live (the caller saw it is dead).
    public var replacing: String?

    public init(path: String, holder: String, host: String, pid: Int32, run: String? = nil, task: String? = nil,
                ttl: Double, replacing: String? = nil) {
        self.path = path
        self.holder = holder
        self.host = host
        self.pid = pid
        self.run = run
        self.task = task
        self.ttl = ttl
        self.replacing = replacing
    }
}

public enum LockAcquisition: Sendable, Equatable {
    /// `previous` is the stale lock that was taken over, if any.
    case acquired(previous: LockRecord?)
    case heldBy(LockRecord)
}
