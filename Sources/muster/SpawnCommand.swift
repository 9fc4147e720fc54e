import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// `muster spawn`: a running task adds child tasks to its run.
struct SpawnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spawn", abstract: "Add child tasks to the run, from inside a running task.",
        discussion: """
            Run it inside a task: MUSTER_RUN and MUSTER_TASK_ID name the run and the parent. The store refuses, \
            with the reason, a child that owns anything outside the parent's owns, one deeper than the workflow's \
            max_depth (default 2), and one that needs a task that does not exist yet or is its own ancestor. \
            Asking twice for the same child (same agent, prompt or command, and owns) returns the first one. \
            Children run like any task (their own worktree, retries, cost); the parent may exit first, or \
            wait for them with `muster wait`. A task can also write the same list to $MUSTER_OUTBOX/spawn.json, \
            read when it exits successfully.
            Examples:
              muster spawn --prompt "Rename Foo in Sources/A" --owns 'Sources/A/**'
              muster spawn --owns docs/a.md -- ./scripts/gen-doc a
              muster spawn --file children.json
            """)

    @Option(help: "The child's prompt (for a coding agent).") var prompt: String?
    @Option(parsing: .singleValue, help: ArgumentHelp("A glob the child owns, inside the parent's owns (repeatable).", valueName: "glob"))
    var owns: [String] = []
    @Option(help: "The child's agent (default: the parent's).") var agent: String?
    @Option(help: "The child's model (default: the parent's, or the agent's).") var model: String?
    @Option(parsing: .singleValue, help: ArgumentHelp("A task of the run the child waits for (repeatable).", valueName: "task"))
    var needs: [String] = []
    @Option(help: "The child's id (default: PARENT.N).") var id: String?
    @Option(parsing: .singleValue, help: ArgumentHelp("An environment variable for the child (repeatable).", valueName: "NAME=VALUE"))
    var env: [String] = []
    @Option(parsing: .singleValue, help: ArgumentHelp("A key of the run's limits or resources the child waits on (repeatable; default: the parent's).", valueName: "key"))
    var uses: [String] = []
    @Option(parsing: .singleValue, help: ArgumentHelp("A label a worker must have to run the child (repeatable; default: the parent's `runs_on`).", valueName: "label"))
    var runsOn: [String] = []
    @Option(help: "Retries after a failure.") var retries: Int?
    @Option(help: "Stop the child after this long (e.g. 20m).") var timeout: String?
    @Option(help: "Estimated minutes (priced and simulated like a spec task's estimate).") var estimateMinutes: Double?
    @Flag(help: "Run the command through /bin/sh -c (give it as one string after --).") var shell = false
    @Option(help: "Spawn the JSON list of children in this file (the spawn.json format) instead.") var file: String?
    @Option(help: "The run (default: $MUSTER_RUN).") var run: String?
    @Option(help: "The parent task (default: $MUSTER_TASK_ID).") var parent: String?
    @OptionGroup var global: GlobalOptions
    @Argument(parsing: .postTerminator, help: "The child's command and arguments (shell agent), after --.") var command: [String] = []

    func run() async throws {
        try await guarded {
            let caller = try Spawner.caller(run: run, parent: parent, environment: TaskEnvironment())
            let requests = try self.requests()
            let store = try await global.openStore(create: false)
            let spawned = try await Spawner.spawn(store: store, run: caller.run, parent: caller.parent, requests: requests)
            if global.json {
                Terminal.json(spawned.map { SpawnReport(id: $0.id, folded: $0.folded) })
                return
            }
            for child in spawned {
                print(child.folded ? "\(child.id) (already spawned: folded into it)" : child.id)
            }
        }
    }

    func requests() throws -> [SpawnRequest] {
        if let file {
            let flags = prompt != nil || !owns.isEmpty || agent != nil || model != nil || !needs.isEmpty || id != nil
                || !env.isEmpty || !uses.isEmpty || !runsOn.isEmpty || retries != nil || timeout != nil || estimateMinutes != nil || !command.isEmpty
            if flags { throw CLIError.usage("--file takes every child from the file: drop the other child options") }
            guard FileManager.default.fileExists(atPath: file) else { throw CLIError.usage("no file at \(file)") }
            do { return try SpawnFile.read(path: file) } catch { throw CLIError.usage(error.description) }
        }
        // Checked before anything is opened or written: the id becomes a branch name.
        if let id {
            do { try SpawnRequest.checkID(id) } catch { throw CLIError.usage("refused: \(error.description)") }
        }
        var request = SpawnRequest(id: id, prompt: prompt, agent: agent, model: model, owns: owns, needs: needs, retries: retries,
                                   uses: uses.isEmpty ? nil : uses)
        for label in runsOn {
            if let problem = Labels.problem(label) {
                throw CLIError.usage("--runs-on: '\(Labels.shown(label))' is not a label: it \(problem) (use \(Labels.rule))")
            }
        }
        if !runsOn.isEmpty { request.runsOn = runsOn }
        if !command.isEmpty {
            if shell {
                guard command.count == 1 else { throw CLIError.usage("--shell takes the command as one string: muster spawn --shell -- 'make a && make b'") }
                request.command = Command(argv: command, viaShell: true)
            } else {
                request.command = Command(argv: command)
            }
        }
        for pair in env {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw CLIError.usage("--env takes NAME=VALUE, not \(pair)") }
            request.env[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        if let retries, retries < 0 { throw CLIError.usage("--retries must be zero or more") }
        if let timeout {
            guard let d = Duration.parseSpec(timeout), d > .zero else { throw CLIError.usage("--timeout \(timeout) is not a duration like 90s or 20m") }
            request.timeout = d
        }
        if let estimateMinutes {
            guard estimateMinutes >= 0 else { throw CLIError.usage("--estimate-minutes must be zero or more") }
            request.estimate = Estimate(minutes: estimateMinutes)
        }
        if request.prompt == nil && request.command == nil {
            throw CLIError.usage("give the child a --prompt, or its command after --, or --file FILE")
        }
        return [request]
    }
}
