import ArgumentParser

/// `--lease`: how long the orchestrator's hold on a run (and on each task it runs) lasts unless
/// renewed. It renews every third of it; one silent for longer (suspended, stuck) may be replaced
/// by `muster resume`, and stops when it wakes to find it was.
struct LeaseOption: ParsableArguments {
    @Option(name: .customLong("lease"),
            help: ArgumentHelp("Seconds the orchestrator's lease on the run lasts unless renewed.", valueName: "seconds"))
    var value: Double = 30

    func seconds() throws -> Double {
        guard value.isFinite, value >= 1, value <= 86_400 else {
            throw CLIError.usage("--lease must be between 1 and 86400 seconds (got \(value))")
        }
        return value
    }
}
