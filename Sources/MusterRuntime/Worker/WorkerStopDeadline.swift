import Foundation
import MusterCore
import Synchronization

/// Bounds how long a worker may take to stop once asked, even when its loop waits on an `await`
/// that never returns (a store call, say): a thread of its own (not one of Swift concurrency's,
/// which a stuck loop might hold) watches the `WorkerStop` count and the worker's agents.
///
/// After the first request the worker drains: it may take as long as its agents run, then `bound`
/// once none runs (recording and pushing their outcomes). After the second it hands back at once:
/// `grace + bound` whatever runs. Past either, `expired` is called (once) with the reason and every
/// agent process group seen since the first request.
final class WorkerStopDeadline: Sendable {
    let stop: WorkerStop
    let bound: Duration
    let grace: Duration
    let expired: @Sendable (_ reason: String, _ groups: Set<Int32>) -> Void
    private let cancelled = Mutex(false)

    init(stop: WorkerStop, bound: Duration, grace: Duration, expired: @escaping @Sendable (String, Set<Int32>) -> Void) {
        self.stop = stop
        self.bound = bound
        self.grace = grace
        self.expired = expired
        let thread = Thread { [self] in watch() }
        thread.name = "muster.worker-stop-deadline"
        thread.start()
    }

    /// The worker stopped on its own: the thread ends.
    func cancel() { cancelled.withLock { $0 = true } }

    private func watch() {
        var seen = Set<Int32>()
        var quietSince: ContinuousClock.Instant?, secondAt: ContinuousClock.Instant?
        while !cancelled.withLock({ $0 }) {
            usleep(250_000)
            let requests = stop.count.withLock { $0 }
            guard requests > 0 else { continue }
            let now = ContinuousClock.now
            if requests >= 2 && secondAt == nil { secondAt = now }
            let agents = DescendantGroups.of()
            seen.formUnion(agents)
            quietSince = agents.isEmpty ? quietSince ?? now : nil
            let reason: String
            if let secondAt, now - secondAt > grace + bound {
                reason = "did not stop within \(Self.text(grace + bound)) of the second stop signal"
            } else if let quietSince, now - quietSince > bound {
                reason = "did not stop within \(Self.text(bound)) of a stop signal with no agent left running"
            } else {
                continue
            }
            guard !cancelled.withLock({ $0 }) else { return }
            expired(reason, seen)
            return
        }
    }

    static func text(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds.rounded() == seconds ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
