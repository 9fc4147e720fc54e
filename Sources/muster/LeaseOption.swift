import ArgumentParser

/// `--lease`: how long the orchestrator's hold on a run (and on each task it runs) lasts unless
/// renewed. It renews every third of it; one silent for longer (suspended, stuck) may be replaced
/// by `muster resume`, and stops when it wakes to find it was.
struct LeaseOption: ParsableArguments {
    @Option(name: .customLong("lease"),
            help: ArgumentHelp("How long the orchestrator's lease on the run lasts unless renewed (seconds, or 30s, 2m).", valueName: "duration"))
    var value: DurationArgument = .seconds(30)

    func validate() throws { try validating { _ = try seconds() } }

    func seconds() throws -> Double {
        let seconds = value.seconds
        guard seconds >= 1, seconds <= 86_400 else {
            throw CLIError.usage("--lease must be between 1 and 86400 seconds (got \(seconds))")
        }
        return seconds
    }
}
