import CMusterSystem
import Foundation
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

    public init(key: String, executable: String, arguments: [String], environment: [String: String], directory: String,
                stdinPath: String? = nil, logPath: String, stdoutPath: String, logCap: Int = 32 << 20, stdoutCap: Int = 4 << 20) {
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
}

/// Starts processes with posix_spawn in their own process group and watches them without
/// polling: a pidfd per process and its pipes are event sources on one serial queue.
/// (Foundation's Process polls every 50 ms; this costs a spawn plus a few syscalls.)
public final class ProcessSupervisor: Sendable {
    let queue = DispatchQueue(label: "muster.supervisor.io")
    let onExit: @Sendable (ProcessExit) -> Void
    /// Sources must stay referenced until cancelled; only touched on `queue`.
    let live = Mutex<[String: Watch]>([:])

    final class Watch: @unchecked Sendable {  // confined to the supervisor's queue
        var sources: [DispatchSourceProtocol] = []
        var openPipes = 2
        var status: TerminationStatus?
        var pid: Int32 = 0
        var pgid: Int32 = 0
        var output: OutputCapture?
        var reportedExit = false
        var forceTimer: DispatchSourceTimer?
    }

    public init(onExit: @escaping @Sendable (ProcessExit) -> Void) {
        self.onExit = onExit
    }

    public func launch(_ request: LaunchRequest) throws -> LaunchedProcess {
        let output = try OutputCapture(logPath: request.logPath, stdoutPath: request.stdoutPath, logCap: request.logCap,
                                       stdoutCap: request.stdoutCap, now: Date())
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
        let argv = request.arguments.map { strdup($0) } + [nil]
        let envp = request.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = muster_spawn(request.executable, argv, envp, request.directory, stdinFD, outPipe[1], errPipe[1], &pid)
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0]); output.finish()
            throw SystemError.spawn(request.executable, rc)
        }
        let pidfd = muster_pidfd_open(pid)
        let watch = Watch()
        watch.pid = pid
        watch.pgid = pid
        watch.output = output
        let (stdoutRead, stderrRead) = (outPipe[0], errPipe[0])
        queue.async { self.watch(watch, key: request.key, pidfd: pidfd, stdout: stdoutRead, stderr: stderrRead) }
        return LaunchedProcess(key: request.key, pid: pid, pgid: pid, output: output)
    }

    /// Runs on `queue`: reads both pipes as data arrives and reaps the leader when its pidfd fires.
    func watch(_ w: Watch, key: String, pidfd: Int32, stdout: Int32, stderr: Int32) {
        live.withLock { $0[key] = w }
        for (fd, isStdout) in [(stdout, true), (stderr, false)] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            // The handler holds its source until cancelled; Dispatch drops both on cancel.
            source.setEventHandler {
                if self.drain(fd, into: w.output!, fromStdout: isStdout) { source.cancel() }
            }
            source.setCancelHandler {
                close(fd)
                w.openPipes -= 1
                self.maybeReport(w, key: key)
            }
            w.sources.append(source)
            source.resume()
        }
        if pidfd >= 0 {
            let exitSource = DispatchSource.makeReadSource(fileDescriptor: pidfd, queue: queue)
            exitSource.setEventHandler {
                self.reap(w, key: key)
                exitSource.cancel()
            }
            exitSource.setCancelHandler { close(pidfd) }
            w.sources.append(exitSource)
            exitSource.resume()
        } else {
            // No pidfd (old kernel): poll the leader cheaply on the queue.
            pollReap(w, key: key)
        }
    }

    func pollReap(_ w: Watch, key: String) {
        var status: Int32 = 0
        if waitpid(w.pid, &status, WNOHANG) == w.pid {
            record(w, key: key, status: status)
        } else {
            queue.asyncAfter(deadline: .now() + .milliseconds(20)) { self.pollReap(w, key: key) }
        }
    }

    /// Returns true at end of file.
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

    func reap(_ w: Watch, key: String) {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(w.pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        guard result == w.pid else { return }
        record(w, key: key, status: status)
    }

    func record(_ w: Watch, key: String, status: Int32) {
        let termsig = status & 0x7f
        w.status = termsig == 0 ? .exited((status >> 8) & 0xff) : .signaled(termsig)
        if w.openPipes > 0 {
            // Something the task started in the background still holds its output open: the task
            // is over, so its leftovers get SIGTERM, then SIGKILL if they ignore it.
            kill(-w.pgid, SIGTERM)
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + .seconds(3))
            timer.setEventHandler {
                kill(-w.pgid, SIGKILL)
                for source in w.sources where !source.isCancelled { source.cancel() }
            }
            w.forceTimer = timer
            timer.resume()
        }
        maybeReport(w, key: key)
    }

    func maybeReport(_ w: Watch, key: String) {
        guard let status = w.status, w.openPipes == 0, !w.reportedExit else { return }
        w.reportedExit = true
        w.forceTimer?.cancel()
        w.output?.finish()
        _ = live.withLock { $0.removeValue(forKey: key) }
        onExit(ProcessExit(key: key, status: status, finishedAt: Date()))
    }

    /// SIGTERM (or another signal) to a task's whole process group.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) {
        guard pgid > 1 else { return }
        kill(-pgid, signal)
    }

    /// True while any process of the group is still running. A zombie does not count: it has
    /// exited, and under a PID 1 that does not reap (containers) it may never go away.
    public static func groupAlive(_ pgid: Int32) -> Bool {
        guard pgid > 1, kill(-pgid, 0) == 0 || errno == EPERM else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        for entry in entries where entry.first?.isNumber == true {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "(comm)": state, ppid, pgrp, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, Int32(fields[2]) == pgid, fields[0] != "Z", fields[0] != "X" { return true }
        }
        return false
    }
}
