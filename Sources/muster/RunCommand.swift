import ArgumentParser
import Foundation
import MusterCore
import MusterRehearsal
import MusterRuntime
import MusterStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Plan a workflow, record it in the store and run it to the end.")

    @Argument(help: "The workflow spec (YAML).") var file: String
    @Option(name: .shortAndLong, help: "Worker slots (default: the spec's `concurrency`).") var concurrency: Int?
    @Flag(help: "Run every task with the simulated agent: previews wall-clock and cost, spends nothing.") var simulate = false
    @Option(help: "With --simulate: estimated minutes per real second (60 = a minute becomes a second).") var speed: Double?
    @Option(help: "Between SIGTERM and SIGKILL when a task is stopped (seconds, or 500ms, 1m).") var grace: DurationArgument = .seconds(5)
    @Option(help: "The branch or commit every task's worktree starts from (default: HEAD).") var base: String?
    @Option(help: "Between checks of live worktrees for conflicts with each other (seconds, or 500ms, 1m).")
    var conflictCheck: DurationArgument = .seconds(10)
    @Option(help: "Dollars: stop starting tasks once spent plus running estimates reach it (overrides the spec's `budget`).")
    var budget: Double?
    @Flag(help: "On reaching the budget, also stop the running tasks.") var budgetHard = false
    @Option(help: "Many hosts: record the run for `muster worker`s and coordinate it; run this many tasks here too (0: none).")
    var slots: Int?
    @Option(help: ArgumentHelp("With --slots: the shared git remote workers clone (default: this repository's origin).", valueName: "url"))
    var remote: String?
    @Option(help: ArgumentHelp("This host's labels, comma-separated: it runs tasks whose `runs_on` they cover (default: none; without --slots every `runs_on` must be covered).", valueName: "a,b"))
    var labels: String?
    @OptionGroup var lease: LeaseOption
    @Flag(help: "Run every agent's real CLI as for real, but against muster's model stub on 127.0.0.1: no model is called.")
    var rehearse = false
    @Option(help: "With --rehearse: the stub's script (see `muster stub-model --help`); default: each task writes one small file inside its owns.")
    var stubScript: String?
    @OptionGroup var overlap: OverlapOptions
    @OptionGroup(title: "Live views") var live: LiveOptions
    @OptionGroup var global: GlobalOptions

    /// Every option is checked here, before anything is planned or recorded.
    func validate() throws {
        try validating {
            try request().check()
            if let speed, !(speed > 0) { throw CLIError.usage("--speed must be positive") }
            if rehearse && simulate { throw CLIError.usage("--rehearse runs the real agent CLIs and --simulate none: pick one") }
            if stubScript != nil && !rehearse { throw CLIError.usage("--stub-script needs --rehearse") }
            if let stubScript { _ = try RehearsalOption.script(stubScript) }
            if !conflictCheck.isPositive { throw CLIError.usage("--conflict-check must be positive") }
            if let slots, slots < 0 { throw CLIError.usage("--slots must be 0 or more, got \(slots)") }
            if remote != nil && slots == nil { throw CLIError.usage("--remote needs --slots (a run shared with `muster worker`s)") }
            if slots != nil && rehearse { throw CLIError.usage("--rehearse runs on this host only: drop --slots") }
        }
    }

    func request() throws -> WorkflowRequest {
        var request = WorkflowRequest(file: file)
        request.concurrency = concurrency
        request.overlaps = try overlap.policy()
        request.simulate = simulate
        request.base = base
        request.budgetUSD = budget
        request.budgetHard = budgetHard
        request.labels = try LabelsOption.parse(labels)
        request.sharedWithWorkers = slots != nil
        return request
    }

    func run() async throws {
        try await guarded {
            let workspace = global.workspace
            let prepared = try await WorkflowRunner.prepare(try request(), workspace: workspace)
            if !global.json { for note in prepared.notes { Terminal.error(note.description) } }
            let store = try await global.openStore(create: true)
            let runID = try await WorkflowRunner.record(prepared, workspace: workspace, store: store)
            var options = WorkflowRunner.options(for: prepared)
            if let speed { options.simulationSpeed = speed }
            options.grace = grace.duration
            options.conflictCheckInterval = conflictCheck.duration
            options.leaseSeconds = try lease.seconds()
            if let slots {
                try await SharedRunSession.execute(run: runID, slots: slots, remote: remote, store: store, global: global,
                                                   workspace: workspace, options: options)
                return
            }
            if rehearse { try await RehearsalOption.record(run: runID, script: stubScript, store: store) }
            let rehearsal = rehearse ? try await RehearsalOption.start(script: stubScript, json: global.json) : nil
            options.agentEnvironment = rehearsal?.overlay
            do {
                try await RunSession.execute(run: runID, store: store, storePath: global.storePath, workspace: workspace,
                                             options: options, json: global.json, views: try live.settings())
            } catch {
                await rehearsal?.stop()
                throw error
            }
            await rehearsal?.stop()
        }
    }
}

/// Runs an orchestrator with a live progress line, then prints the outcome; shared by run, resume, cancel.
enum RunSession {
    static func execute(run: String, store: any Store, storePath: String, workspace: Workspace, options: RunOptions,
                        json: Bool, quiet: Bool = false, views settings: LiveSettings = LiveSettings()) async throws {
        var options = options
        let live = !json && !quiet && Terminal.stderrIsTerminal
        if live {
            Terminal.error(Terminal.dim("run \(run): \(options.concurrency) slots; Ctrl-C stops it cleanly (resume with `muster resume \(run)`)"))
            options.progress = { progress in ProgressLine.draw(progress) }
        }
        let views = try await LiveViews.start(run: run, storePath: storePath, store: store, settings: settings)
        let outcome: RunOutcome
        do {
            outcome = try await WorkflowRunner.execute(run: run, store: store, storePath: storePath, workspace: workspace, options: options)
        } catch {
            views.abandon()
            throw error
        }
        if live { ProgressLine.clear() }
        let tasks = try await store.tasks(run: run)
        if json {
            Terminal.json(RunReport(outcome, tasks: tasks))
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
        for task in tasks where task.state == .succeeded {
            guard let warning = task.warning else { continue }
            lines.append("  \(Terminal.paint("warning", "33")) \(task.id): \(warning)")
        }
        let skipped = c[.skipped] + c[.cancelled]
        if skipped > 0 { lines.append("  \(skipped) tasks did not run; `muster resume \(outcome.run)` retries what failed and runs the rest") }
        return lines.joined(separator: "\n")
    }
}
