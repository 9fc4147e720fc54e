import Foundation

/// A fixed set of threads for blocking work (git, waitpid, reading files), so none of it runs on
/// one of Swift concurrency's pool threads (two on this machine) and a burst of git calls costs
/// a queue, not a thread each. The shape of NIO's `NIOThreadPool`: N threads, one FIFO queue,
/// `run { }` suspends the caller until its block ran on one of them.
public final class BlockingPool: @unchecked Sendable { // `condition` guards every mutable field
    /// Shared by every caller in the process: git serialises on its own locks, so more threads
    /// than this buy nothing on a small machine.
    public static let shared = BlockingPool(threads: max(4, ProcessInfo.processInfo.activeProcessorCount * 2))

    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private let condition = NSCondition()
    public let threads: Int

    public init(threads: Int) {
        self.threads = max(1, threads)
        for index in 0..<self.threads {
            let thread = Thread { [self] in self.work() }
            thread.name = "muster.blocking.\(index)"
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// Runs `body` on one of the pool's threads and returns what it returned (or threw).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// The non-throwing form.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: body()) }
        }
    }

    /// Jobs waiting for a thread (for tests and diagnostics).
    public var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head >= queue.count { condition.wait() }
            let job = queue[head]
            head += 1
            // Compact now and then so the array does not grow forever.
            if head > 64 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
