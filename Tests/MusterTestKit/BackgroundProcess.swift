import Foundation
import MusterRuntime
import Synchronization

/// A process started in the background, to signal and to wait for.
///
/// The wait runs on a thread of its own: a test that waits long must not hold one of Swift
/// concurrency's few threads. The process is reaped only under the lock that `signal` takes, so a
/// signal never reaches a recycled pid.
public final class BackgroundProcess: Sendable {
    public let pid: pid_t
    let keeping: (any Sendable)?

    struct State {
        var status: TerminationStatus?
        var waiting = false
        var waiters: [CheckedContinuation<TerminationStatus, Never>] = []
    }
    let state = Mutex(State())

    init(pid: pid_t, keeping: (any Sendable)?) {
        self.pid = pid
        self.keeping = keeping
    }

    /// Sends `signal` unless the process has already been reaped.
    public func signal(_ signal: Int32) {
        state.withLock { state in
            if state.status == nil { kill(pid, signal) }
        }
    }

    public var hasExited: Bool { state.withLock { $0.status != nil } }

    /// How it ended, once it has.
    public func exited() async -> TerminationStatus {
        await withCheckedContinuation { continuation in
            let start = state.withLock { state -> Bool in
                if let status = state.status {
                    continuation.resume(returning: status)
                    return false
                }
                state.waiters.append(continuation)
                defer { state.waiting = true }
                return !state.waiting
            }
            if start { startWaiting() }
        }
    }

    /// Kills it if it still runs and reaps it in the background (for a test that ends early).
    public func killAndReap() {
        signal(SIGKILL)
        let start = state.withLock { state -> Bool in
            defer { state.waiting = true }
            return !state.waiting && state.status == nil
        }
        if start { startWaiting() }
    }

    func startWaiting() {
        let thread = Thread { [self] in
            // Wait without reaping, then reap under the lock: until then the pid cannot be reused.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            let waiters = state.withLock { state -> [CheckedContinuation<TerminationStatus, Never>] in
                state.status = CommandRunner.wait(pid)
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            let status = state.withLock { $0.status! }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }
}
