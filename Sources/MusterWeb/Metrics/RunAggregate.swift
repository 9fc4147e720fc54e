import Foundation
import MusterCore
import MusterStore

/// One run's contribution to `/metrics`, computed from its task records. A finished run's is
/// cached: its tasks no longer change (a reopened run is running again, so it is recomputed).
struct RunAggregate: Sendable {
    struct TokenKey: Hashable, Sendable { var type: String, model: String, agent: String }
    struct CostKey: Hashable, Sendable { var model: String, agent: String }

    var durations: [String: [Double]] = [:]
    var tokens: [TokenKey: Int] = [:]
    var cost: [CostKey: Double] = [:]
    var claimLatencies: [Double] = []

    /// Token types as Claude Code names them (`claude_code.token.usage` `type`).
    static func tokenTypes(_ usage: TokenUsage) -> [(String, Int)] {
        [("input", usage.input), ("output", usage.output), ("cacheRead", usage.cacheRead), ("cacheCreation", usage.cacheWrite)]
    }

    init(run: RunRecord, tasks: [TaskRecord], facts: SpecFacts) {
        // When each group (and task) last finished: a task is ready once everything it needs has.
        var finishedAt: [String: Date] = [:]
        for task in tasks {
            guard let end = task.finishedAt else { continue }
            finishedAt[task.id] = max(finishedAt[task.id] ?? end, end)
            finishedAt[task.group] = max(finishedAt[task.group] ?? end, end)
        }
        for task in tasks {
            let f = facts.facts(task)
            let model = f.model ?? "default"
            if let start = task.startedAt, let end = task.finishedAt, task.state.isFinal {
                durations[f.agent, default: []].append(max(0, end.timeIntervalSince(start)))
            }
            if let usage = task.usage {
                for (type, n) in Self.tokenTypes(usage) where n > 0 {
                    tokens[TokenKey(type: type, model: model, agent: f.agent), default: 0] += n
                }
            }
            if let usd = task.costUSD { cost[CostKey(model: model, agent: f.agent), default: 0] += usd }
            if let start = task.startedAt {
                var ready = run.createdAt
                for need in f.needs + f.after { if let t = finishedAt[need], t > ready { ready = t } }
                if let retry = task.notBefore, retry > ready, retry <= start { ready = retry }
                claimLatencies.append(max(0, start.timeIntervalSince(ready)))
            }
        }
    }
}

/// What `/metrics` counts from the event log, read forward from each run's last sequence seen.
struct EventTotals: Sendable {
    var cursor: Int64 = 0
    var conflicts = 0
    var violations = 0
    var cooldowns: [String: Int] = [:]
    var waits: [String: [Double]] = [:]

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
                waits[key.trimmingCharacters(in: .whitespaces), default: []].append(seconds)
            }
        default: break
        }
    }
}
