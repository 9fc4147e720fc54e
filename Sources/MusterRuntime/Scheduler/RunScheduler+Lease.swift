import Foundation
import MusterCore

/// The run's lease. It is renewed every third of it, fenced by the holder epoch (in the Store). An
/// orchestrator that wakes after its lease lapsed (SIGSTOP, Ctrl-Z, a closed laptop lid) learns,
/// before it judges or kills anything, whether it is still the holder: if nobody took over it
/// renews and carries on with its tasks untouched (their silence while it slept is no stall); if
/// someone did, it stops, leaving the new holder's tasks alone.
extension RunScheduler {
    mutating func checkLease(now: Date, into effects: inout [SchedulerEffect]) {
        let silent = now.timeIntervalSince(lastRenewal)
        guard silent >= config.leaseSeconds / 3 else { return }
        renewalSilence = silent
        effects.append(.renewLease)
    }

    /// `lapsed` is the Store's word that the stored lease ran out: the orchestrator's own reading of
    /// its silence can fall just short of the lease (it renewed a little after the store's clock
    /// started counting), and readers already saw the run interrupted, so the Store's word counts too.
    mutating func leaseRenewed(lapsed: Bool, now: Date, into effects: inout [SchedulerEffect]) {
        let silent = renewalSilence ?? now.timeIntervalSince(lastRenewal)
        renewalSilence = nil
        lastRenewal = now
        guard silent >= config.leaseSeconds || lapsed else { return }
        resumedAt = now
        effects.append(.appendEvent(kind: "run.lease_renewed", task: nil, message:
            "the orchestrator was silent for \(Duration.seconds(silent).humanized) and its \(Duration.seconds(config.leaseSeconds).humanized) lease lapsed; nobody took over, so it carries on with its tasks"))
    }
}
