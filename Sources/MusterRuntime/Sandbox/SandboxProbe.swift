import Foundation
import Synchronization

/// Whether a bubblewrap sandbox can run here, for `muster run`, `muster agents` and `muster doctor`.
public struct SandboxReport: Codable, Sendable, Equatable {
    /// True when tasks get a sandbox by default (`sandbox: worktree`).
    public var available: Bool
    /// `bubblewrap`, the only mechanism so far (Linux).
    public var mechanism: String
    /// The `bwrap` that was tried (nil: none found).
    public var path: String?
    /// What `bwrap --version` printed, e.g. `bubblewrap 0.8.0`.
    public var version: String?
    /// Why it is unavailable (nil when available).
    public var reason: String?

    public init(available: Bool, mechanism: String = "bubblewrap", path: String?, version: String?, reason: String?) {
        self.available = available
        self.mechanism = mechanism
        self.path = path
        self.version = version
        self.reason = reason
    }

    /// One line for people: what applies and why.
    public var summary: String {
        available ? "bubblewrap sandbox (\(version ?? path ?? "bwrap"))"
            : "no sandbox: \(reason ?? "unavailable"); ownership is checked on each task's diff afterwards"
    }
}

/// Checks once per process that bubblewrap starts a sandbox like the ones tasks get (read-only root,
/// /dev, /proc, a pid namespace), and remembers the answer.
///
/// `MUSTER_SANDBOX=off` turns the sandbox off; `MUSTER_BWRAP=/path/to/bwrap` picks the binary
/// (tests use a path that does not exist to force the fallback).
public enum SandboxProbe {
    static let cached = Mutex<SandboxReport?>(nil)

    /// The report, probing on first use (a few milliseconds: two short processes). Blocks: call it
    /// from a thread of its own or through `current()`.
    public static func check(environment: [String: String] = ProcessInfo.processInfo.environment) -> SandboxReport {
        if let known = cached.withLock({ $0 }) { return known }
        let report = probe(environment: environment)
        cached.withLock { $0 = report }
        return report
    }

    /// `check()` on a thread of its own, so no concurrency thread blocks on the probe.
    public static func current() async -> SandboxReport {
        if let known = cached.withLock({ $0 }) { return known }
        return await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: check()) }.start()
        }
    }

    static func probe(environment: [String: String]) -> SandboxReport {
        #if !os(Linux)
        return SandboxReport(available: false, path: nil, version: nil, reason: "bubblewrap sandboxes need Linux")
        #else
        if let setting = environment["MUSTER_SANDBOX"]?.lowercased(), ["off", "none", "0", "false", "no"].contains(setting) {
            return SandboxReport(available: false, path: nil, version: nil, reason: "turned off by MUSTER_SANDBOX=\(setting)")
        }
        let path: String
        if let chosen = environment["MUSTER_BWRAP"], !chosen.isEmpty {
            guard access(chosen, X_OK) == 0 else {
                return SandboxReport(available: false, path: chosen, version: nil, reason: "MUSTER_BWRAP=\(chosen) is not an executable")
            }
            path = chosen
        } else {
            guard let found = try? ExecutableResolver(path: environment["PATH"]).resolve("bwrap", relativeTo: "/") else {
                return SandboxReport(available: false, path: nil, version: nil,
                                     reason: "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
            }
            path = found
        }
        let version = (try? CommandRunner.runBlocking(path, ["--version"], in: "/", environment: environment))
            .map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        let trial = ["--die-with-parent", "--unshare-pid", "--new-session", "--ro-bind", "/", "/", "--dev", "/dev",
                     "--proc", "/proc", "--tmpfs", "/tmp", "--", "/bin/sh", "-c", "exit 0"]
        do {
            let output = try CommandRunner.runBlocking(path, trial, in: "/", environment: environment)
            guard output.succeeded else {
                let why = output.stderr.split(separator: "\n").last.map(String.init) ?? output.status.description
                return SandboxReport(available: false, path: path, version: version,
                                     reason: "bwrap refused to start a sandbox here (\(why)); user namespaces may be disabled")
            }
        } catch {
            return SandboxReport(available: false, path: path, version: version, reason: "cannot run \(path): \(error)")
        }
        return SandboxReport(available: true, path: path, version: version, reason: nil)
        #endif
    }
}
