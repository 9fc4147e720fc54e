import CMusterSystem
import Foundation

/// Runs a short command (git, mostly) to completion and returns its output. The blocking wait
/// happens on a Dispatch thread, not on the caller's: async callers never hold a cooperative thread.
public enum CommandRunner {
    public struct Output: Sendable {
        public var status: TerminationStatus
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status.succeeded }
    }

    public static func run(_ executable: String, _ arguments: [String], in directory: String,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           stdin: Data? = nil) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(executable, arguments, in: directory, environment: environment, stdin: stdin) })
            }
        }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], in directory: String,
                            environment: [String: String], stdin: Data?) throws -> Output {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&outPipe) == 0, muster_pipe_cloexec(&errPipe) == 0, muster_pipe_cloexec(&inPipe) == 0 else {
            throw SystemError.io("pipe", errno)
        }
        let argv = ([executable.split(separator: "/").last.map(String.init) ?? executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = muster_spawn(executable, argv, envp, directory, inPipe[0], outPipe[1], errPipe[1], &pid)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SystemError.spawn(executable, rc)
        }
        // Feed stdin and drain stderr on helper threads so no pipe fills up and blocks the child.
        let group = DispatchGroup()
        let input = inPipe[1]
        DispatchQueue.global().async(group: group) {
            if let stdin { stdin.withUnsafeBytes { writeAll(input, $0) } }
            close(input)
        }
        let errBox = DataBox()
        let errFD = errPipe[0]
        DispatchQueue.global().async(group: group) { errBox.data = readAll(errFD) }
        let out = readAll(outPipe[0])
        group.wait()
        close(outPipe[0]); close(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return Output(status: signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal),
                      stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    final class DataBox: @unchecked Sendable {  // written once by one thread, read after group.wait()
        var data = Data()
    }

    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            return data
        }
    }
}
