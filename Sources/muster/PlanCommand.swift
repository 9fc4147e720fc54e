import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Expand a workflow and show its waves, critical path, estimates and parallelism advice.")

    @Argument(help: "The workflow spec (YAML).") var file: String
    @Option(name: .shortAndLong, help: "Worker slots to estimate for (default: the spec's `concurrency`).") var concurrency: Int?
    @OptionGroup var overlap: OverlapOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let plan = try WorkflowRunner.plan(file: file, concurrency: concurrency, root: global.workspace.root, overlaps: try overlap.policy())
            if global.json { Terminal.json(PlanReport(plan, file: file)) } else { print(PlanText.text(plan, file: file)) }
        }
    }
}

/// `--strict` / `--allow-overlap`: what to do with parallel tasks that own overlapping files.
struct OverlapOptions: ParsableArguments {
    @Flag(help: "Refuse the plan when parallel tasks own overlapping files (default: run them one after the other).")
    var strict = false
    @Flag(help: "Run parallel tasks with overlapping owns at the same time anyway; conflicts are predicted during the run.")
    var allowOverlap = false

    func validate() throws { try validating { _ = try policy() } }

    func policy() throws -> Planner.OverlapPolicy {
        if strict && allowOverlap { throw CLIError.usage("--strict and --allow-overlap contradict each other: pick one") }
        return strict ? .refuse : allowOverlap ? .allow : .serialize
    }
}

/// `muster plan` as text (`--json`: the library's `PlanReport`).
enum PlanText {
    static func text(_ plan: Plan, file: String) -> String {
        let e = plan.estimate
        var lines: [String] = []
        lines.append("\(Terminal.bold("Plan")) \(plan.workflow.name) (\(file))")
        lines.append("  \(e.taskCount) tasks in \(plan.waves.count) waves, concurrency \(plan.concurrency)")
        for (index, wave) in plan.waves.enumerated() {
            let shown = wave.prefix(6).joined(separator: ", ") + (wave.count > 6 ? ", … (\(wave.count) tasks)" : "")
            lines.append("  wave \(index + 1): \(shown)")
        }
        for group in e.dynamicGroups {
            lines.append("  \(group): fans out at run time over its source's JSON list")
        }
        if !plan.collisions.isEmpty {
            lines.append("")
            lines.append(Terminal.bold("Ownership") + ": \(plan.collisions.count) pairs of parallel tasks own overlapping files; \(plan.tasks.contains { !$0.after.isEmpty } ? "each pair runs one after the other (--strict refuses)" : "they run in parallel (--allow-overlap)"):")
            for collision in plan.collisions.prefix(20) { lines.append("  - \(collision)") }
            if plan.collisions.count > 20 { lines.append("  - … \(plan.collisions.count - 20) more") }
        }
        lines.append("")
        lines.append("Critical path: \(minutes(e.criticalPathMinutes))  \(e.criticalPath.joined(separator: " → "))")
        lines.append("Estimated wall-clock: \(minutes(e.wallClockMinutes)) at concurrency \(plan.concurrency) (sequential: \(minutes(e.sequentialMinutes)))")
        if e.unestimatedTasks > 0 {
            lines.append(Terminal.dim("  \(e.unestimatedTasks) of \(e.taskCount) tasks have no `estimate.minutes` and count as 0"))
        }
        let cost = e.costUSD.map { Terminal.money($0) } ?? "unknown (no price for \(e.unpricedModels.joined(separator: ", ")))"
        lines.append("Estimated tokens: \(Terminal.tokens(e.tokens.input)) in, \(Terminal.tokens(e.tokens.output)) out; cost \(cost)")
        if let usd = e.costUSD, usd > 0 {
            lines.append("Fast mode: ≈ \(minutes(e.wallClockMinutes / ParallelismAdvice.fastModeSpeedup)) for ≈ \(Terminal.money(usd * ParallelismAdvice.fastModePriceFactor))")
        }
        if !plan.advice.isEmpty {
            lines.append("")
            lines.append(Terminal.bold("Parallelism advice") + Terminal.dim(" (break-even per sub-task: exploration 5 min, independent 10, implementation 20)"))
            for advice in plan.advice { lines.append("  - \(advice.message)") }
        }
        return lines.joined(separator: "\n")
    }

    static func minutes(_ value: Double) -> String { Duration.seconds(value * 60).humanized }
}
