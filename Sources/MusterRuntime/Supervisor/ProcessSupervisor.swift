import CMusterSystem
import Foundation
import MusterStore
import MusterSystem
import Synchronization

/// What to start: an already resolved executable, its argv, environment and folder.
public struct LaunchRequest: Sendable {
    public var key: String
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    public var directory: String
    /// A file fed to stdin (an agent's prompt); nil gives /dev/null.
    public var stdinPath: String?
    public var logPath: String
    public var stdoutPath: String
    public var logCap: Int
    public var stdoutCap: Int
    /// Each output line as it arrives, for the agent's live parser (nil: none).
    public var onLine: OutputLineHandler?
    /// A bubblewrap launcher (`SandboxLaunch`): started from a thread that lives as long as the
    /// process, since `--die-with-parent` fires when the *thread* that started it ends; and
    /// signalled through `SandboxSignals`.
    public var sandboxed = false

    public init(key: String, executable: String, arguments: [String], environment: [String: String], directory: String,
                stdinPath: String? = nil, logPath: String, stdoutPath: String, logCap: Int = 32 << 20, stdoutCap: Int = 4 << 20,
                onLine: OutputLineHandler? = nil) {
        self.onLine = onLine
        self.key = key
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
        self.stdinPath = stdinPath
        self.logPath = logPath
        self.stdoutPath = stdoutPath
        self.logCap = logCap
        self.stdoutCap = stdoutCap
    }
}

public enum TerminationStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var succeeded: Bool { self == .exited(0) }
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

public struct ProcessExit: Sendable {
    public var key: String
    public var status: TerminationStatus
    public var finishedAt: Date
}

public struct LaunchedProcess: Sendable {
    public var key: String
    public var pid: Int32
    /// The process group every descendant shares unless it leaves on purpose.
    public var pgid: Int32
    public var output: OutputCapture
    /// It runs inside a bubblewrap sandbox (its pid namespace ends every descendant with it).
    public var sandboxed = false
}

/// Starts processes with posix_spawn in their own process group and watches them without
/// polling: a pidfd per process and its output pipes, on one epoll thread (`IOLoop`).
/// (Foundation's Process polls every 50 ms; this costs a spawn plus a few syscalls.)
public final class ProcessSupervisor: Sendable {
    let loop = IOLoop.shared
    let onExit: @Sendable (ProcessExit) -> Void

    /// One process's watch state; only touched on the loop thread.
    final class Watch: @unchecked Sendable {
        let key: String
        let pid: Int32
        let output: OutputCapture
        var pipes: Set<Int32> = []
        var status: TerminationStatus?
        var reported = false
        init(key: String, pid: Int32, output: OutputCapture) {
            self.key = key
            self.pid = pid
            self.output = output
        }
    }

    public init(onExit: @escaping @Sendable (ProcessExit) -> Void) {
        self.onExit = onExit
    }

    public func launch(_ request: LaunchRequest) throws -> LaunchedProcess {
        let output = try OutputCapture(logPath: request.logPath, stdoutPath: request.stdoutPath, logCap: request.logCap,
                                       stdoutCap: request.stdoutCap, now: Date(), onLine: request.onLine)
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&outPipe) == 0 else { output.finish(); throw SystemError.io("pipe", errno) }
        guard muster_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1]); output.finish()
            throw SystemError.io("pipe", errno)
        }
        let stdinFD = open(request.stdinPath ?? "/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            if stdinFD >= 0 { close(stdinFD) }
            close(outPipe[1])
            close(errPipe[1])
        }
        guard stdinFD >= 0 else {
            close(outPipe[0]); close(errPipe[0]); output.finish()
            throw SystemError.io("cannot read \(request.stdinPath ?? "/dev/null")", errno)
        }
        var pid: pid_t = 0
        let rc = CStrings.with(arguments: request.arguments, environment: request.environment) { argv, envp -> Int32 in
            guard request.sandboxed else {
                return muster_spawn(request.executable, argv, envp, request.directory, stdinFD, outPipe[1], errPipe[1], &pid)
            }
            let spawned = loop.runAndWait { [argv = SendablePointers(argv), envp = SendablePointers(envp), outFD = outPipe[1], errFD = errPipe[1]] in
                var child: pid_t = 0
                let rc = muster_spawn(request.executable, argv.pointers, envp.pointers, request.directory, stdinFD, outFD, errFD, &child)
                if rc == 0 { SandboxSignals.register(child) }
                return (rc, child)
            }
            pid = spawned.1
            return spawned.0
        }
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0]); output.finish()
            throw SystemError.spawn(request.executable, rc)
        }
        let pidfd = muster_pidfd_open(pid)
        let watch = Watch(key: request.key, pid: pid, output: output)
        let (stdoutRead, stderrRead) = (outPipe[0], errPipe[0])
        loop.post { self.register(watch, pidfd: pidfd, stdout: stdoutRead, stderr: stderrRead) }
        return LaunchedProcess(key: request.key, pid: pid, pgid: pid, output: output, sandboxed: request.sandboxed)
    }

    /// Loop thread: reads both pipes as data arrives and reaps the leader when its pidfd fires.
    func register(_ w: Watch, pidfd: Int32, stdout: Int32, stderr: Int32) {
        for (fd, isStdout) in [(stdout, true), (stderr, false)] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            w.pipes.insert(fd)
            loop.watch(fd) {
                guard self.drain(fd, into: w.output, fromStdout: isStdout) else { return }
                self.loop.unwatchAndClose(fd)
                w.pipes.remove(fd)
                self.maybeReport(w)
            }
        }
        if pidfd >= 0 {
            loop.watch(pidfd) {
                guard self.reap(w) else { return }  // a spurious wake-up: not exited yet
                self.loop.unwatchAndClose(pidfd)
            }
        } else {
            pollReap(w)  // no pidfd (old kernel): check the leader every 20 ms
        }
    }

    func pollReap(_ w: Watch) {
        if !reap(w) { loop.after(.milliseconds(20)) { self.pollReap(w) } }
    }

    /// Reads what is available; true at end of file (or on an error that ends the stream).
    func drain(_ fd: Int32, into output: OutputCapture, fromStdout: Bool) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.withUnsafeBytes { output.append(UnsafeRawBufferPointer(rebasing: $0[0..<n]), fromStdout: fromStdout, now: Date()) }
                continue
            }
            if n == 0 { return true }
            if errno == EINTR { continue }
            return errno != EAGAIN && errno != EWOULDBLOCK
        }
    }

    /// True once the leader has exited (and is reaped).
    func reap(_ w: Watch) -> Bool {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(w.pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        guard result == w.pid else { return result < 0 }  // ECHILD: someone else reaped it; treat as gone
        SandboxSignals.forget(w.pid)  // reaped: its pid may be reused from now on
        let termsig = status & 0x7f
        w.status = termsig == 0 ? .exited((status >> 8) & 0xff) : .signaled(termsig)
        if !w.pipes.isEmpty {
            // Something the task started in the background still holds its output open: the task
            // is over, so its leftovers get SIGTERM, then SIGKILL, then we stop listening.
            kill(-w.pid, SIGTERM)
            loop.after(.seconds(3)) {
                guard !w.reported else { return }
                kill(-w.pid, SIGKILL)
                self.loop.after(.milliseconds(500)) {
                    for fd in w.pipes { self.loop.unwatchAndClose(fd) }
                    w.pipes.removeAll()
                    self.maybeReport(w)
                }
            }
        }
        maybeReport(w)
        return true
    }

    func maybeReport(_ w: Watch) {
        guard let status = w.status, w.pipes.isEmpty, !w.reported else { return }
        w.reported = true
        SandboxSignals.forget(w.pid)
        w.output.finish()
        onExit(ProcessExit(key: w.key, status: status, finishedAt: Date()))
    }

    /// SIGTERM (or another signal) to a task's whole process group.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) {
        guard pgid > 1 else { return }
        if SandboxSignals.isSandboxed(pgid) {
            if signal == SIGKILL { return SandboxSignals.kill(launcher: pgid) }
            if SandboxSignals.signalInside(launcher: pgid, signal) { return }
            // Nothing runs inside yet: end the sandbox as a whole (the launcher dies of `signal`).
            return SandboxSignals.kill(launcher: pgid, signal)
        }
        kill(-pgid, signal)
    }

    /// True while any process of the group is still running. A zombie does not count: it has
    /// exited, and under a PID 1 that does not reap (containers) it may never go away.
    public static func groupAlive(_ pgid: Int32) -> Bool {
        guard pgid > 1, kill(-pgid, 0) == 0 || errno == EPERM else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        for entry in entries where entry.first?.isNumber == true {
            guard let fields = ProcStat.fields(entry: entry) else { continue }
            if fields.count > 2, Int32(fields[2]) == pgid, fields[0] != "Z", fields[0] != "X" { return true }
        }
        return false
    }
}

/// C string arrays handed to the loop thread for one synchronous spawn (the caller frees them after).
struct SendablePointers: @unchecked Sendable {
    let pointers: [UnsafeMutablePointer<CChar>?]
    init(_ pointers: [UnsafeMutablePointer<CChar>?]) { self.pointers = pointers }
}
