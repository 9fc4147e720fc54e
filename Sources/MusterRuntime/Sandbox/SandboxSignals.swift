import Foundation
import Synchronization

/// Signals for a task that runs inside bubblewrap.
///
/// The task's process group holds only bwrap's launcher: inside, bwrap starts a new session and a
/// pid namespace. SIGKILL to the launcher ends everything (`--die-with-parent` kills the namespace's
/// init, and with it every process inside, setsid daemons included). A graceful SIGTERM must not go
/// to the launcher, which would die at once and take the task's grace with it: it goes to every
/// process inside the namespace instead, as it would reach a whole process group outside one.
public enum SandboxSignals {
    /// Launchers (pids = their process group) of running sandboxed tasks.
    static let launchers = Mutex<Set<Int32>>([])

    static func register(_ pid: Int32) { _ = launchers.withLock { $0.insert(pid) } }
    static func forget(_ pid: Int32) { _ = launchers.withLock { $0.remove(pid) } }
    public static func isSandboxed(_ pgid: Int32) -> Bool { launchers.withLock { $0.contains(pgid) } }

    /// Sends `signal` to every process in the sandbox `launcher` started (not the launcher, nor the
    /// namespace's init, which ignores it anyway). Returns false when the sandbox is not (or no longer,
    /// or not yet) running anything, for the caller to fall back to the process group.
    public static func signalInside(launcher: Int32, _ signal: Int32) -> Bool {
        // Only a live bwrap whose child sits in a pid namespace of its own: never our own namespace,
        // whatever a reused pid now names.
        guard (try? String(contentsOfFile: "/proc/\(launcher)/comm", encoding: .utf8))?.hasPrefix("bwrap") == true,
              let children = try? String(contentsOfFile: "/proc/\(launcher)/task/\(launcher)/children", encoding: .utf8),
              let initPID = children.split(separator: " ").first.flatMap({ Int32($0) }),
              let namespace = pidNamespace(initPID), namespace != pidNamespace(getpid()) else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        var signalled = 0
        for entry in entries {
            guard let pid = Int32(entry), pid != initPID, pid != launcher, pidNamespace(pid) == namespace else { continue }
            if Glibc.kill(pid, signal) == 0 { signalled += 1 }
        }
        // Nothing inside yet (still setting up): the caller signals the launcher, which ends it all.
        return signalled > 0
    }

    /// SIGKILL to the launcher's children (the namespace's init) and then the launcher. The init gets
    /// it directly because one killed before it armed `--die-with-parent` would outlive the launcher.
    /// `signal` (SIGKILL, or SIGTERM while nothing runs inside yet) goes to the launcher's group.
    public static func kill(launcher: Int32, _ signal: Int32 = SIGKILL) {
        if (try? String(contentsOfFile: "/proc/\(launcher)/comm", encoding: .utf8))?.hasPrefix("bwrap") == true,
           let children = try? String(contentsOfFile: "/proc/\(launcher)/task/\(launcher)/children", encoding: .utf8) {
            for child in children.split(separator: " ").compactMap({ Int32($0) }) { Glibc.kill(child, SIGKILL) }
        }
        Glibc.kill(-launcher, signal)
    }

    static func pidNamespace(_ pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
    }
}
