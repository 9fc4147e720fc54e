import Foundation
import Synchronization

/// Writes a task's output to `output.log` as it arrives, up to a cap; past the cap it keeps only a
/// bounded tail in memory and appends it at the end, so a chatty agent never grows memory or disk
/// without bound. Stdout is also kept (capped) in a separate file: it is the task's result.
/// Files (and their folder) are created on the first byte: a silent task creates none, which
/// matters when a thousand short tasks run.
///
/// Memory is fixed whatever the volume (issue 11, finding 7): every buffer here is a plain array
/// trimmed in place. (These were `Data` values trimmed with `removeFirst`, which on Linux re-slices
/// the same storage, so appending kept one byte per byte past the cap: 2 GB of output, 2 GiB resident.)
public final class OutputCapture: Sendable {
    struct State {
        var logBytes = 0
        var droppedBytes = 0
        var tail: [UInt8] = []
        var stdoutBytes = 0
        var lastOutput: Date
        var lastLine = ""
        var partialLine: [UInt8] = []
        var logFD: Int32 = -1
        var stdoutFD: Int32 = -1
    }

    public let logPath: String
    public let stdoutPath: String
    let logCap: Int
    let stdoutCap: Int
    let tailCap = 64 * 1024
    let state: Mutex<State>
    /// Complete lines for a live parser (see `LineAssembler`); nil: nobody reads lines as they come.
    /// (Not an optional Mutex: an optional of the raw-layout `Mutex` reads a nil as present here.)
    let lines: Mutex<LiveLines?>
    let readsLines: Bool

    public init(logPath: String, stdoutPath: String, logCap: Int, stdoutCap: Int, now: Date,
                onLine: OutputLineHandler? = nil) throws {
        self.logPath = logPath
        self.stdoutPath = stdoutPath
        self.logCap = logCap
        self.stdoutCap = stdoutCap
        state = Mutex(State(lastOutput: now))
        lines = Mutex(onLine.map { LiveLines(handler: $0) })
        readsLines = onLine != nil
    }

    /// Opens (creating its folder) on first use; -1 if it cannot be written, and the bytes are dropped:
    /// the task's own outcome matters more than its log.
    static func lazyOpen(_ fd: inout Int32, _ path: String, append: Bool) -> Int32 {
        if fd >= 0 { return fd }
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (append ? O_APPEND : 0)
        fd = open(path, flags, 0o644)
        if fd < 0 && errno == ENOENT {
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                     withIntermediateDirectories: true)
            fd = open(path, flags, 0o644)
        }
        return fd
    }

    /// Time of the last byte from the process: what stall detection watches.
    public var lastOutput: Date { state.withLock { $0.lastOutput } }
    /// The last complete non-empty line, for status views.
    public var lastLine: String { state.withLock { $0.lastLine } }
    public var bytesSeen: Int { state.withLock { $0.logBytes + $0.droppedBytes } }

    func append(_ bytes: UnsafeRawBufferPointer, fromStdout: Bool, now: Date) {
        state.withLock { s in
            s.lastOutput = now
            let room = max(0, logCap - s.logBytes)
            if room > 0 {
                let n = min(room, bytes.count)
                writeAll(Self.lazyOpen(&s.logFD, logPath, append: true), UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
                s.logBytes += n
            }
            if bytes.count > room {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[room...])
                s.droppedBytes += rest.count
                Self.keepTail(&s.tail, rest, cap: tailCap)
            }
            if fromStdout && s.stdoutBytes < stdoutCap {
                let n = min(stdoutCap - s.stdoutBytes, bytes.count)
                writeAll(Self.lazyOpen(&s.stdoutFD, stdoutPath, append: false), UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
                s.stdoutBytes += n
            }
            Self.trackLastLine(&s, bytes)
        }
        if readsLines { lines.withLock { $0?.feed(bytes, fromStdout: fromStdout) } }
    }

    /// Keeps the last `cap` bytes of everything appended, in a buffer that never grows past `cap`.
    static func keepTail(_ tail: inout [UInt8], _ bytes: UnsafeRawBufferPointer, cap: Int) {
        if bytes.count >= cap {
            tail.removeAll(keepingCapacity: true)
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - cap)...]))
            return
        }
        let excess = tail.count + bytes.count - cap
        if excess > 0 { tail.removeFirst(excess) }
        tail.append(contentsOf: bytes)
    }

    static func trackLastLine(_ s: inout State, _ bytes: UnsafeRawBufferPointer) {
        keepTail(&s.partialLine, UnsafeRawBufferPointer(rebasing: bytes[max(0, bytes.count - 4096)...]), cap: 8192)
        let lines = s.partialLine.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        if let last = lines.last(where: { !$0.allSatisfy { $0 == 32 || $0 == 13 || $0 == 9 } }) {
            s.lastLine = String(decoding: last.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let lastNewline = s.partialLine.lastIndex(of: UInt8(ascii: "\n")) {
            s.partialLine.removeSubrange(s.partialLine.startIndex...lastNewline)
        }
    }

    /// Appends the kept tail (if the cap was hit), hands a last unterminated line to the live
    /// parser, and closes the files.
    func finish() {
        if readsLines { lines.withLock { $0?.flush() } }
        state.withLock { s in
            if s.droppedBytes > 0 {
                let omitted = s.droppedBytes - s.tail.count
                let marker = "\n[muster: output capped at \(logCap) bytes; \(omitted) bytes omitted; last \(s.tail.count) bytes follow]\n"
                marker.utf8CString.withUnsafeBytes { writeAll(s.logFD, UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
                s.tail.withUnsafeBytes { writeAll(s.logFD, $0) }
            }
            if s.logFD >= 0 { close(s.logFD) }
            if s.stdoutFD >= 0 { close(s.stdoutFD) }
            s.logFD = -1
            s.stdoutFD = -1
            s.tail = []
            s.partialLine = []
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    guard fd >= 0 else { return }
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return  // disk full or closed: the task's own outcome matters more than its log
        }
        offset += n
    }
}

public enum SystemError: Error, CustomStringConvertible, Sendable {
    case io(String, Int32)
    case spawn(String, Int32)
    case notFound(String)

    public var description: String {
        switch self {
        case .io(let what, let code): "\(what): \(String(cString: strerror(code)))"
        case .spawn(let what, let code): "cannot start \(what): \(String(cString: strerror(code)))"
        case .notFound(let name): "`\(name)` is not installed or not on PATH"
        }
    }
}
