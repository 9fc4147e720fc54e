import ArgumentParser
import Foundation
import MusterCore
import MusterStore

struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "What a run cost, by task, by agent and by model, with tokens. A cost nobody knows is shown as unknown, never as $0.")

    @Argument(help: "The run id (default: the newest run).") var run: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let record = try await global.resolveRun(run, in: store)
            let report = CostReport(run: record.id, tasks: try await store.tasks(run: record.id).filter { !$0.spec.isExpander })
            if global.json { Terminal.json(report.json) } else { print(report.text) }
        }
    }
}

/// Costs added up three ways. A task that ran and whose cost is unknown (no usage reported, or
/// a model missing from the price table) is counted apart, never as $0.
struct CostReport {
    enum Standing: String { case known, unknown, running, notRun = "not run" }

    struct Line {
        var key: String
        var tasks = 0
        var costUSD = 0.0
        var unknown = 0
        var tokens = TokenUsage()

        mutating func add(_ task: TaskRecord, _ standing: Standing) {
            tasks += 1
            if standing == .known { costUSD += task.costUSD ?? 0 }
            if standing == .unknown { unknown += 1 }
            if let usage = task.usage { tokens = tokens + usage }
        }

        var json: [String: Any] {
            ["tasks": tasks, "cost_usd": costUSD, "unknown_cost_tasks": unknown, "tokens": CostReport.tokens(tokens)]
        }
    }

    let run: String
    let tasks: [TaskRecord]

    static func standing(_ task: TaskRecord) -> Standing {
        if task.costUSD != nil { return .known }
        if task.state == .running { return .running }
        return task.attempt > 0 ? .unknown : .notRun
    }

    static func model(_ task: TaskRecord) -> String { task.spec.model ?? "(none)" }

    static func tokens(_ usage: TokenUsage) -> [String: Int] {
        ["input": usage.input, "output": usage.output, "cache_read": usage.cacheRead, "cache_write": usage.cacheWrite]
    }

    func group(by key: (TaskRecord) -> String) -> [Line] {
        var lines: [String: Line] = [:]
        for task in tasks {
            let k = key(task)
            lines[k, default: Line(key: k)].add(task, Self.standing(task))
        }
        return lines.values.sorted { $0.key < $1.key }
    }

    var total: Line {
        var line = Line(key: "total")
        for task in tasks { line.add(task, Self.standing(task)) }
        return line
    }

    var json: [String: Any] {
        let total = self.total
        return [
            "run": run,
            "total": ["cost_usd": total.costUSD, "unknown_cost_tasks": total.unknown, "tasks": total.tasks,
                      "not_run_tasks": tasks.filter { Self.standing($0) == .notRun }.count, "tokens": Self.tokens(total.tokens)],
            "tasks": tasks.map { t -> [String: Any] in
                let standing = Self.standing(t)
                return ["id": t.id, "group": t.group, "agent": t.spec.agent, "model": t.spec.model as Any? ?? NSNull(),
                        "state": t.state.rawValue, "attempts": t.attempt, "cost": standing.rawValue,
                        "cost_usd": t.costUSD as Any? ?? NSNull(), "tokens": t.usage.map(Self.tokens) as Any? ?? NSNull()]
            },
            "by_agent": group { $0.spec.agent }.map { $0.json.merging(["agent": $0.key]) { a, _ in a } },
            "by_model": group(by: Self.model).map { $0.json.merging(["model": $0.key]) { a, _ in a } },
        ]
    }

    var text: String {
        let total = self.total
        var lines = ["run \(Terminal.bold(run)): \(Terminal.money(total.costUSD)) for \(total.tasks) tasks"
                     + (total.unknown > 0 ? " + \(total.unknown) tasks of unknown cost" : "")
                     + "; tokens \(Self.tokenText(total.tokens))"]
        let width = max(12, tasks.map(\.id.count).max() ?? 0)
        lines.append("")
        lines.append(Terminal.bold("By task"))
        lines.append(Terminal.dim("  " + Terminal.padded("TASK", width + 2) + Terminal.padded("AGENT", 12) + Terminal.padded("MODEL", 20)
                                  + Terminal.padded("COST", 12) + "TOKENS"))
        for t in tasks {
            let cost: String
            switch Self.standing(t) {
            case .known: cost = Terminal.money(t.costUSD)
            case .unknown: cost = "unknown"
            case .running: cost = "running"
            case .notRun: cost = "not run"
            }
            lines.append("  " + Terminal.padded(t.id, width + 2) + Terminal.padded(t.spec.agent, 12) + Terminal.padded(Self.model(t), 20)
                         + Terminal.padded(cost, 12) + (t.usage.map(Self.tokenText) ?? "-"))
        }
        for (title, groups) in [("By agent", group { $0.spec.agent }), ("By model", group(by: Self.model))] {
            lines.append("")
            lines.append(Terminal.bold(title))
            for line in groups {
                lines.append("  " + Terminal.padded(line.key, 22) + Terminal.padded("\(line.tasks) tasks", 10)
                             + Terminal.padded(Terminal.money(line.costUSD) + (line.unknown > 0 ? " + \(line.unknown) unknown" : ""), 24)
                             + Self.tokenText(line.tokens))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func tokenText(_ u: TokenUsage) -> String {
        var text = "\(Terminal.tokens(u.input)) in, \(Terminal.tokens(u.output)) out"
        if u.cacheRead > 0 || u.cacheWrite > 0 { text += ", \(Terminal.tokens(u.cacheRead)) cache read, \(Terminal.tokens(u.cacheWrite)) cache write" }
        return text
    }
}
