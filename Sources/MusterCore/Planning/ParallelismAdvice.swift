import Foundation

/// Seed 000's rule of thumb for a fan-out: parallelism pays only above a break-even time per
/// sub-task, and a fan-out bills roughly 1.8–2.2× what the same work costs done sequentially
/// in one session (the sequential session shares its prompt cache; fanned-out agents do not).
public struct ParallelismAdvice: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable { case parallel, sequential, unknown, dynamic }

    public static let costMultiplier = 1.8...2.2
    /// Seed 001: fast mode runs ~2.5× faster at 2× the price.
    public static let fastModeSpeedup = 2.5
    public static let fastModePriceFactor = 2.0

    public var group: String
    public var subTasks: Int
    public var minutesPerTask: Double?
    public var kind: WorkKind
    public var breakEvenMinutes: Double
    public var verdict: Verdict
    public var fanOutMinutes: Double?
    public var sequentialMinutes: Double?
    public var fanOutCostUSD: Double?
    /// What the same work would cost done sequentially: fan-out cost ÷ 2.2 … ÷ 1.8.
    public var sequentialCostUSD: ClosedRange<Double>?
    public var message: String

    static func advise(workflow: Workflow, tasks: [PlannedTask], concurrency: Int, prices: PriceTable) -> [ParallelismAdvice] {
        var byGroup: [String: [PlannedTask]] = [:]
        for task in tasks { byGroup[task.group, default: []].append(task) }
        return workflow.tasks.compactMap { spec -> ParallelismAdvice? in
            guard spec.foreach != nil, let members = byGroup[spec.id] else { return nil }
            let kind = spec.effectiveKind
            var advice = ParallelismAdvice(group: spec.id, subTasks: members.count, minutesPerTask: spec.estimate?.minutes,
                                           kind: kind, breakEvenMinutes: kind.breakEvenMinutes, verdict: .unknown,
                                           fanOutMinutes: nil, sequentialMinutes: nil, fanOutCostUSD: nil,
                                           sequentialCostUSD: nil, message: "")
            if members.first?.isExpander == true {
                advice.verdict = .dynamic
                advice.subTasks = 0
                advice.message = "\(spec.id): fans out at run time; break-even for \(kind.rawValue) work is \(Int(kind.breakEvenMinutes)) min per sub-task"
                return advice
            }
            let usage = members.reduce(TokenUsage()) {
                $0 + TokenUsage(input: $1.estimate?.inputTokens ?? 0, output: $1.estimate?.outputTokens ?? 0)
            }
            if usage.total > 0, let cost = prices.cost(model: members[0].model, usage: usage) {
                advice.fanOutCostUSD = cost
                advice.sequentialCostUSD = (cost / costMultiplier.upperBound)...(cost / costMultiplier.lowerBound)
            }
            guard let minutes = spec.estimate?.minutes else {
                advice.message = "\(spec.id): \(members.count) sub-tasks without `estimate.minutes`; add one to get advice"
                return advice
            }
            let width = Double(min(concurrency, members.count))
            advice.sequentialMinutes = minutes * Double(members.count)
            advice.fanOutMinutes = minutes * (Double(members.count) / width).rounded(.up)
            let costNote = advice.fanOutCostUSD.map { String(format: "; fan-out ≈ $%.2f vs ≈ $%.2f–%.2f sequential (1.8–2.2×)", $0,
                                                          advice.sequentialCostUSD!.lowerBound, advice.sequentialCostUSD!.upperBound) } ?? ""
            let head = String(format: "%@: %d sub-tasks × %g min (%@, break-even %g min)", spec.id, members.count, minutes,
                              kind.rawValue, kind.breakEvenMinutes)
            if members.count < 2 {
                advice.verdict = .sequential
                advice.message = head + ": a single task, nothing to parallelize"
            } else if minutes >= kind.breakEvenMinutes {
                advice.verdict = .parallel
                advice.message = head + String(format: ": fan out: ≈ %@ instead of %@", Self.minutes(advice.fanOutMinutes!),
                                                Self.minutes(advice.sequentialMinutes!)) + costNote
            } else {
                advice.verdict = .sequential
                advice.message = head + ": below break-even: a fan-out likely costs more than it saves; run sequentially (`concurrency: 1`) or merge into fewer, larger tasks" + costNote
            }
            return advice
        }
    }

    static func minutes(_ value: Double) -> String {
        Duration.seconds(value * 60).humanized
    }
}
