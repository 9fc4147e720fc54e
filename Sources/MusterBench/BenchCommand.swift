import ArgumentParser

/// `muster-bench`: the measuring tools behind `scripts/bench`. Not shipped to users.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muster-bench",
        abstract: "Benchmark helpers for muster's store and planner (driven by scripts/bench).",
        subcommands: [SeedCommand.self, ClaimWorkerCommand.self, RawClaimWorkerCommand.self, RawPostgresClaimWorkerCommand.self, PlanEnqueueCommand.self, ConflictsBenchCommand.self, LimitWorkerCommand.self,
                      ServeSeedCommand.self, ServeLatencyCommand.self, ServeTouchCommand.self])
}
