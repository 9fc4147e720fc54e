import Foundation
import Synchronization

/// A gate a task's shell command waits at without polling or sleeping: the test holds an exclusive
/// `flock` on a file from the start, the command runs `flock -s FILE true` (blocked in the kernel
/// until the lock goes), and `open()` lets every waiter through at once. The descriptor is
/// close-on-exec, so no process the test starts inherits the lock.
public final class TaskGate: Sendable {
    public let path: String
    private let descriptor: Mutex<Int32>

    public init(_ name: String = "gate") throws {
        path = NSTemporaryDirectory() + "muster-\(name)-\(UUID().uuidString)"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw CocoaError(.fileLocking, userInfo: [NSFilePathErrorKey: path])
        }
        descriptor = Mutex(fd)
    }

    /// Shell words that return once the gate is open (at once if it already is).
    public var wait: String { "flock -s '\(path)' true" }

    /// Lets every waiter through, now and later.
    public func open() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            close(fd)  // releases the lock
            fd = -1
        }
    }

    deinit {
        open()
        unlink(path)
    }
}
