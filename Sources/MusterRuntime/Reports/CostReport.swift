import Foundation
import MusterCore
import MusterStore

/// Costs of a run added up three ways (by task, by agent, by model). A task that ran and whose cost
/// is unknown (no usage reported, or a model missing from the price table) is counted apart, never
/// as $0. Encodes as `muster cost --json`.
public struct CostReport: Sendable, Encodable {
    public enum Standing: String, Sendable, Encodable { case known, unknown, running, notRun = "not run" }

    /// Tokens as the JSON shows them.
    public struct Tokens: Sendable, Encodable, Equatable {
        public var input, output, cacheRead, cacheWrite: Int

        public init(_ usage: TokenUsage) {
            input = usage.input
            output = usage.output
            cacheRead = usage.cacheRead
            cacheWrite = usage.cacheWrite
        }

        enum CodingKeys: String, CodingKey { case input, output, cacheRead = "cache_read", cacheWrite = "cache_write" }
    }

    /// One group's sum (`by_agent`, `by_model`, or the whole run).
    public struct Line: Sendable {
        public var key: String
        public var tasks = 0
        public var costUSD = 0.0
        public var unknown = 0
        public var notRun = 0
        public var tokens = TokenUsage()

        mutating func add(_ task: TaskRecord, _ standing: Standing) {
            tasks += 1
            if standing == .known { costUSD += task.costUSD ?? 0 }
            if standing == .unknown { unknown += 1 }
            if standing == .notRun { notRun += 1 }
            if let usage = task.usage { tokens = tokens + usage }
        }
    }

    public let run: String
    public let tasks: [TaskRecord]

    public init(run: String, tasks: [TaskRecord]) {
        self.run = run
        self.tasks = tasks
    }

    public static func standing(_ task: TaskRecord) -> Standing {
        if task.costUSD != nil { return .known }
        if task.state == .running { return .running }
        return task.attempt > 0 ? .unknown : .notRun
    }

    /// The model the agent reported using (what was priced), else the task's.
    public static func model(_ task: TaskRecord) -> String { task.agentFacts?.model ?? task.spec.model ?? "(none)" }

    public func group(by key: (TaskRecord) -> String) -> [Line] {
        var lines: [String: Line] = [:]
        for task in tasks {
            let k = key(task)
            lines[k, default: Line(key: k)].add(task, Self.standing(task))
        }
        return lines.values.sorted { $0.key < $1.key }
    }

    public var byAgent: [Line] { group { $0.spec.agent } }
    public var byModel: [Line] { group(by: Self.model) }

    public var total: Line {
        var line = Line(key: "total")
        for task in tasks { line.add(task, Self.standing(task)) }
        return line
    }

    enum CodingKeys: String, CodingKey { case run, total, tasks, byAgent = "by_agent", byModel = "by_model" }
    enum LineKeys: String, CodingKey {
        case tasks, costUSD = "cost_usd", unknown = "unknown_cost_tasks", notRun = "not_run_tasks", tokens, agent, model
    }
    enum TaskKeys: String, CodingKey {
        case id, group, agent, model, usagePartial = "usage_partial", state, attempts, cost, costUSD = "cost_usd", tokens
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(run, forKey: .run)
        func line(_ line: Line, into container: inout KeyedEncodingContainer<LineKeys>) throws {
            try container.encode(line.tasks, forKey: .tasks)
            try container.encode(line.costUSD, forKey: .costUSD)
            try container.encode(line.unknown, forKey: .unknown)
            try container.encode(Tokens(line.tokens), forKey: .tokens)
        }
        var total = c.nestedContainer(keyedBy: LineKeys.self, forKey: .total)
        try line(self.total, into: &total)
        try total.encode(self.total.notRun, forKey: .notRun)
        var list = c.nestedUnkeyedContainer(forKey: .tasks)
        for t in tasks {
            var task = list.nestedContainer(keyedBy: TaskKeys.self)
            try task.encode(t.id, forKey: .id)
            try task.encode(t.group, forKey: .group)
            try task.encode(t.spec.agent, forKey: .agent)
            try task.encode(t.agentFacts?.model ?? t.spec.model, forKey: .model)
            try task.encode(t.agentFacts?.usagePartial ?? false, forKey: .usagePartial)
            try task.encode(t.state.rawValue, forKey: .state)
            try task.encode(t.attempt, forKey: .attempts)
            try task.encode(Self.standing(t), forKey: .cost)
            try task.encode(t.costUSD, forKey: .costUSD)
            try task.encode(t.usage.map(Tokens.init), forKey: .tokens)
        }
        for (key, groups, name) in [(CodingKeys.byAgent, byAgent, LineKeys.agent), (.byModel, byModel, .model)] {
            var list = c.nestedUnkeyedContainer(forKey: key)
            for group in groups {
                var entry = list.nestedContainer(keyedBy: LineKeys.self)
                try line(group, into: &entry)
                try entry.encode(group.key, forKey: name)
            }
        }
    }
}
