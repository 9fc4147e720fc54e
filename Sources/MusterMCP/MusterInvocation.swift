import Foundation
import MusterRuntime

/// Runs this same `muster` binary with a CLI command (`plan`, `run`): the `plan` and `run` tools call
/// exactly what the CLI does, without a second copy of spec loading and run start-up. Output goes to
/// files (no pipe to drain); the exit is awaited through the termination handler, never by blocking.
enum MusterInvocation {
    static var executable: URL {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: link)
    }

    struct Finished: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func start(_ arguments: [String], directory: URL, stdout: URL, stderr: URL,
                      onExit: (@Sendable (Int32) -> Void)? = nil) throws -> Process {
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        if let onExit { process.terminationHandler = { onExit($0.terminationStatus) } }
        try process.run()
        return process
    }

    static func run(_ arguments: [String], directory: URL, scratch: URL) async throws -> Finished {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let tag = UUID().uuidString.prefix(8)
        let out = scratch.appendingPathComponent("\(tag).out"), err = scratch.appendingPathComponent("\(tag).err")
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            do { _ = try start(arguments, directory: directory, stdout: out, stderr: err) { continuation.resume(returning: $0) } }
            catch { continuation.resume(throwing: error) }
        }
        return Finished(status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
