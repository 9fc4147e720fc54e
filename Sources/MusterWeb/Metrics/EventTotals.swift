import Foundation
import MusterStore

/// What `/metrics` counts from the event log, read forward from each run's last sequence seen
/// (the figures live in event messages, not in columns SQL could sum).
struct EventTotals: Sendable {
    var cursor: Int64 = 0
    var conflicts = 0
    var violations = 0
    var cooldowns: [String: Int] = [:]
    /// Waits by limit key, bucketed as `muster_limit_wait_seconds` shows them (a run's log may hold many).
    var waits: [String: Distribution] = [:]
    /// The run's status when the log was last read: a finished run's log is not read again.
    var finished = false
    static let waitBuckets: [Double] = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600]

    mutating func add(_ event: EventRecord) {
        switch event.kind {
        case "conflict.predicted": conflicts += 1
        case "ownership.violation": violations += 1
        case "limit.cooldown":
            // "KEY: task T was rate-limited; cool-down #N until …"
            if let colon = event.message.firstIndex(of: ":") { cooldowns[String(event.message[..<colon]), default: 0] += 1 }
        case "limit.waiting":
            // "waited 3.2 s for KEY1, KEY2"
            let words = event.message.split(separator: " ", maxSplits: 4)
            guard words.count >= 5, words[0] == "waited", let seconds = Double(words[1]) else { return }
            for key in words[4].split(separator: ",") {
                waits[key.trimmingCharacters(in: .whitespaces), default: Distribution(bounds: Self.waitBuckets)].add(seconds)
            }
        default: break
        }
    }
}
