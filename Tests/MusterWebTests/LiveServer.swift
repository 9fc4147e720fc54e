import Foundation
import Logging
import ServiceLifecycle
import Synchronization
@testable import MusterWeb

/// A `WebServer` listening on 127.0.0.1 and a free port, in this process; `stop()` shuts it down
/// gracefully (the open event streams end) and waits for it.
final class LiveServer: Sendable {
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(_ server: WebServer) async throws -> LiveServer {
        var options = server.options
        options.port = 0
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = WebServer(reusing: server, options: options).application { port in continuation.yield(port) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw POSIXError(.EADDRNOTAVAIL) }
        return LiveServer(port: port, group: group, task: task)
    }

    init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

extension WebServer {
    /// The same reader, policy and streams on other options (a free port for tests).
    init(reusing server: WebServer, options: WebOptions) {
        self.init(options: options, reader: server.reader, policy: server.policy, metrics: server.metrics, hub: server.hub,
                  snapshots: server.snapshots)
    }
}

/// A plain HTTP/1.1 exchange over a POSIX socket, read on a thread of its own (a read that blocks
/// must not hold one of Swift concurrency's few threads). For event streams, which never end.
final class RawHTTP: @unchecked Sendable {
    let fd: Int32
    private var received = Data()

    init(port: Int, request: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { close(fd); throw POSIXError(.EIO) }
    }

    deinit { close(fd) }

    static func get(port: Int, _ path: String, host: String = "127.0.0.1", headers: [String] = []) throws -> RawHTTP {
        try RawHTTP(port: port, request: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
    }

    /// Everything received so far once `condition` holds on it, or when the peer closed or `timeout` passed.
    func read(timeout: Double = 30, until condition: @escaping @Sendable (String) -> Bool) async -> String {
        await withCheckedContinuation { continuation in
            Thread { [self] in
                let deadline = Date().addingTimeInterval(timeout)
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let text = String(decoding: received, as: UTF8.self)
                    if condition(text) || Date() >= deadline { return continuation.resume(returning: text) }
                    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&pfd, 1, 100) >= 0 else { return continuation.resume(returning: text) }
                    if pfd.revents == 0 { continue }
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { return continuation.resume(returning: String(decoding: received, as: UTF8.self)) }
                    received.append(contentsOf: buffer[0..<n])
                }
            }.start()
        }
    }
}
