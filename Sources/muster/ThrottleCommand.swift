import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore
import MusterSystem

/// `muster throttle`: runs any command under a limit shared through the store, so the agents' own
/// calls to a shared service queue politely instead of colliding.
struct ThrottleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throttle", abstract: "Run a command under a shared rate limit or concurrency cap.",
        discussion: """
            Every process that throttles on the same --limit KEY with the same store shares one token \
            bucket per figure (refilling continuously; it holds --burst seconds of the rate, at least one) \
            and one semaphore of --concurrent slots. Waiters are served in arrival order. The command runs \
            with the given argv (no shell), this terminal's stdin/stdout/stderr, and its exit status is \
            muster's. A slot is held for the command's whole run (its lease renewed) and released at the \
            end; the slot of a throttle that dies comes back when its lease (--lease) ends. Without --rpm, \
            --tokens and --concurrent, the figures of KEY come from `[limits.KEY]` or `[resources]` in muster.toml.
            Example: muster throttle --limit api --rpm 600 -- curl -s https://api.example.com/v1/x
            """)

    @Option(help: "The shared limit's name (an API, a connection pool).") var limit: String
    @Option(help: "Requests per minute across every process sharing the key.") var rpm: Int?
    @Option(name: [.customLong("tokens"), .customLong("tpm")], help: "Tokens per minute across every process sharing the key.") var tokens: Int?
    @Option(help: "How many tokens this command counts against --tokens (default 1).") var useTokens: Int?
    @Option(help: "At most this many commands at once across every process sharing the key.") var concurrent: Int?
    @Option(help: "Seconds of the rate the bucket may let through at once after a quiet spell (default 1).") var burst: Double?
    @Option(help: "How long a concurrency slot lasts if this process dies (renewed while the command runs).")
    var lease: DurationArgument = .seconds(60)
    @Option(help: "Give up (exit 75) after waiting this long for a turn (e.g. 30s); default: wait as long as it takes.")
    var maxWait: DurationArgument?
    @Option(help: "Name the concurrency slot's holder (default: this process).") var holder: String?
    @OptionGroup var global: GlobalOptions
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    static let timedOutExit: Int32 = 75  // EX_TEMPFAIL

    func validate() throws {
        try validating {
            if command.isEmpty {
                throw CLIError.usage("give the command to run after --: muster throttle --limit \(limit) --rpm 60 -- CMD ARGS…")
            }
            if !lease.isPositive { throw CLIError.usage("--lease \(lease) is not a duration like 30s, 10m or 1h (and more than zero)") }
            if let useTokens, useTokens < 0 { throw CLIError.usage("--use-tokens must not be negative, not \(useTokens)") }
        }
    }

    func run() async throws {
        var status: TerminationStatus = .exited(0)
        try await guarded {
            let figures = try Throttle.limit(key: limit, requestsPerMinute: rpm, tokensPerMinute: tokens, concurrent: concurrent,
                                             burst: burst, root: global.workspace.root)
            do { try figures.validate(key: limit) } catch let error as LimitError {
                throw CLIError.usage(error.description.replacingOccurrences(of: "requests_per_minute", with: "--rpm")
                    .replacingOccurrences(of: "tokens_per_minute", with: "--tokens").replacingOccurrences(of: "concurrent", with: "--concurrent"))
            }
            let cwd = FileManager.default.currentDirectoryPath
            let path: String
            do { path = try ExecutableResolver().resolve(command[0], relativeTo: cwd) } catch {
                throw CLIError.usage("cannot run \(command[0]): not found on PATH or not executable")
            }
            let workspace = global.workspace
            if global.storePath == workspace.defaultStorePath { try workspace.prepare() }
            let throttle = Throttle(key: limit, limit: figures, tokens: useTokens ?? 1, holder: holder, leaseSeconds: lease.seconds,
                                    maxWait: maxWait?.seconds)
            do {
                status = try await throttle.run(path, Array(command.dropFirst()), in: cwd, store: try SQLiteStore(path: global.storePath))
            } catch let error as RateLimiter.Failure {
                Terminal.error("muster: \(error.description)")
                throw ExitCode(Self.timedOutExit)
            }
        }
        if status.code != 0 { throw ExitCode(status.code) }
    }
}
