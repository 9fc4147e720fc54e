import ArgumentParser
import Foundation
import MusterPostgres
import MusterStore

/// `seed`: one run of N independent `true` tasks, recorded through the Store API (one transaction).
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Create a run of N independent shell tasks.")

    @Option(help: ArgumentHelp("The store: a SQLite file (created if missing) or a postgres:// URL.", valueName: "path|url")) var store: String
    @Option(help: "The run id.") var run: String
    @Option(help: "How many tasks.") var tasks: Int

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
    }

    func run() async throws {
        let start = ContinuousClock.now
        let opened = try await StoreLocator.open(store)
        try await opened.createRun(NewRun(id: run, workflow: Bench.workflow(name: "bench-seed"), specPath: "(muster-bench seed)",
                                          root: FileManager.default.currentDirectoryPath, concurrency: 1, simulate: false,
                                          createdAt: Date()),
                                   tasks: (1...tasks).map(Bench.task))
        print("tasks=\(tasks) seconds=\(Bench.format(Bench.seconds(since: start)))")
    }
}
