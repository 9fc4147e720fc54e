import Foundation
import MusterRuntime

/// What a finished command printed and how it ended.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
    public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}

/// Runs commands the way muster starts processes (posix_spawn), never with Foundation's Process,
/// whose handles can close a descriptor twice: in the shared test process that can close another
/// test's pipe. The wait happens on a thread of its own (`CommandRunner.run`), never on one of Swift
/// concurrency's few threads, so in-process orchestrators in other tests keep being scheduled.
public enum Command {
    /// The test process's environment without colour and without a store of the caller's, plus `extra`.
    public static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "MUSTER_STORE")
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs a command to its end.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL,
                           environment extra: [String: String] = [:], stdin: Data? = nil) async throws -> CommandResult {
        let output = try await CommandRunner.run(executable, arguments, in: directory.path, environment: environment(extra), stdin: stdin)
        return CommandResult(status: output.status.code, stdout: output.stdout, stderr: output.stderr)
    }

    /// Starts a command in the background, its output going to files (or nowhere). `keeping` is held
    /// until the process has been waited for (the folder it runs in, say).
    public static func start(_ executable: String, _ arguments: [String], in directory: URL, environment extra: [String: String] = [:],
                             stdout: String? = nil, stderr: String? = nil, keeping: (any Sendable)? = nil) throws -> BackgroundProcess {
        let pid = try CommandRunner.spawn(executable, arguments, in: directory.path, environment: environment(extra),
                                          stdoutPath: stdout, stderrPath: stderr)
        return BackgroundProcess(pid: pid, keeping: keeping)
    }
}
