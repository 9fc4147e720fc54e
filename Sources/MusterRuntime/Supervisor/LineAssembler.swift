import Foundation

/// Called on the supervisor's I/O thread with each complete line of a task's output (without its
/// newline), while the task runs. It must not block: it parses and hands anything worth acting on
/// to someone else. `truncated`: the line was longer than `LineAssembler.lineCap` and only its
/// start is given.
public typealias OutputLineHandler = @Sendable (_ line: ArraySlice<UInt8>, _ fromStdout: Bool, _ truncated: Bool) -> Void

/// Cuts one output stream into lines for a live parser, keeping at most `lineCap` bytes of a line:
/// an agent that prints a gigabyte without a newline costs this buffer, not a gigabyte.
struct LineAssembler {
    /// Long enough for every event a live parser acts on (claude's `api_retry` is ~250 bytes, a
    /// `result` with a long answer a few hundred KiB); longer lines keep their start only.
    static let lineCap = 1 << 20

    var buffer: [UInt8] = []
    var truncated = false
    let cap: Int

    init(cap: Int = LineAssembler.lineCap) { self.cap = cap }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (ArraySlice<UInt8>, Bool) -> Void) {
        var start = 0
        let count = bytes.count
        while start < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            let found = rest.baseAddress.flatMap { memchr($0, 0x0A, rest.count) }
            let end = found.map { start + (rest.baseAddress!.distance(to: UnsafeRawPointer($0))) } ?? count
            keep(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            guard found != nil else { return }
            emit(buffer[...], truncated)
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            truncated = false
            start = end + 1
        }
    }

    /// The last line when the stream ended without a newline.
    mutating func flush(emit: (ArraySlice<UInt8>, Bool) -> Void) {
        if !buffer.isEmpty { emit(buffer[...], truncated) }
        buffer = []
        truncated = false
    }

    private mutating func keep(_ piece: UnsafeRawBufferPointer) {
        guard !piece.isEmpty else { return }
        let room = cap - buffer.count
        if piece.count <= room {
            buffer.append(contentsOf: piece)
        } else {
            if room > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[..<room])) }
            truncated = true
        }
    }
}

/// Both streams of one task, cut into lines for its live parser.
struct LiveLines {
    let handler: OutputLineHandler
    var stdout = LineAssembler()
    var stderr = LineAssembler()

    init(handler: @escaping OutputLineHandler) { self.handler = handler }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, fromStdout: Bool) {
        let handler = self.handler
        if fromStdout {
            stdout.feed(bytes) { handler($0, true, $1) }
        } else {
            stderr.feed(bytes) { handler($0, false, $1) }
        }
    }

    mutating func flush() {
        let handler = self.handler
        stdout.flush { handler($0, true, $1) }
        stderr.flush { handler($0, false, $1) }
    }
}
