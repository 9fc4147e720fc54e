import Foundation

public struct GitError: Error, CustomStringConvertible, Sendable {
    public var command: String
    public var message: String
    public var description: String { "git \(command): \(message)" }
}

/// The git command line, run in one repository. Output is parsed in the C locale.
///
/// Never discovers a repository by walking up: with an explicit git dir (`GIT_DIR`, `GIT_WORK_TREE`)
/// git looks nowhere else; without one, `GIT_CEILING_DIRECTORIES` stops the search at `directory`
/// itself, so a folder whose `.git` was removed is "not a git repository" rather than the user's
/// checkout above it. Hooks, replace objects, fsmonitor and automatic gc are off for every call.
public struct Git: Sendable {
    /// Where git runs (the work tree, or the repository's top folder).
    public let directory: String
    /// `GIT_DIR`, when set explicitly (a task worktree's admin folder, after it was checked).
    public let gitDirectory: String?
    /// `GIT_WORK_TREE`, with `gitDirectory`.
    public let workTree: String?
    /// Settings on top of `settings` for this git only (see `withoutDrivers`).
    public private(set) var overrides: [String: String] = [:]
    static let resolver = ExecutableResolver()

    public init(_ directory: String) {
        self.directory = directory
        self.gitDirectory = nil
        self.workTree = nil
    }

    public init(_ directory: URL) { self.init(directory.path) }

    /// Git on `gitDirectory` with `workTree` as its files; no discovery at all.
    public init(gitDirectory: String, workTree: String) {
        self.directory = workTree
        self.gitDirectory = gitDirectory
        self.workTree = workTree
    }

    /// Settings every muster git call runs with (passed as `GIT_CONFIG_*`, which outrank every config file).
    static let settings: [(String, String)] = [
        // A hook written into the shared `.git/hooks` (or a `core.hooksPath` an agent set) must not run
        // as muster: /dev/null is no folder, so no hook can ever be found there.
        ("core.hooksPath", "/dev/null"),
        // fsmonitor is a command git would run on status and add.
        ("core.fsmonitor", "false"),
        // commit-tree signs when this says so, running whatever `gpg.program` names.
        ("commit.gpgSign", "false"),
        // No automatic gc or maintenance from muster's own commits and merges: `gc --auto` prunes
        // worktree admin folders that a concurrent `worktree add` is still creating.
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
    ]

    static let environment: [String: String] = {
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        // A `git replace` of the base commit must not change what muster diffs, commits on or merges.
        env["GIT_NO_REPLACE_OBJECTS"] = "1"
        // Tasks must not be steered by a repository variable set for the orchestrator's own shell.
        for key in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
                    "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_REPLACE_REF_BASE"] {
            env.removeValue(forKey: key)
        }
        var count = Int(env["GIT_CONFIG_COUNT"] ?? "") ?? 0
        for (key, value) in settings {
            env["GIT_CONFIG_KEY_\(count)"] = key
            env["GIT_CONFIG_VALUE_\(count)"] = value
            count += 1
        }
        env["GIT_CONFIG_COUNT"] = String(count)
        return env
    }()

    /// The environment for a git process run directly (not through `run`) in `directory`: the
    /// shared settings plus a ceiling at `directory`'s parent, so git never walks above it.
    public static func environment(in directory: String) -> [String: String] {
        var env = environment
        env["GIT_CEILING_DIRECTORIES"] = ceiling(for: directory)
        return env
    }

    static func ceiling(for directory: String) -> String {
        let parent = (URL(fileURLWithPath: directory).standardizedFileURL.path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "/" : parent
    }

    /// This git's environment, with `extra` on top.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = Self.environment(in: directory)
        if let gitDirectory { env["GIT_DIR"] = gitDirectory }
        if let workTree { env["GIT_WORK_TREE"] = workTree }
        if !overrides.isEmpty {
            var count = Int(env["GIT_CONFIG_COUNT"] ?? "") ?? 0
            for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
                env["GIT_CONFIG_KEY_\(count)"] = key
                env["GIT_CONFIG_VALUE_\(count)"] = value
                count += 1
            }
            env["GIT_CONFIG_COUNT"] = String(count)
        }
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Config keys that make git run a command while it stages, checks out or merges files.
    static let driverKeys = #"^(filter\..+\.(clean|smudge|process)|merge\..+\.driver)$"#

    /// This git with every filter and merge driver the repository's config names turned off: an
    /// agent that can write `.git/config` and a `.gitattributes` would otherwise have muster run its
    /// commands as it stages or merges. A filter becomes none (an empty command); a merge driver
    /// becomes git's own three-way text merge.
    public func withoutDrivers() async throws -> Git {
        let listed = try await run(["config", "--name-only", "--get-regexp", Self.driverKeys], allowFailure: true)
        var copy = self
        for key in listed.stdout.split(separator: "\n") where !key.isEmpty {
            copy.overrides[String(key)] = key.hasPrefix("merge.") ? "git merge-file --marker-size=%L %A %O %B" : ""
        }
        return copy
    }

    /// Runs git; a non-zero exit throws unless `allowFailure`.
    @discardableResult
    public func run(_ arguments: [String], allowFailure: Bool = false, stdin: Data? = nil,
                    environment extra: [String: String] = [:]) async throws -> CommandRunner.Output {
        let git = try Self.resolver.resolve("git", relativeTo: directory)
        let output = try await CommandRunner.run(git, arguments, in: directory, environment: environment(extra), stdin: stdin, pool: .shared)
        if !output.succeeded && !allowFailure {
            let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(command: arguments.prefix(3).joined(separator: " "),
                           message: message.isEmpty ? output.status.description : message)
        }
        return output
    }

    public func output(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> String {
        try await run(arguments, environment: extra).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func revParse(_ ref: String) async throws -> String {
        try await output(["rev-parse", "--verify", "--quiet", "\(ref)^{commit}"])
    }

    /// The commit `ref` names, or nil when it does not exist.
    public func resolve(_ ref: String) async throws -> String? {
        let result = try await run(["rev-parse", "--verify", "--quiet", "\(ref)^{commit}"], allowFailure: true)
        return result.succeeded ? result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    public func branchExists(_ name: String) async throws -> Bool {
        try await run(["show-ref", "--verify", "--quiet", "refs/heads/\(name)"], allowFailure: true).succeeded
    }

    public func isAncestor(_ ancestor: String, of descendant: String) async throws -> Bool {
        try await run(["merge-base", "--is-ancestor", ancestor, descendant], allowFailure: true).succeeded
    }

    /// The repository's common git folder (`.git` of the main worktree), as an absolute path.
    public func commonDirectory() async throws -> String {
        let path = try await output(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        return URL(fileURLWithPath: path).standardizedFileURL.path
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
