import Foundation
import MusterStore

/// One lock as `muster lock renew|list --json` shows it (and inside `held_by`).
public struct LockReport: Codable, Sendable {
    public var path, holder, host: String
    public var pid: Int
    @Nullable public var run: String?
    @Nullable public var task: String?
    public var acquired, expires: String
    /// Whether its holder lives: the key is absent when it was not checked, `null` when it cannot
    /// be told (another host's process, a named holder).
    public var holderAlive: Nullable<Bool>?
    /// Why its holder is dead, when it is.
    public var holderDeadReason: String?
    /// `renew`: true.
    public var renewed: Bool?
    /// `list`: its lease ran out.
    public var expired: Bool?

    enum CodingKeys: String, CodingKey {
        case path, holder, host, pid, run, task, acquired, expires, holderAlive = "holder_alive"
        case holderDeadReason = "holder_dead_reason", renewed, expired
    }

    public init(_ record: LockRecord, liveness: HolderLiveness? = nil, renewed: Bool? = nil, expired: Bool? = nil) {
        path = record.path
        holder = record.holder
        host = record.host
        pid = Int(record.pid)
        run = record.run
        task = record.task
        acquired = LockManager.iso(record.acquiredAt)
        expires = LockManager.iso(record.expiresAt)
        switch liveness {
        case .alive?: holderAlive = Nullable(wrappedValue: true)
        case .dead(let why)?:
            holderAlive = Nullable(wrappedValue: false)
            holderDeadReason = why
        case .unknown?: holderAlive = Nullable(wrappedValue: nil)
        case nil: break
        }
        self.renewed = renewed
        self.expired = expired
    }
}

/// `muster lock acquire --json`: the lock it now holds (`acquired: true`), or who holds it
/// (`acquired: false`, `held_by`).
public struct LockAcquireReport: Codable, Sendable {
    public struct Takeover: Codable, Sendable {
        public var holder, reason: String
    }

    public var acquired: Bool
    public var path: String
    public var holder, host, expires: String?
    public var pid: Int?
    public var run, task: Nullable<String>?
    public var renewed: Bool?
    /// The stale lock it took over, `null` when there was none.
    public var tookOver: Nullable<Takeover>?
    public var heldBy: LockReport?

    enum CodingKeys: String, CodingKey {
        case acquired, path, holder, host, expires, pid, run, task, renewed, tookOver = "took_over", heldBy = "held_by"
    }

    public static func acquired(_ record: LockRecord, takeover: LockTakeover?, renewed: Bool) -> LockAcquireReport {
        LockAcquireReport(acquired: true, path: record.path, holder: record.holder, host: record.host,
                          expires: LockManager.iso(record.expiresAt), pid: Int(record.pid),
                          run: Nullable(wrappedValue: record.run), task: Nullable(wrappedValue: record.task), renewed: renewed,
                          tookOver: Nullable(wrappedValue: takeover.map { Takeover(holder: $0.previous.holder, reason: $0.reason) }))
    }

    public static func held(_ path: String, by current: LockRecord, liveness: HolderLiveness) -> LockAcquireReport {
        LockAcquireReport(acquired: false, path: path, heldBy: LockReport(current, liveness: liveness))
    }
}

/// `muster lock release --json`; `held_by` (the lock, or `null` when nothing held it) only when it was not released.
public struct LockReleaseReport: Codable, Sendable {
    public var released: Bool
    public var path, holder: String
    public var heldBy: Nullable<LockReport>?

    enum CodingKeys: String, CodingKey { case released, path, holder, heldBy = "held_by" }

    public init(released: Bool, path: String, holder: String, heldBy: Nullable<LockReport>? = nil) {
        self.released = released
        self.path = path
        self.holder = holder
        self.heldBy = heldBy
    }
}
