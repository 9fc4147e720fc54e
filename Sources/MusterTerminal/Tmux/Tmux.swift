import Foundation

/// The tmux command line, on a chosen server: `tmux -L NAME …` (nil: the default server, or the
/// one in $TMUX when running inside tmux).
public struct Tmux: Sendable {
    public var socket: String?

    public init(socket: String? = nil) { self.socket = socket }

    public var prefix: [String] { socket.map { ["-L", $0] } ?? [] }

    public static var isInstalled: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/tmux")
        }
    }

    /// Runs one tmux command; its stdout, or an error carrying tmux's message. Output goes through
    /// files, not pipes: the server tmux may start keeps inherited descriptors open, so a pipe would
    /// never reach end-of-file.
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("muster-tmux-\(UUID().uuidString)")
        let outPath = base.path + ".out", errPath = base.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        guard let pid = Spawn.start(["tmux"] + prefix + arguments, stdin: "/dev/null", stdout: .file(outPath), stderr: .file(errPath)) else {
            throw TerminalError.tmuxMissing
        }
        let status = Spawn.wait(pid)
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let message = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TerminalError.tmux(command: arguments.first ?? "", message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output
    }

    public func hasSession(_ name: String) -> Bool {
        (try? run(["has-session", "-t", "=" + name])) != nil
    }

    /// The argv that attaches a terminal to `session` (switches the client when already inside tmux).
    public func attachArguments(session: String, insideTmux: Bool) -> [String] {
        ["tmux"] + prefix + (insideTmux ? ["switch-client", "-t", "=" + session] : ["attach-session", "-t", "=" + session])
    }
}
