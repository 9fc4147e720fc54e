import CMusterSystem
import Foundation
import MusterSystem

/// Runs a command (git, mostly) to completion and returns its output. The blocking part runs on
/// `pool` (git passes `BlockingPool.shared`) or a thread of its own, never on Dispatch's shared
/// pool or a cooperative thread: blocked pool threads on a 2-core machine stall everything else
/// for up to a second.
public enum CommandRunner {
    public struct Output: Sendable {
        public var status: TerminationStatus
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status.succeeded }
    }

    public static func run(_ executable: String, _ arguments: [String], in directory: String,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           stdin: Data? = nil, pool: BlockingPool? = nil) async throws -> Output {
        // Short commands (git) share the bounded pool; a command that may run for long (a whole
        // `muster run` in a test, a user's command) gets a thread of its own, or it would hold
        // one of the pool's threads and make every git call of the process wait behind it.
        if let pool {
            return try await pool.run {
                try runBlocking(executable, arguments, in: directory, environment: environment, stdin: stdin)
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try runBlocking(executable, arguments, in: directory, environment: environment, stdin: stdin) })
            }
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// The blocking form, for callers that are not async (tests, scripts).
    public static func runBlocking(_ executable: String, _ arguments: [String], in directory: String,
                                   environment: [String: String], stdin: Data? = nil) throws -> Output {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&outPipe) == 0 else { throw SystemError.io("pipe", errno) }
        guard muster_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SystemError.io("pipe", errno)
        }
        guard muster_pipe_cloexec(&inPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1]); close(errPipe[0]); close(errPipe[1])
            throw SystemError.io("pipe", errno)
        }
        var pid: pid_t = 0
        let rc = CStrings.with(arguments: argv0(executable) + arguments, environment: environment) { argv, envp in
            muster_spawn(executable, argv, envp, directory, inPipe[0], outPipe[1], errPipe[1], &pid)
        }
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SystemError.spawn(executable, rc)
        }
        let (out, err) = pump(stdin: inPipe[1], input: stdin ?? Data(), stdout: outPipe[0], stderr: errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return Output(status: signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal),
                      stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// Feeds stdin and drains stdout and stderr together with poll(), so no pipe fills and blocks the child.
    static func pump(stdin: Int32, input: Data, stdout: Int32, stderr: Int32) -> (Data, Data) {
        var out = Data(), err = Data()
        var written = 0
        var fds = [pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0),
                   pollfd(fd: stdout, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)]
        if input.isEmpty {
            close(stdin)
            fds[0].fd = -1
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fds[1].fd >= 0 || fds[2].fd >= 0 {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[0].fd >= 0 && fds[0].revents != 0 {
                let n = input.withUnsafeBytes { write(stdin, $0.baseAddress! + written, min(65536, input.count - written)) }
                if n > 0 { written += n }
                if n < 0 && errno != EINTR && errno != EAGAIN || written >= input.count {
                    close(stdin)
                    fds[0].fd = -1
                }
            }
            for i in 1...2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if i == 1 { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
                } else if n == 0 || errno != EINTR {
                    close(fds[i].fd)
                    fds[i].fd = -1
                }
            }
        }
        if fds[0].fd >= 0 { close(stdin) }
        return (out, err)
    }

    /// Starts a process in the background with its output discarded; the caller waits for it with
    /// `wait(_:)` or signals it. For tests and tools that drive muster itself.
    public static func spawn(_ executable: String, _ arguments: [String], in directory: String,
                             environment: [String: String], stdoutPath: String? = nil, stderrPath: String? = nil) throws -> pid_t {
        func openOutput(_ path: String?) throws -> Int32 {
            let fd = path.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError.io("cannot write \(path ?? "/dev/null")", errno) }
            return fd
        }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { throw SystemError.io("/dev/null", errno) }
        let out = try openOutput(stdoutPath), err = try openOutput(stderrPath)
        defer { close(null); close(out); close(err) }
        var pid: pid_t = 0
        let rc = CStrings.with(arguments: argv0(executable) + arguments, environment: environment) { argv, envp in
            muster_spawn(executable, argv, envp, directory, null, out, err, &pid)
        }
        guard rc == 0 else { throw SystemError.spawn(executable, rc) }
        return pid
    }

    /// Starts a process that shares this one's stdin, stdout and stderr (`muster throttle` running a
    /// command in its place). It gets its own process group, like every child muster starts: the
    /// caller forwards signals to it.
    public static func spawnInheritingStreams(_ executable: String, _ arguments: [String], in directory: String,
                                              environment: [String: String]) throws -> pid_t {
        var pid: pid_t = 0
        let rc = CStrings.with(arguments: argv0(executable) + arguments, environment: environment) { argv, envp in
            muster_spawn(executable, argv, envp, directory, 0, 1, 2, &pid)
        }
        guard rc == 0 else { throw SystemError.spawn(executable, rc) }
        return pid
    }

    /// A program's name as its own `argv[0]`: the last part of its path.
    static func argv0(_ executable: String) -> [String] { [executable.split(separator: "/").last.map(String.init) ?? executable] }

    /// Waits for a process started with `spawn` and returns how it ended.
    public static func wait(_ pid: pid_t) -> TerminationStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
