import Foundation
import MusterSystem

/// Starts helper programs (tmux, pagers, notification commands) with a clean signal state: no
/// blocked signals and default dispositions. A child started from a Swift concurrency thread would
/// otherwise inherit that thread's blocked mask (and the SIG_IGN muster sets for Ctrl-C), and a
/// tmux server started that way can neither be stopped nor reap its panes.
enum Spawn {
    enum Output {
        case inherit
        case file(String)
        /// To this process's stderr.
        case stderr
    }

    /// The child's pid, or nil when it could not start (errno says why).
    static func start(_ argv: [String], stdin: String? = nil, stdout: Output = .inherit, stderr: Output = .inherit,
                      environment: [String: String]? = nil) -> pid_t? {
        guard let program = argv.first else { return nil }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin, O_RDONLY, 0) }
        for (fd, output) in [(STDOUT_FILENO, stdout), (STDERR_FILENO, stderr)] {
            switch output {
            case .inherit: break
            case .file(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            case .stderr: posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, fd)
            }
        }
        var pid: pid_t = 0
        let rc: Int32 = CStrings.with(argv) { cArgs in
            if let environment {
                CStrings.with(CStrings.lines(environment)) { env in posix_spawnp(&pid, program, &actions, &attributes, cArgs, env) }
            } else {
                posix_spawnp(&pid, program, &actions, &attributes, cArgs, environ)
            }
        }
        guard rc == 0 else {
            errno = rc
            return nil
        }
        return pid
    }

    /// Blocks until the child exits; its status (128 + signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// Its status once it exited, nil while it runs.
    static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == 0 || (r < 0 && errno == EINTR) { return nil }
        if r < 0 { return -1 }
        return decode(status)
    }

    static func decode(_ status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
