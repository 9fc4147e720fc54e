import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Plan a workflow, record it in the store and run it to the end.")

    @Argument(help: "The workflow spec (YAML).") var file: String
    @Option(name: .shortAndLong, help: "Worker slots (default: the spec's `concurrency`).") var concurrency: Int?
    @Flag(help: "Run every task with the simulated agent: previews wall-clock and cost, spends nothing.") var simulate = false
    @Option(help: "With --simulate: estimated minutes per real second (60 = a minute becomes a second).") var speed: Double?
    @Option(help: "Seconds between SIGTERM and SIGKILL when a task is stopped.") var grace: Double = 5
    @Option(help: "The branch or commit every task's worktree starts from (default: HEAD).") var base: String?
    @Option(help: "Seconds between checks of live worktrees for conflicts with each other.") var conflictCheck: Double = 10
    @Option(help: "Dollars: stop starting tasks once spent plus running estimates reach it (overrides the spec's `budget`).")
    var budget: Double?
    @Flag(help: "On reaching the budget, also stop the running tasks.") var budgetHard = false
    @OptionGroup var lease: LeaseOption
    @OptionGroup var overlap: OverlapOptions
    @OptionGroup(title: "Live views") var live: LiveOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let workspace = global.workspace
            let policy = try overlap.policy()
            let plan = try SpecPlanning.plan(file: file, concurrency: concurrency, workspace: workspace, overlaps: policy)
            if let speed, speed <= 0 { throw CLIError.usage("--speed must be positive") }
            if !simulate { try AgentCatalog.requireInstalled(plan, root: workspace.root) }
            let baseCommit: String?
            do {
                let (commit, warning) = try await RunBase.resolve(plan: plan, workspace: workspace, base: base, simulate: simulate)
                if let warning, !global.json { Terminal.error(warning) }
                baseCommit = commit
            } catch let problem as RunBase.Problem {
                throw CLIError.usage(problem.description)
            }
            if !global.json {
                let handling = policy == .allow ? "running them in parallel anyway (--allow-overlap)" : "running them one after the other"
                for collision in plan.collisions { Terminal.error("note: \(collision); \(handling)") }
            }
            if let budget, budget <= 0 { throw CLIError.usage("--budget must be more than 0 dollars") }
            let leaseSeconds = try lease.seconds()
            try workspace.prepare()
            let store = try await global.openStore(create: true)
            let runID = try await RunFactory.create(plan: plan, specPath: file, workspace: workspace, store: store,
                                                    concurrency: plan.concurrency, simulate: simulate, baseCommit: baseCommit,
                                                    budgetUSD: budget, budgetHard: budgetHard)
            var options = RunOptions(concurrency: plan.concurrency)
            options.simulate = simulate
            options.simulationSpeed = speed ?? (simulate ? 60 : 1)
            options.grace = .seconds(grace)
            if conflictCheck <= 0 { throw CLIError.usage("--conflict-check must be positive") }
            options.conflictCheckInterval = .seconds(conflictCheck)
            options.budgetUSD = budget
            options.budgetHard = budgetHard
            options.leaseSeconds = leaseSeconds
            try await RunSession.execute(run: runID, store: store, storePath: global.storePath, workspace: workspace,
                                         options: options, json: global.json, views: try live.settings())
        }
    }
}

/// Runs an orchestrator with a live progress line, then prints the outcome; shared by run, resume, cancel.
enum RunSession {
    static func execute(run: String, store: any Store, storePath: String, workspace: Workspace, options: RunOptions,
                        json: Bool, quiet: Bool = false, views settings: LiveSettings = LiveSettings()) async throws {
        var options = options
        // The run's custom agent profiles (stored with it, so resume starts the same agents), and muster.toml's prices.
        if let record = try await store.run(run) { Agents.register(record.workflow.agents ?? [:]) }
        if options.prices == .defaults { options.prices = try ProjectConfig.load(root: workspace.root).prices }
        let live = !json && !quiet && Terminal.stderrIsTerminal
        if live {
            Terminal.error(Terminal.dim("run \(run): \(options.concurrency) slots; Ctrl-C stops it cleanly (resume with `muster resume \(run)`)"))
            options.progress = { progress in ProgressLine.draw(progress) }
        }
        let views = try await LiveViews.start(run: run, storePath: storePath, store: store, settings: settings)
        let outcome: RunOutcome
        do {
            outcome = try await Orchestrator(store: store, workspace: workspace, storePath: storePath, run: run, options: options).execute()
        } catch {
            views.abandon()
            throw error
        }
        if live { ProgressLine.clear() }
        let tasks = try await store.tasks(run: run)
        if json {
            Terminal.json(RunSummary.json(outcome, tasks: tasks, workspace: workspace))
        } else if !quiet {
            print(RunSummary.text(outcome, tasks: tasks, simulate: options.simulate, speed: options.simulationSpeed))
        }
        await views.finish(outcome)
        switch outcome.status {
        case .succeeded: return
        case .cancelled: throw ExitCode(ExitCodes.interrupted)
        default: throw ExitCode(ExitCodes.runFailed)
        }
    }
}

enum ProgressLine {
    static func draw(_ p: RunProgress) {
        let c = p.counts
        let done = c[.succeeded] + c[.failed] + c[.skipped] + c[.cancelled]
        var line = "\r\u{1B}[2K\(done)/\(c.total) done, \(c[.running]) running"
        if c[.failed] > 0 { line += ", \(c[.failed]) failed" }
        line += ", \(p.elapsed.humanized) elapsed, \(Terminal.money(c.costUSD))"
        if c.unknownCost > 0 { line += " (+\(c.unknownCost) unknown)" }
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func clear() { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
}

enum RunSummary {
    static func text(_ outcome: RunOutcome, tasks: [TaskRecord], simulate: Bool, speed: Double) -> String {
        let c = outcome.counts
        var lines = ["run \(Terminal.bold(outcome.run)) \(Terminal.status(outcome.status)): \(c[.succeeded])/\(c.total) tasks succeeded in \(outcome.elapsed.humanized), cost \(Terminal.money(c.costUSD))"
                     + (c.unknownCost > 0 ? " + \(c.unknownCost) tasks of unknown cost" : "")]
        if simulate {
            let scaled = Duration.seconds(outcome.elapsed.seconds * speed)
            lines.append("  simulated at \(speed)×: estimated real wall-clock ≈ \(scaled.humanized); tokens \(Terminal.tokens(c.tokens.input)) in, \(Terminal.tokens(c.tokens.output)) out")
        }
        for task in tasks where task.state == .failed || task.state == .blocked {
            lines.append("  \(Terminal.state(task.state)) \(task.id): \(task.error ?? "?")  (muster logs \(outcome.run) \(task.id))")
        }
        for task in tasks where task.state == .succeeded && task.error?.hasPrefix("warning:") == true {
            lines.append("  \(Terminal.paint("warning", "33")) \(task.id): \(task.error!.dropFirst("warning: ".count))")
        }
        let skipped = c[.skipped] + c[.cancelled]
        if skipped > 0 { lines.append("  \(skipped) tasks did not run; `muster resume \(outcome.run)` retries what failed and runs the rest") }
        return lines.joined(separator: "\n")
    }

    static func json(_ outcome: RunOutcome, tasks: [TaskRecord], workspace: Workspace) -> [String: Any] {
        [
            "run": outcome.run, "status": outcome.status.rawValue, "elapsed_seconds": outcome.elapsed.seconds,
            "counts": Dictionary(uniqueKeysWithValues: TaskState.allCases.map { ($0.rawValue, outcome.counts[$0]) }),
            "cost_usd": outcome.counts.costUSD, "unknown_cost_tasks": outcome.counts.unknownCost,
            "tokens": ["input": outcome.counts.tokens.input, "output": outcome.counts.tokens.output],
            "tasks": tasks.map(TaskJSON.object),
        ]
    }
}

enum TaskJSON {
    static func object(_ t: TaskRecord) -> [String: Any] {
        let iso = ISO8601DateFormatter()
        return [
            "id": t.id, "group": t.group, "state": t.state.rawValue, "agent": t.spec.agent, "attempt": t.attempt,
            "failures": t.failures, "exit_code": t.exitCode.map { Int($0) } as Any? ?? NSNull(),
            "error": t.error as Any? ?? NSNull(), "summary": t.summary.map { String($0.prefix(500)) } as Any? ?? NSNull(),
            "result_path": t.resultPath as Any? ?? NSNull(), "cost_usd": t.costUSD as Any? ?? NSNull(),
            "tokens": t.usage.map { ["input": $0.input, "output": $0.output, "cache_read": $0.cacheRead, "cache_write": $0.cacheWrite] } as Any? ?? NSNull(),
            "started_at": t.startedAt.map { iso.string(from: $0) } as Any? ?? NSNull(),
            "finished_at": t.finishedAt.map { iso.string(from: $0) } as Any? ?? NSNull(),
            "idempotency_key": t.idempotencyKey,
            "parent": t.parent as Any? ?? NSNull(), "depth": t.spec.depth,
        ]
    }
}
