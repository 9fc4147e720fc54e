import ArgumentParser
import MusterCore

/// Every duration option: `5` or `1.5` (seconds), `250ms`, `30s`, `20m`, `2h`, `1h30m`, as in specs.
/// A value that is no duration is a usage error (exit 2) before the command runs.
struct DurationArgument: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    var duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    static func seconds(_ value: Double) -> DurationArgument { DurationArgument(.seconds(value)) }

    init?(argument: String) {
        guard let duration = Duration.parseSpec(argument) else { return nil }
        self.duration = duration
    }

    var seconds: Double { duration.seconds }
    var isPositive: Bool { duration > .zero }

    /// Shown as the default in `--help`: whole seconds as `5s`.
    var description: String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }

    var defaultValueDescription: String { description }
}

/// Checks options in a command's `validate()`: a refusal is one line on stderr and exit 2, raised
/// before `run()`, so nothing is recorded for a command with a bad option.
func validating(_ check: () throws -> Void) throws {
    do {
        try check()
    } catch let error as ExitCode {
        throw error
    } catch {
        Terminal.error("muster: \(error)")
        throw ExitCode(ExitCodes.badInput)
    }
}
