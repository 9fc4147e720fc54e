import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// `muster wait`: fan-in inside a task: block until children finish.
struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Wait until tasks of the run finish (by default, everything this task spawned).",
        discussion: """
            Inside a task, with no TASK given, waits for every task it spawned, and everything those spawned, \
            including children added while it waits. While it waits the task's concurrency slot is lent to \
            others, so parents waiting for children never fill every slot. Prints each task's state and summary \
            (--json: a list of objects). Exit status: 0 when all succeeded, 1 when any did not, 2 for bad input, \
            75 when --timeout passed first.
            """)

    @Argument(help: "Tasks to wait for (default: inside a task, everything it spawned).") var tasks: [String] = []
    @Option(help: "The run (default: $MUSTER_RUN).") var run: String?
    @Option(help: "Give up after this long (e.g. 10m); default: wait as long as it takes.") var timeout: String?
    @OptionGroup var global: GlobalOptions

    static let timedOutExit: Int32 = 75  // EX_TEMPFAIL, as `muster throttle --max-wait`

    func run() async throws {
        try await guarded {
            let environment = TaskEnvironment()
            guard let runID = run ?? environment.run else {
                throw CLIError.usage("not inside a muster run: pass --run RUN and the tasks to wait for")
            }
            let deadline = try timeout.map { Date().addingTimeInterval(try LockContext.seconds($0, option: "--timeout", allowZero: false)) }
            let store = try await global.openStore(create: false)
            let outcome = try await TaskWaiter.wait(store: store, run: runID, caller: environment.task(of: runID), tasks: tasks,
                                                    deadline: deadline)
            let targets = outcome.tasks
            let timedOut = outcome.timedOut
            report(targets)
            if timedOut {
                Terminal.error("muster: gave up waiting after \(timeout ?? "?"): \(targets.filter { !$0.state.isFinal }.count) tasks still unfinished")
                throw ExitCode(Self.timedOutExit)
            }
            if targets.contains(where: { $0.state != .succeeded }) { throw ExitCode(ExitCodes.runFailed) }
        }
    }

    func report(_ targets: [TaskRecord]) {
        if global.json {
            Terminal.json(targets.map(WaitReport.init))
            return
        }
        if targets.isEmpty { print("nothing to wait for: no tasks spawned"); return }
        let width = min(40, max(4, targets.map(\.id.count).max() ?? 4))
        for task in targets {
            let line = (task.state == .succeeded ? task.summary : task.error ?? task.summary) ?? ""
            let first = line.split(separator: "\n").first.map(String.init) ?? ""
            print(Terminal.padded(task.id, width + 2) + Terminal.padded(task.state.rawValue, 11) + String(first.prefix(100)))
        }
    }
}
