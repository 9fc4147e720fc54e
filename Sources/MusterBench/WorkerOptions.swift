import ArgumentParser

/// The options both claim workers take, so the Store API loop and the raw SQL loop run on equal terms.
struct WorkerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The store: a SQLite file or a postgres:// URL.", valueName: "path|url")) var store: String
    @Option(help: "The run to claim from.") var run: String
    @Option(help: "This worker's lease holder name.") var holder: String
    @Option(help: "Tasks per claim.") var batch: Int = 1
    @Option(help: ArgumentHelp("Where to write every claimed task id, one per line.", valueName: "file")) var out: String
    @Option(help: ArgumentHelp("Once connected, write <file>.ready.<holder> and start claiming only when <file> exists, so every worker's loop starts together, after all of them started up.", valueName: "file"))
    var startGate: String?

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }
}
