import Foundation
import MusterCore
import MusterStore

/// Claims this orchestrator holds in the Store but never heard of. A network store can apply a
/// claim whose reply is lost (the connection cut after COMMIT); the claim is then sent again and
/// answered with other tasks, while the first ones stay held, their leases renewed by every
/// heartbeat, and never run. Found at a renewal and handed back, without spending a retry.
extension Orchestrator.Loop {
    /// The tasks this loop knows it holds: running, claimed (waiting or being prepared) or exiting.
    var knownHeld: Set<String> { Set(running.keys).union(claimed.keys).union(exiting.keys) }

    /// Hands back what the Store says this holder holds beyond `knownHeld`, when `held` (a count the
    /// caller already has, from a heartbeat or the run's counts) says there is any.
    mutating func handBackUnknownClaims(held: Int, now: Date) async throws {
        let known = knownHeld
        guard held > known.count else { return }
        let unknown = try await o.store.tasks(run: run.id).filter {
            $0.state == .running && $0.holder == o.identity.id && !known.contains($0.id)
        }
        guard !unknown.isEmpty else { return }
        let outcomes = unknown.map { task in
            var outcome = TaskOutcome(task: task.id, attempt: task.attempt, result: .failed(retryAt: now),
                                      error: "claimed by \(o.identity.host) but never started there (a claim whose reply was lost); handed back")
            outcome.countsAsFailure = false
            return outcome
        }
        _ = try await o.store.finish(run: run.id, holder: o.identity.id, outcomes, now: now)
    }
}
