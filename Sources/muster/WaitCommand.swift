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
            let environment = ProcessInfo.processInfo.environment
            let envRun = environment["MUSTER_RUN"].flatMap { $0.isEmpty ? nil : $0 }
            guard let runID = run ?? envRun else {
                throw CLIError.usage("not inside a muster run: pass --run RUN and the tasks to wait for")
            }
            let caller = envRun == runID ? environment["MUSTER_TASK_ID"].flatMap { $0.isEmpty ? nil : $0 } : nil
            if tasks.isEmpty && caller == nil {
                throw CLIError.usage("wait for what? Name the tasks (inside a task it defaults to the ones it spawned)")
            }
            let deadline = try timeout.map { Date().addingTimeInterval(try LockContext.seconds($0, option: "--timeout", allowZero: false)) }
            let store = try await global.openStore(create: false)
            guard try await store.run(runID) != nil else { throw CLIError.usage("no run named \(runID) (see `muster runs`)") }
            var all = try await store.tasks(run: runID)
            let known = Set(all.map(\.id))
            for task in tasks where !known.contains(task) {
                let hint = Suggest.nearest(task, among: known.sorted()).map { " (did you mean \($0)?)" } ?? ""
                throw CLIError.usage("run \(runID) has no task \(task)\(hint)")
            }
            if let caller {
                // Waiting for itself or for what it descends from can never end.
                let ancestors = Lineage.ancestors(of: caller, in: all)
                if let bad = tasks.first(where: ancestors.contains) {
                    throw CLIError.usage("task \(caller) cannot wait for \(bad == caller ? "itself" : "its ancestor \(bad)"): it would wait forever")
                }
                try await store.setWaiting(run: runID, task: caller, waiting: true)
            }
            var targets: [TaskRecord] = []
            var pause = 0.05
            var timedOut = false
            do {
                while true {
                    targets = tasks.isEmpty ? Lineage.descendants(of: caller!, in: all) : all.filter { tasks.contains($0.id) }
                    if targets.allSatisfy({ $0.state.isFinal }) { break }
                    if let deadline, Date() >= deadline { timedOut = true; break }
                    try await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
                    pause = min(1, pause * 1.5)
                    all = try await store.tasks(run: runID)
                }
            } catch {
                if let caller { try? await store.setWaiting(run: runID, task: caller, waiting: false) }
                throw error
            }
            if let caller { try await store.setWaiting(run: runID, task: caller, waiting: false) }
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
            Terminal.json(targets.map { task -> [String: Any] in
                ["id": task.id, "state": task.state.rawValue, "summary": task.summary as Any? ?? NSNull(),
                 "result_path": task.resultPath as Any? ?? NSNull(), "error": task.error as Any? ?? NSNull()]
            })
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
