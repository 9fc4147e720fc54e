import CMusterSystem
import Foundation
import Synchronization

/// One thread running epoll over every task's output pipes and pidfds. Registering, removing and
/// closing a descriptor all happen on this thread, in that order, so a descriptor number that the
/// kernel hands out again can never be confused with its previous owner. (Dispatch read sources
/// crashed under 200 concurrent processes here, in libdispatch's own epoll manager.)
final class IOLoop: @unchecked Sendable {  // `handlers`, `timers`: loop thread only; `posted`: locked
    private let epfd: Int32
    private let wakeFD: Int32
    private let posted = Mutex<[@Sendable () -> Void]>([])
    private var handlers: [Int32: () -> Void] = [:]
    private var timers: [(deadline: ContinuousClock.Instant, work: () -> Void)] = []

    /// One loop serves every supervisor in the process; it lives as long as the process.
    static let shared = IOLoop()

    private init() {
        epfd = muster_epoll_create()
        wakeFD = muster_eventfd()
        _ = muster_epoll_add(epfd, wakeFD)
        let thread = Thread { self.run() }
        thread.name = "muster-io"
        thread.start()
    }

    /// Runs `work` on the loop thread soon. Safe from any thread.
    func post(_ work: @escaping @Sendable () -> Void) {
        posted.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Runs `work` on the loop thread and waits for its result. The loop thread lives as long as the
    /// process, so a child that asks to die with its parent thread (bwrap `--die-with-parent`) is
    /// started here, never on a pool thread that may exit while the child runs. Never call it from
    /// the loop thread.
    func runAndWait<T: Sendable>(_ work: @escaping @Sendable () -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        post {
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    // MARK: Loop thread only

    /// Calls `handler` whenever `fd` is readable or hung up. Handlers must tolerate a spurious call.
    func watch(_ fd: Int32, _ handler: @escaping () -> Void) {
        handlers[fd] = handler
        _ = muster_epoll_add(epfd, fd)
    }

    func unwatchAndClose(_ fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        _ = muster_epoll_remove(epfd, fd)
        close(fd)
    }

    func after(_ delay: Duration, _ work: @escaping () -> Void) {
        timers.append((ContinuousClock.now + delay, work))
    }

    private func run() {
        var ready = [Int32](repeating: 0, count: 256)
        while true {
            var timeout: Int32 = -1
            if let next = timers.map(\.deadline).min() {
                let wait = next - ContinuousClock.now
                timeout = wait <= .zero ? 0 : Int32(min(wait.seconds * 1000 + 1, 60_000))
            }
            let n = ready.withUnsafeMutableBufferPointer { muster_epoll_wait(epfd, $0.baseAddress, 256, timeout) }
            for i in 0..<max(0, Int(n)) {
                let fd = ready[i]
                if fd == wakeFD {
                    var count: UInt64 = 0
                    _ = read(wakeFD, &count, 8)
                    for work in posted.withLock({ list in defer { list.removeAll() }; return list }) { work() }
                } else {
                    handlers[fd]?()
                }
            }
            if !timers.isEmpty {
                let now = ContinuousClock.now
                let due = timers.filter { $0.deadline <= now }
                timers.removeAll { $0.deadline <= now }
                for timer in due { timer.work() }
            }
        }
    }
}
