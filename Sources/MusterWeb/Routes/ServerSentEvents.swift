import Foundation
import Hummingbird
import ServiceLifecycle
import Synchronization

/// Server-Sent Events framing: `event:`, one `data:` line per line of the payload, an optional `id:`.
/// A carriage return would end a line in SSE, so payloads have none.
enum SSE {
    static func frame(event: String, data: String, id: String? = nil) -> ByteBuffer {
        var out = "event: \(event)\n"
        if let id { out += "id: \(id)\n" }
        let clean = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in clean.split(separator: "\n", omittingEmptySubsequences: false) { out += "data: \(line)\n" }
        return ByteBuffer(string: out + "\n")
    }

    /// A comment line: keeps proxies and the browser from timing the stream out.
    static let keepAlive = ByteBuffer(string: ": keep-alive\n\n")

    static let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                      .init("X-Accel-Buffering")!: "no"]
}

/// The open event streams: counted (tests wait for a browser to connect), and ended when the
/// server shuts down gracefully (the request's task sees the shutdown), so a shutdown does not
/// wait for browsers to leave.
public final class StreamHub: Sendable {
    private let state = Mutex<(open: Int, stopping: Bool)>((0, false))
    /// How often a board stream looks at its run's shared snapshot (memory; the snapshot reads the
    /// Store at most that often for every stream together).
    let interval: Duration
    /// How often a task page's stream reads the Store and the task's log itself (one reader per
    /// page, so less often).
    let taskInterval: Duration

    init(interval: Duration = .milliseconds(50)) {
        self.interval = interval
        taskInterval = max(interval, .milliseconds(200))
    }

    public var openStreams: Int { state.withLock { $0.open } }
    var stopping: Bool { Task.isShuttingDownGracefully || state.withLock { $0.stopping } }
    func stop() { state.withLock { $0.stopping = true } }

    /// Runs `body` as one open stream; it should return when `stopping` turns true.
    func open(_ body: () async throws -> Void) async throws {
        state.withLock { $0.open += 1 }
        defer { state.withLock { $0.open -= 1 } }
        try await body()
    }
}
