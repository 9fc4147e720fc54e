import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP side of the model stub: SwiftNIO on 127.0.0.1 only, one event loop. Each request is
/// read whole, answered by the `StubRouter`, and its answer written part by part, each part after
/// its delay (streamed events arrive as they would from a real API; a client that hangs up
/// mid-stream stops the rest).
final class StubServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let port: Int

    static func start(port: Int, router: StubRouter) async throws -> StubServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(StubHTTPHandler(router: router))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: "127.0.0.1", port: port).get()
            guard let bound = channel.localAddress?.port else { throw ModelStubError.bind("no port") }
            return StubServer(group: group, channel: channel, port: bound)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, port: Int) {
        self.group = group
        self.channel = channel
        self.port = port
    }

    func stop() async {
        try? await channel.close().get()
        try? await group.shutdownGracefully()
    }

    /// Returns when the server is closed (the foreground `muster stub-model` waits here).
    func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}

final class StubHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: StubRouter
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    /// A response still being written: requests arriving meanwhile (pipelining) are not expected from these clients.
    var busy = false

    init(router: StubRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head, !busy else { return }
            self.head = nil
            let request = StubRequest(method: head.method.rawValue, uri: head.uri,
                                      headers: head.headers.map { ($0.name, $0.value) },
                                      body: Data(body.readableBytesView))
            let response = router.respond(to: request)
            send(response, version: head.version, keepAlive: head.isKeepAlive, method: head.method, context: context)
        }
    }

    func send(_ response: StubResponse, version: HTTPVersion, keepAlive: Bool, method: HTTPMethod, context: ChannelHandlerContext) {
        busy = true
        var headers = HTTPHeaders(response.headers)
        let streamed = response.parts.count > 1
        if !streamed {
            headers.replaceOrAdd(name: "content-length", value: String(response.parts.first?.bytes.count ?? 0))
        }
        headers.replaceOrAdd(name: "connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        let parts = method == .HEAD ? [] : response.parts
        // Headers go out with the first part, so a delayed answer keeps the client waiting for its response head.
        writePart(parts[...], head: head, keepAlive: keepAlive, context: context)
    }

    func writePart(_ parts: ArraySlice<StubResponse.Part>, head: HTTPResponseHead?, keepAlive: Bool, context: ChannelHandlerContext) {
        guard let part = parts.first else {
            if let head { context.write(wrapOutboundOut(.head(head)), promise: nil) }
            finish(keepAlive: keepAlive, context: context)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let emit: @Sendable () -> Void = {
            let (handler, context) = bound.value
            guard context.channel.isActive else { return }
            if let head { context.write(handler.wrapOutboundOut(.head(head)), promise: nil) }
            var buffer = context.channel.allocator.buffer(capacity: part.bytes.count)
            buffer.writeBytes(part.bytes)
            context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            handler.writePart(parts.dropFirst(), head: nil, keepAlive: keepAlive, context: context)
        }
        if part.delay <= .zero {
            emit()
        } else {
            let (seconds, attoseconds) = part.delay.components
            context.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) { emit() }
        }
    }

    func finish(keepAlive: Bool, context: ChannelHandlerContext) {
        busy = false
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
