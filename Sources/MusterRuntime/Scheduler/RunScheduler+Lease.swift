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

    mutating func leaseRenewed(now: Date, into effects: inout [SchedulerEffect]) {
        let silent = renewalSilence ?? now.timeIntervalSince(lastRenewal)
        renewalSilence = nil
        lastRenewal = now
        guard silent >= config.leaseSeconds else { return }
        resumedAt = now
        effects.append(.appendEvent(kind: "run.lease_renewed", task: nil, message:
            "the orchestrator was silent for \(Duration.seconds(silent).humanized), past its \(Duration.seconds(config.leaseSeconds).humanized) lease; nobody took over, so it carries on with its tasks"))
    }
}
