import Foundation

public struct GitError: Error, CustomStringConvertible, Sendable {
    public var command: String
    public var message: String
    public var description: String { "git \(command): \(message)" }
}

/// The git command line, run in one repository. Output is parsed in the C locale.
public struct Git: Sendable {
    public let directory: String
    static let resolver = ExecutableResolver()

    public init(_ directory: String) { self.directory = directory }
    public init(_ directory: URL) { self.directory = directory.path }

    static let environment: [String: String] = {
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        // Tasks must not be steered by a repository variable set for the orchestrator's own shell.
        for key in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"] { env.removeValue(forKey: key) }
        // No automatic gc or maintenance from muster's own commits and merges: `gc --auto` prunes
        // worktree admin folders that a concurrent `worktree add` is still creating.
        var count = Int(env["GIT_CONFIG_COUNT"] ?? "") ?? 0
        for (key, value) in [("gc.auto", "0"), ("maintenance.auto", "false")] {
            env["GIT_CONFIG_KEY_\(count)"] = key
            env["GIT_CONFIG_VALUE_\(count)"] = value
            count += 1
        }
        env["GIT_CONFIG_COUNT"] = String(count)
        return env
    }()

    /// Runs git; a non-zero exit throws unless `allowFailure`.
    @discardableResult
    public func run(_ arguments: [String], allowFailure: Bool = false, stdin: Data? = nil,
                    environment extra: [String: String] = [:]) async throws -> CommandRunner.Output {
        let git = try Self.resolver.resolve("git", relativeTo: directory)
        let environment = extra.isEmpty ? Self.environment : Self.environment.merging(extra) { _, new in new }
        let output = try await CommandRunner.run(git, arguments, in: directory, environment: environment, stdin: stdin)
        if !output.succeeded && !allowFailure {
            let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(command: arguments.prefix(3).joined(separator: " "),
                           message: message.isEmpty ? output.status.description : message)
        }
        return output
    }

    public func output(_ arguments: [String]) async throws -> String {
        try await run(arguments).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func revParse(_ ref: String) async throws -> String {
        try await output(["rev-parse", "--verify", "--quiet", "\(ref)^{commit}"])
    }

    public func branchExists(_ name: String) async throws -> Bool {
        try await run(["show-ref", "--verify", "--quiet", "refs/heads/\(name)"], allowFailure: true).succeeded
    }

    /// `git status --porcelain` lines, excluding muster's own folder.
    public func dirtyPaths() async throws -> [String] {
        try await output(["status", "--porcelain", "--untracked-files=all"]).split(separator: "\n")
            .map { String($0.dropFirst(3)) }.filter { !$0.hasPrefix(".muster/") }
    }

    /// Identity flags for commits muster makes when the user has configured none.
    public func identityArguments() async throws -> [String] {
        let name = try await run(["config", "user.name"], allowFailure: true).stdout
        let email = try await run(["config", "user.email"], allowFailure: true).stdout
        var args: [String] = []
        if name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { args += ["-c", "user.name=muster"] }
        if email.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { args += ["-c", "user.email=muster@localhost"] }
        return args
    }
}
