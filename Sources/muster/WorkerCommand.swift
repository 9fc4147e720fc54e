import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run tasks of runs started with `muster run --slots` (on any host), through a shared store and git remote.",
        discussion: """
            Keeps a clone of --repo in ${MUSTER_CACHE:-~/.cache/muster}/clones (fetched, never cloned twice), \
            claims ready tasks of any run that no orchestrator holds (or only --run's) whose `runs_on` labels \
            --labels covers (a task without `runs_on` is anyone's), makes each task's \
            worktree from the run's base (fetching it and the commits of needed tasks), runs the agent as \
            `muster run` would (sandbox, limits, parsers, ownership check), pushes the attempt's commit and then \
            the branch muster/RUN/TASK to --repo, and records the outcome in the store. The first SIGTERM or \
            Ctrl-C finishes the running tasks and claims no more; a second one stops them at once and leaves \
            their leases to lapse, so another worker takes them over. A stop is bounded: once no agent runs \
            (after a second signal: --grace plus the bound, whatever runs), the worker has --stop-timeout to be gone; \
            past it, it stops its agents, hands their tasks back and exits with status 3, saying why.
            """)

    @Option(help: ArgumentHelp("The shared git remote every host clones and pushes to (git://, ssh://, https:// or a path).", valueName: "url"))
    var repo: String
    @Option(help: "Tasks run at once on this host.") var slots = 4
    @Option(help: ArgumentHelp("This host's labels, comma-separated: it also takes tasks whose `runs_on` they cover (default: none, only tasks without `runs_on`).", valueName: "a,b")) var labels: String?
    @Option(help: ArgumentHelp("Only this run (default: any run with work, oldest first).", valueName: "run")) var run: String?
    @Option(help: ArgumentHelp("Where the clone is cached (default: ${MUSTER_CACHE:-~/.cache/muster}).", valueName: "dir")) var cache: String?
    @Option(help: "Between SIGTERM and SIGKILL when a task is stopped (seconds, or 500ms, 1m).") var grace: DurationArgument = .seconds(5)
    @Option(help: "How long a stop may take once no agent runs (seconds, or 500ms, 1m); past it the worker stops its agents and exits with status 3.")
    var stopTimeout: DurationArgument = .seconds(60)
    @Option(help: "Simulated runs: estimated minutes per real second.") var speed: Double = 60
    @Flag(help: "Stop once no run has work, instead of waiting for the next run.") var exitWhenIdle = false
    @OptionGroup var lease: LeaseOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try validating {
            if slots < 1 { throw CLIError.usage("--slots must be at least 1, got \(slots)") }
            if repo.isEmpty || repo.hasPrefix("-") { throw CLIError.usage("--repo needs the URL of the shared git remote, e.g. --repo git://host/project.git") }
            if stopTimeout.duration <= .zero { throw CLIError.usage("--stop-timeout must be positive") }
            if !(speed > 0) { throw CLIError.usage("--speed must be positive") }
            _ = try LabelsOption.parse(labels)
        }
    }

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            var options = Worker.Options(repository: repo, slots: slots)
            options.labels = try LabelsOption.parse(labels)
            options.run = run
            options.cache = cache.map { URL(fileURLWithPath: $0) }
            options.leaseSeconds = try lease.seconds()
            options.grace = grace.duration
            options.stopTimeout = stopTimeout.duration
            options.simulationSpeed = speed
            options.exitWhenIdle = exitWhenIdle
            if let run { _ = try await store.requireRun(run) }
            let json = global.json
            let summary = try await Worker(store: store, storePath: global.storePath, options: options)
                .serve { line in if !json { Terminal.error(Terminal.dim(line)) } }
            if json { Terminal.json(summary) } else {
                print("worker \(summary.worker) stopped (\(summary.stoppedBy)); runs served: \(summary.runs.isEmpty ? "none" : summary.runs.joined(separator: ", "))")
            }
        }
    }
}
