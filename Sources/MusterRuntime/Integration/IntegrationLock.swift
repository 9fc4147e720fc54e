import Foundation
import MusterStore
import Synchronization

/// Another `muster integrate` of the same run holds the run's integration lock.
public struct IntegrationBusy: Error, CustomStringConvertible, Sendable, Equatable {
    public var run: String
    public var holder: LockRecord
    public var liveness: HolderLiveness
    public var waited: Double

    public var description: String {
        let waitedText = waited > 0 ? " (still, after waiting \(Int(waited.rounded())) s)" : ""
        return "run \(run) is being integrated by pid \(holder.pid) on \(holder.host)\(waitedText), since \(LockManager.iso(holder.acquiredAt)); "
            + (waited > 0 ? "try again later" : "wait for it with --wait 5m, or try again later")
    }
}

/// One `muster integrate` per run at a time: a lease-backed lock in the Store under a reserved name
/// (`/muster/integrate/<run>`: it starts with "/", so no `muster lock` path can ever be it), renewed
/// while integrating. A holder that died is taken over at once (its pid is gone), one that hangs once
/// its lease lapses; the integrator checks `isHeld` before every move of the branch, so a holder
/// that lost its lease stops instead of racing its successor.
public final class IntegrationLease: Sendable {
    public static let ttl = 30.0

    public static func path(run: String) -> String { "/muster/integrate/\(run)" }

    let manager: LockManager
    let path: String
    let identity: LockIdentity
    /// False once lost; and the lease's end as this holder last renewed it.
    let held = Mutex(true)
    private let until: Mutex<Date>
    private let renewal = Mutex<Task<Void, Never>?>(nil)

    init(manager: LockManager, path: String, identity: LockIdentity, until: Date) {
        self.until = Mutex(until)
        self.manager = manager
        self.path = path
        self.identity = identity
    }

    /// Takes the run's integration lock, polling up to `wait` seconds; throws `IntegrationBusy`.
    /// `identity`: who holds it (default: this process, so a crashed holder is recognised as dead).
    public static func acquire(store: any Store, run: String, wait: Double = 0,
                               identity: LockIdentity? = nil) async throws -> IntegrationLease {
        let manager = LockManager(store: store, markerDirectory: nil)
        let me = identity ?? LockIdentity(holder: LockIdentity.pidHolder(host: manager.host, pid: getpid()),
                                          host: manager.host, pid: getpid())
        let path = Self.path(run: run)
        switch try await manager.acquire(path, as: me, ttl: ttl, wait: wait) {
        case .held(let holder, let liveness):
            throw IntegrationBusy(run: run, holder: holder, liveness: liveness, waited: wait)
        case .acquired(let record, _, _):
            let lease = IntegrationLease(manager: manager, path: path, identity: me, until: record.expiresAt)
            lease.startRenewing()
            return lease
        }
    }

    /// False once a renewal found the lock gone to someone else, or once the lease ran out without
    /// a renewal (a holder suspended past its lease may already have a successor, renewal or not).
    public var isHeld: Bool { held.withLock { $0 } && Date() < until.withLock { $0 } }

    func startRenewing() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(Self.ttl / 3))
                guard !Task.isCancelled, let self else { return }
                if await self.renew() { continue }
                self.held.withLock { $0 = false }
                return
            }
        }
        renewal.withLock { $0 = task }
    }

    /// True while the store still has this holder on the lock (a failed read counts as held: the lease decides).
    func renew() async -> Bool {
        do {
            let asked = Date()
            if case .acquired = try await manager.renew(path, as: identity, ttl: Self.ttl) {
                until.withLock { $0 = asked.addingTimeInterval(Self.ttl) }
                return true
            }
            return false
        } catch {
            return true
        }
    }

    deinit { renewal.withLock { $0?.cancel() } }

    /// Stops renewing and lets go (only if still this holder's).
    public func release() async {
        renewal.withLock { $0?.cancel(); $0 = nil }
        _ = try? await manager.release(path, holder: identity.holder)
    }
}
