import Foundation
import Hummingbird
import Logging

/// `muster serve`: the web board and `/metrics` over one Store, read-only unless `--allow-control`.
public struct WebServer: Sendable {
    public let options: WebOptions
    public let reader: BoardReader
    public let policy: AccessPolicy
    public let metrics: MetricsCollector
    public let hub: StreamHub
    let snapshots: BoardSnapshots

    /// `streamInterval`: how often an open event stream looks at its run's shared snapshot (which
    /// itself looks at the Store at most that often, whatever the number of streams).
    public init(store: BoardStore, options: WebOptions, streamInterval: Duration = .milliseconds(50)) throws {
        try options.validate()
        self.options = options
        reader = BoardReader(store: store)
        policy = AccessPolicy(token: options.token, allowControl: options.allowControl)
        metrics = MetricsCollector(store: store, perTask: options.perTaskMetrics)
        hub = StreamHub(interval: streamInterval)
        snapshots = BoardSnapshots(reader: reader, control: policy.controlForm, checkEvery: streamInterval)
    }

    init(options: WebOptions, reader: BoardReader, policy: AccessPolicy, metrics: MetricsCollector, hub: StreamHub,
         snapshots: BoardSnapshots) {
        self.options = options
        self.reader = reader
        self.policy = policy
        self.metrics = metrics
        self.hub = hub
        self.snapshots = snapshots
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AccessMiddleware(policy: policy))
        PageRoutes(reader: reader, policy: policy, snapshots: snapshots).register(on: router)
        StreamRoutes(reader: reader, policy: policy, hub: hub, snapshots: snapshots).register(on: router)
        LoginRoutes(policy: policy).register(on: router)
        if options.allowControl { ControlRoutes(reader: reader, policy: policy, snapshots: snapshots).register(on: router) }
        let metrics = metrics
        router.get("/metrics") { _, _ in
            Responses.text(try await metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        return router
    }

    /// The application; `onListening` gets the port actually bound (for `--port 0`).
    public func application(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        var logger = Logger(label: "muster.serve")
        logger.logLevel = .warning
        return Application(
            router: router(),
            configuration: .init(address: .hostname(options.bind, port: options.port), serverName: "muster"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? options.port) },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully (open event streams end).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onListening: onListening).runService()
    }

    /// The address to open, with the one-time login link when there is a token.
    public func url(port: Int) -> String {
        let host = options.bind.contains(":") ? "[\(options.bind)]" : options.bind
        return "http://\(host):\(port)" + (policy.loginPath ?? "/")
    }
}
