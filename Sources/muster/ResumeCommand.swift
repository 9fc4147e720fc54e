import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Finish a run after a crash, Ctrl-C or failure: stops orphaned agents, keeps succeeded tasks, runs the rest.")

    @Argument(help: "The run id (see `muster runs`).") var run: String
    @Option(name: .shortAndLong, help: "Worker slots (default: the run's).") var concurrency: Int?
    @Option(help: "Between SIGTERM and SIGKILL when a task is stopped (seconds, or 500ms, 1m).") var grace: DurationArgument = .seconds(5)
    @Option(help: "Many hosts: take over coordinating the run for `muster worker`s, running this many tasks here too (0: none).")
    var slots: Int?
    @Option(help: ArgumentHelp("With --slots: the shared git remote (default: this repository's origin).", valueName: "url"))
    var remote: String?
    @Option(help: ArgumentHelp("This host's labels, comma-separated: it runs tasks whose `runs_on` they cover (default: none).", valueName: "a,b"))
    var labels: String?
    @OptionGroup var lease: LeaseOption
    @OptionGroup(title: "Live views") var live: LiveOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try validating {
            _ = try LabelsOption.parse(labels)
            if let concurrency, concurrency < 1 { throw CLIError.usage("--concurrency must be at least 1, got \(concurrency)") }
            if let slots, slots < 0 { throw CLIError.usage("--slots must be 0 or more, got \(slots)") }
            if remote != nil && slots == nil { throw CLIError.usage("--remote needs --slots (a run shared with `muster worker`s)") }
        }
    }

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let record = try await store.requireRun(run)
            if record.status == .succeeded {
                if global.json { Terminal.json(CommandJSON.RunStatus(run: run, status: "succeeded", resumed: false)) } else { print("run \(run) already succeeded; nothing to resume") }
                return
            }
            var options = RunOptions(concurrency: concurrency ?? record.concurrency)
            // Reopened only once this resume holds the run: a second, refused resume changes nothing.
            options.reopen = true
            let json = global.json
            options.reopened = { reopened in
                if !json && reopened > 0 { Terminal.error(Terminal.dim("\(reopened) failed, skipped or cancelled tasks back in line")) }
            }
            options.leaseSeconds = try lease.seconds()
            options.simulate = record.simulate
            options.simulationSpeed = record.simulate ? 60 : 1
            options.grace = grace.duration
            options.labels = try LabelsOption.parse(labels)
            if let slots {
                try await SharedRunSession.execute(run: run, slots: slots, remote: remote, store: store, global: global,
                                                   workspace: global.workspace, options: options, reopen: true)
                return
            }
            // Held here alone: every unfinished task's `runs_on` must be covered, or it would never start.
            if let refusal = LabelCheck.refusal(tasks: try await store.tasks(run: run), labels: options.labels, run: run) {
                throw refusal
            }
            // A rehearsed run is resumed as a rehearsal: never against real models.
            let recorded = try await RehearsalOption.recorded(run: run, store: store)
            let rehearsal = recorded.rehearsed ? try await RehearsalOption.start(script: recorded.script, json: global.json) : nil
            options.agentEnvironment = rehearsal?.overlay
            do {
                try await RunSession.execute(run: run, store: store, storePath: global.storePath,
                                             workspace: Workspace(root: URL(fileURLWithPath: record.root), isGitRepository: global.workspace.isGitRepository),
                                             options: options, json: global.json, views: try live.settings())
            } catch {
                await rehearsal?.stop()
                throw error
            }
            await rehearsal?.stop()
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Stop a run: its orchestrator terminates every agent's process group and records them cancelled.")

    @Argument(help: "The run id (see `muster runs`).") var run: String
    @Flag(help: "Return at once instead of waiting for the run to stop.") var noWait = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let record = try await store.requireRun(run)
            guard !record.status.isFinal else {
                if global.json { Terminal.json(CommandJSON.RunStatus(run: run, status: record.status.rawValue)) } else { print("run \(run) already \(record.status.rawValue)") }
                return
            }
            try await store.requestCancel(run, now: store.clock())
            // A run coordinated for `muster worker`s is held by no orchestrator: its coordinator and workers stop it.
            if record.isInterrupted(now: store.clock()), !(try await Coordinator.isCoordinated(run, store: store)) {
                // Nobody orchestrates it (crashed): take it over just to stop orphans and close it.
                do {
                    try await RunSession.execute(run: run, store: store, storePath: global.storePath,
                                                 workspace: Workspace(root: URL(fileURLWithPath: record.root), isGitRepository: false),
                                                 options: RunOptions(concurrency: record.concurrency), json: false, quiet: true)
                } catch let exit as ExitCode where exit.rawValue == ExitCodes.interrupted {}
            } else if !noWait {
                while try await store.run(run)?.status == .running { try await Task.sleep(for: .milliseconds(200)) }
            }
            let status = try await store.run(run)?.status ?? .cancelled
            if global.json { Terminal.json(CommandJSON.RunStatus(run: run, status: status.rawValue)) } else { print("run \(run): \(Terminal.status(status))") }
        }
    }
}
