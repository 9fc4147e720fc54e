import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
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
            if global.json { Terminal.json(report) } else { print(report.text) }
        }
    }
}

/// `muster cost` as text; the figures are the library's `CostReport`.
extension CostReport {
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
                         + Terminal.padded(cost, 12) + (t.usage.map(Self.tokenText) ?? "-")
                         + (t.agentFacts?.usagePartial == true ? Terminal.dim(" (partial: stopped mid-stream)") : ""))
        }
        for (title, groups) in [("By agent", byAgent), ("By model", byModel)] {
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
