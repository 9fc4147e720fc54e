import Foundation
import MusterCore
import MusterStore
import Synchronization

extension Worker {
    /// The exit status of a worker that did not stop within its bound (`WorkerStopDeadline`).
    public static let forcedStopStatus: Int32 = 3

    /// Called on the deadline's thread once a stop took too long: stops the agents' process groups
    /// (SIGTERM, `grace`, SIGKILL), records the hand-back if the store answers within a few seconds
    /// (their leases lapse either way and other workers take the tasks over), says why on stderr and
    /// exits (`Options.exit`). Nothing here waits on the loop that is stuck.
    func forceStop(reason: String, groups: Set<Int32>) {
        Self.stderr("muster worker \(identity.id): \(reason): stopping its agents and handing their tasks back")
        let stopped = OrphanReaper.stopBlocking(groups: groups, grace: options.grace)
        let recorded = handBack(message: "\(identity.id): \(reason); \(stopped) agents stopped, their tasks left to lapse to other workers",
                                within: .seconds(5))
        Self.stderr("muster worker \(identity.id): exiting (status \(Self.forcedStopStatus))"
                    + (recorded ? "" : "; the store did not answer, so the hand-back is not recorded"))
        options.exit(Self.forcedStopStatus)
    }

    /// A `worker.handed_back` event on the run being served and the worker's record removed, given
    /// `bound` at most (the store may be what is stuck): true when both were written.
    private func handBack(message: String, within bound: Duration) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let written = Mutex(false)
        let store = self.store, run = serving.withLock { $0 }, id = identity.id
        let work = Task {
            if let run { try await store.appendEvent(NewEvent(run: run, kind: "worker.handed_back", message: message, at: store.clock())) }
            try await store.removeWorker(id: id)
            written.withLock { $0 = true }
        }
        Task { _ = await work.result; done.signal() }
        _ = done.wait(timeout: .now() + .milliseconds(Int(bound.seconds * 1000)))
        work.cancel()
        return written.withLock { $0 }
    }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
