import Foundation
import Synchronization

/// A git repository in a temp folder, driven by the built `muster` binary as a user would drive it.
/// The folder is removed when the repository goes; processes started in it and still running then
/// are killed. Commands run with `TMPDIR` in a folder beside the repository, so whatever they leave
/// there (a `kill -9` in the middle of a conflict check) goes with it.
public final class TestRepository: Sendable {
    public let folder: TemporaryFolder
    /// The repository: `repo` in the folder (`tmp` beside it is the commands' `TMPDIR`).
    public var root: URL { folder.appending("repo") }
    var temp: URL { folder.appending("tmp") }
    let started = Mutex<[BackgroundProcess]>([])

    /// `git: false` leaves the folder a plain one.
    public init(git: Bool = true) async throws {
        folder = try TemporaryFolder("e2e")
        try FileManager.default.createDirectory(at: folder.appending("repo"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appending("tmp"), withIntermediateDirectories: true)
        if git {
            try await self.git("init", "-q", "-b", "main", root.path)
            try await self.git("config", "user.name", "Test")
            try await self.git("config", "user.email", "test@example.com")
            try await self.git("commit", "-q", "--allow-empty", "-m", "start")
        }
    }

    deinit {
        for process in started.withLock({ $0 }) where !process.hasExited { process.killAndReap() }
    }

    public static var muster: String { BuiltBinaries.muster }

    // MARK: Commands

    @discardableResult
    public func git(_ arguments: String...) async throws -> CommandResult {
        try await Command.run("/usr/bin/env", ["git"] + arguments, in: root, environment: ["TMPDIR": temp.path])
    }

    /// Commits everything in the repository (task worktrees start from HEAD).
    public func commitAll(_ message: String = "fixture") async throws {
        try await git("add", "-A")
        try await git("commit", "-q", "--allow-empty", "-m", message)
    }

    @discardableResult
    public func muster(_ arguments: String...) async throws -> CommandResult { try await musterArgs(arguments) }

    public func musterArgs(_ arguments: [String], environment: [String: String] = [:], in subfolder: String = "") async throws -> CommandResult {
        try await Command.run(Self.muster, arguments, in: subfolder.isEmpty ? root : root.appendingPathComponent(subfolder),
                              environment: ["TMPDIR": temp.path].merging(environment) { $1 })
    }

    /// Any command, run to its end in the repository (or `directory`).
    @discardableResult
    public func exec(_ executable: String, _ arguments: [String], in directory: URL? = nil,
                     environment: [String: String] = [:]) async throws -> CommandResult {
        try await Command.run(executable, arguments, in: directory ?? root, environment: ["TMPDIR": temp.path].merging(environment) { $1 })
    }

    /// Starts muster without waiting (to interrupt or kill it).
    public func start(_ arguments: [String], environment: [String: String] = [:]) throws -> BackgroundProcess {
        try spawn(Self.muster, arguments, environment: environment)
    }

    /// Starts any command in the repository in the background, its output going to files (or nowhere).
    public func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                      stdout: String? = nil, stderr: String? = nil) throws -> BackgroundProcess {
        let process = try Command.start(executable, arguments, in: root, environment: ["TMPDIR": temp.path].merging(environment) { $1 },
                                        stdout: stdout, stderr: stderr, keeping: folder)
        started.withLock { $0.append(process) }
        return process
    }

    // MARK: Files

    public func write(_ name: String, _ text: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    public func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    public func read(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }

    public func lines(_ name: String) -> [String] { read(name).split(separator: "\n").map(String.init) }

    public func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
}
