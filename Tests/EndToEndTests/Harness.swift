import Foundation
import MusterRuntime
import MusterTestKit

/// Drives the built `muster` binary as a user would, in a temp git repository.
///
/// The synchronous harness, kept so tests written against it still compile. Its waits block the
/// calling thread (a Swift concurrency thread in an async test), starving in-process orchestrators
/// in other tests: new tests use `TestRepository` from MusterTestKit, whose waits never do.
struct Harness {
    let root: URL

    /// The folder the test runner was built into holds `muster` and `muster-bench` too.
    static var binDirectory: URL { BuiltBinaries.directory }

    static var muster: String { binDirectory.appendingPathComponent("muster").path }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    init(git: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if git {
            _ = try Self.exec("/usr/bin/env", ["git", "init", "-q", "-b", "main", root.path], in: root)
            try self.git("config", "user.name", "Test")
            try self.git("config", "user.email", "test@example.com")
            try self.git("commit", "-q", "--allow-empty", "-m", "start")
        }
    }

    @discardableResult
    func git(_ arguments: String...) throws -> Result {
        try Self.exec("/usr/bin/env", ["git"] + arguments, in: root)
    }

    /// Commits everything in the repository (task worktrees start from HEAD).
    func commitAll(_ message: String = "fixture") throws {
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
    }

    func write(_ name: String, _ text: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    func read(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }

    func lines(_ name: String) -> [String] { read(name).split(separator: "\n").map(String.init) }

    @discardableResult
    func muster(_ arguments: String...) throws -> Result { try Self.exec(Self.muster, arguments, in: root) }

    func musterArgs(_ arguments: [String]) throws -> Result { try Self.exec(Self.muster, arguments, in: root) }

    /// A process started in the background, to interrupt, kill or wait for.
    struct Background {
        let pid: pid_t
        func signal(_ signal: Int32) { kill(pid, signal) }
        func wait() -> TerminationStatus { CommandRunner.wait(pid) }
        /// Waits on a thread of its own: a test that waits for long must not hold one of Swift
        /// concurrency's few threads, or in-process orchestrators in other tests stop being scheduled.
        func exited() async -> TerminationStatus {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: CommandRunner.wait(pid)) }.start()
            }
        }
    }

    /// Starts muster without waiting (to interrupt or kill it).
    func start(_ arguments: [String]) throws -> Background {
        Background(pid: try CommandRunner.spawn(Self.muster, arguments, in: root.path, environment: Self.environment([:])))
    }

    /// Starts any command in the background, its output going to files (or nowhere).
    static func spawn(_ executable: String, _ arguments: [String], in directory: URL, environment extra: [String: String] = [:],
                      stdout: String? = nil, stderr: String? = nil) throws -> Background {
        Background(pid: try CommandRunner.spawn(executable, arguments, in: directory.path, environment: environment(extra),
                                                stdoutPath: stdout, stderrPath: stderr))
    }

    static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "MUSTER_STORE")
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs a command to the end. Processes are started the way muster starts them (posix_spawn),
    /// never with Foundation's Process, whose handles can close a descriptor twice: in this shared
    /// test process that can close another test's pipe or epoll descriptor.
    static func exec(_ executable: String, _ arguments: [String], in directory: URL, environment extra: [String: String] = [:]) throws -> Result {
        let output = try CommandRunner.runBlocking(executable, arguments, in: directory.path, environment: environment(extra))
        return Result(status: output.status.code, stdout: output.stdout, stderr: output.stderr)
    }

    /// Waits until `condition` holds, polling; fails after `timeout`.
    static func eventually(timeout: Double = 20, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return false
    }
}
