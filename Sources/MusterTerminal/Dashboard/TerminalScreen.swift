import Foundation
import MusterSystem
import Synchronization

/// The terminal while the dashboard owns it: raw mode through termios, the alternate screen, the
/// cursor hidden. `restore()` puts everything back; it runs on every way out (quit, Ctrl-C,
/// SIGTERM/SIGHUP, errors) and before a pager takes the terminal.
public final class TerminalScreen: @unchecked Sendable {
    let input: Int32 = STDIN_FILENO
    let output: Int32 = STDOUT_FILENO
    var original = termios()
    var active = false
    var signals: UnixSignals?
    /// Set from signal handlers: a resize, or a request to stop (SIGINT, SIGTERM, SIGHUP).
    let flags = SignalFlags()
    static let handled: [Int32] = [SIGWINCH, SIGINT, SIGTERM, SIGHUP]

    public init() {}

    public static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1 }

    /// Takes the terminal over. Signals become flags the loop reads instead of killing the process.
    public func enter() throws {
        guard tcgetattr(input, &original) == 0 else { throw TerminalError.notATerminal }
        let trapped = UnixSignals(trapping: Self.handled)
        signals = trapped
        Task { [flags] in
            for await signo in trapped {
                flags.state.withLock { if signo == SIGWINCH { $0.resized = true } else { $0.stop = signo } }
            }
        }
        try resume()
    }

    /// Raw mode and the alternate screen (again, after a pager).
    public func resume() throws {
        var raw = original
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(input, TCSAFLUSH, &raw) == 0 else { throw TerminalError.notATerminal }
        active = true
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[?7l\u{1B}[2J\u{1B}[H")
    }

    /// Back to the terminal as it was: main screen, cursor, line wrap, cooked mode.
    public func suspend() {
        guard active else { return }
        active = false
        write("\u{1B}[0m\u{1B}[?7h\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(input, TCSAFLUSH, &original)
    }

    /// Leaves the terminal as it was and lets signals act normally again.
    public func restore() {
        suspend()
        signals?.cancel()
        signals = nil
    }

    /// The terminal went away (its tmux pane or SSH connection closed).
    public private(set) var hungUp = false

    public func checkHangup() -> Bool {
        var fds = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        if poll(&fds, 1, 0) > 0 && fds.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { hungUp = true }
        return hungUp
    }

    public func takeResize() -> Bool { flags.state.withLock { f in defer { f.resized = false }; return f.resized } }
    public func stopSignal() -> Int32? { flags.state.withLock { $0.stop } }
    public func clearStop() { flags.state.withLock { $0.stop = nil } }

    /// Columns × rows (80 × 24 when the terminal does not say).
    public func size() -> (width: Int, height: Int) {
        var ws = winsize()
        if ioctl(output, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 { return (Int(ws.ws_col), Int(ws.ws_row)) }
        return (80, 24)
    }

    /// Whatever bytes are waiting on stdin (never blocks).
    public func readAvailable() -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(input, $0.baseAddress, 256) }
            if n <= 0 { break }
            out += buffer[..<n]
            if n < 256 { break }
        }
        return out
    }

    public func write(_ text: String) {
        var data = Array(text.utf8)[...]
        while !data.isEmpty {
            let n = data.withUnsafeBytes { Foundation.write(output, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                hungUp = true
                return
            }
            data = data.dropFirst(n)
        }
    }
}

final class SignalFlags: Sendable {
    let state = Mutex<(resized: Bool, stop: Int32?)>((false, nil))
}

public enum TerminalError: Error, CustomStringConvertible, Sendable {
    case notATerminal
    case tmux(command: String, message: String)
    case tmuxMissing

    public var description: String {
        switch self {
        case .notATerminal: "the dashboard needs a terminal (stdin and stdout); without one it prints a snapshot"
        case .tmux(let command, let message): "tmux \(command) failed: \(message)"
        case .tmuxMissing: "tmux is not installed: install it (apt-get install tmux) and retry"
        }
    }
}
