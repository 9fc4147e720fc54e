import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// `plan-enqueue`: what `muster run` does before its first dispatch, timed in-process on a generated
/// spec of N `true` tasks: parse (WorkflowLoader.parse), plan (Planner.plan), open the store, record
/// the run and its tasks (RunFactory.create → Store.createRun).
struct PlanEnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan-enqueue", abstract: "Time parse + plan + enqueue of a generated N-task foreach workflow.")

    @Option(help: "How many tasks the generated `foreach: {items: [...]}` expands to.") var tasks: Int = 10_000
    @Option(help: ArgumentHelp("The SQLite store file (created if missing).", valueName: "path")) var store: String

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
    }

    static func spec(tasks: Int) -> String {
        let items = (1...tasks).map(String.init).joined(separator: ", ")
        return """
            name: bench-plan-enqueue
            agent: shell
            concurrency: 8
            tasks:
              work:
                foreach: {items: [\(items)]}
                command: ["true"]

            """
    }

    func run() async throws {
        let text = Self.spec(tasks: tasks)
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let t0 = ContinuousClock.now
        let loaded = try WorkflowLoader.parse(text, file: "bench-plan-enqueue.yml")
        let t1 = ContinuousClock.now
        let plan = try Planner.plan(loaded, root: root)
        let t2 = ContinuousClock.now
        let sqlite = try SQLiteStore(path: store)
        let t3 = ContinuousClock.now
        try await RunFactory.create(plan: plan, specPath: "bench-plan-enqueue.yml",
                                    workspace: Workspace(root: root, isGitRepository: false), store: sqlite,
                                    concurrency: plan.concurrency, simulate: false)
        let t4 = ContinuousClock.now
        guard plan.tasks.count == tasks else { throw ValidationError("planned \(plan.tasks.count) tasks, expected \(tasks)") }
        func s(_ d: Duration) -> String { Bench.format(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        print("tasks=\(tasks) seconds=\(s(t4 - t0)) parse=\(s(t1 - t0)) plan=\(s(t2 - t1)) open=\(s(t3 - t2)) enqueue=\(s(t4 - t3))")
    }
}
