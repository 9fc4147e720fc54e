import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

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
    @Option(help: "How long a concurrency slot lasts if this process dies (renewed while the command runs).") var lease = "60s"
    @Option(help: "Give up (exit 75) after waiting this long for a turn (e.g. 30s); default: wait as long as it takes.") var maxWait: String?
    @Option(help: "Name the concurrency slot's holder (default: this process).") var holder: String?
    @OptionGroup var global: GlobalOptions
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    static let timedOutExit: Int32 = 75  // EX_TEMPFAIL

    /// The figures given as options, or else those of KEY in muster.toml.
    func resolvedLimit() throws -> RateLimit {
        if rpm != nil || tokens != nil || concurrent != nil {
            return RateLimit(requestsPerMinute: rpm, tokensPerMinute: tokens, concurrent: concurrent,
                             burstSeconds: burst ?? RateLimit.defaultBurstSeconds)
        }
        let config = try ProjectConfig.load(root: global.workspace.root)
        guard let spec = config.limits[limit] else {
            let known = config.limits.keys.sorted()
            throw CLIError.usage("give at least one of --rpm N, --tokens N or --concurrent N, or define `\(limit)` in muster.toml "
                                 + "(`[limits.\(limit)]` with `requests_per_minute = 60`, or `\(limit) = N` under `[resources]`)"
                                 + (known.isEmpty ? "" : "; muster.toml defines \(known.joined(separator: ", "))"))
        }
        var limit = RateLimit(spec)
        if let burst { limit.burstSeconds = burst }
        return limit
    }

    func run() async throws {
        var status: TerminationStatus = .exited(0)
        try await guarded {
            guard let executable = command.first else {
                throw CLIError.usage("give the command to run after --: muster throttle --limit \(limit) --rpm 60 -- CMD ARGS…")
            }
            let limit = try resolvedLimit()
            do {
                try limit.validate(key: self.limit)
                if let useTokens, useTokens < 0 { throw LimitError.invalid("--use-tokens must not be negative, not \(useTokens)") }
            } catch let error as LimitError {
                throw CLIError.usage(error.description.replacingOccurrences(of: "requests_per_minute", with: "--rpm")
                    .replacingOccurrences(of: "tokens_per_minute", with: "--tokens").replacingOccurrences(of: "concurrent", with: "--concurrent"))
            }
            let leaseSeconds = try LockContext.seconds(lease, option: "--lease", allowZero: false)
            let maxWait = try maxWait.map { try LockContext.seconds($0, option: "--max-wait", allowZero: true) }
            let cwd = FileManager.default.currentDirectoryPath
            let path: String
            do { path = try ExecutableResolver().resolve(executable, relativeTo: cwd) } catch {
                throw CLIError.usage("cannot run \(executable): not found on PATH or not executable")
            }
            let storePath = global.storePath
            let workspace = global.workspace
            if storePath == workspace.defaultStorePath { try workspace.prepare() }
            let limiter = RateLimiter(store: try await global.openStore(create: true))
            let holder = holder ?? "throttle:\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
            let permit: RateLimiter.Permit
            do {
                permit = try await limiter.acquire(key: self.limit, requests: 1, tokens: limit.tokensPerMinute == nil ? 0 : (useTokens ?? 1), limit: limit,
                                                   holder: holder, leaseSeconds: leaseSeconds, maxWait: maxWait)
            } catch let error as RateLimiter.Failure {
                Terminal.error("muster: \(error.description)")
                throw ExitCode(Self.timedOutExit)
            }
            let pid = try CommandRunner.spawnInheritingStreams(path, Array(command.dropFirst()), in: cwd,
                                                                environment: ProcessInfo.processInfo.environment)
            let forwarding = SignalForwarder(pid: pid)
            let renewal = permit.holdsSlot ? Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(Int64(leaseSeconds * 1000 / 3)))
                    if Task.isCancelled { break }
                    try? await limiter.renew(permit, capacity: limit.concurrent ?? 1, leaseSeconds: leaseSeconds)
                }
            } : nil
            status = await withCheckedContinuation { continuation in
                let thread = Thread { continuation.resume(returning: CommandRunner.wait(pid)) }
                thread.stackSize = 256 * 1024
                thread.start()
            }
            renewal?.cancel()
            forwarding.stop()
            try await limiter.release(permit)
        }
        if status.code != 0 { throw ExitCode(status.code) }
    }
}

/// Passes the signals a terminal or supervisor sends muster on to the child's process group
/// (it runs in a group of its own), so Ctrl-C stops the command and muster then relays its status.
final class SignalForwarder: Sendable {
    nonisolated(unsafe) private var sources: [DispatchSourceSignal] = []

    init(pid: pid_t) {
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { kill(-pid, sig) }
            source.resume()
            sources.append(source)
        }
    }

    func stop() { sources.forEach { $0.cancel() } }
}
