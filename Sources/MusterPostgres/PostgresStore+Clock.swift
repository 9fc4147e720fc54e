import Foundation
import Synchronization

extension PostgresStore {
    /// The server's clock, read without a round trip: this host's clock plus the offset measured
    /// against the server when the store opened, and again every `ServerClockOffset.every`. Every
    /// host that shares the store judges leases, buckets and cool-downs by it, so a host whose clock
    /// runs ahead never takes a lease that has not run out.
    public var clock: @Sendable () -> Date {
        { [hostClock, serverOffset] in hostClock().addingTimeInterval(serverOffset.seconds) }
    }

    /// The database's clock, one round trip.
    public func databaseNow() async throws -> Date {
        let rows = try await autocommit("SELECT extract(epoch FROM clock_timestamp())::float8 AS t")
        return Date(timeIntervalSince1970: try rows[0].get("t"))
    }

    /// Reads the server's clock and sets the offset against the middle of the round trip.
    func measureServerClock() async throws {
        let sent = hostClock()
        let server = try await databaseNow()
        let received = hostClock()
        serverOffset.seconds = server.timeIntervalSince(sent) - received.timeIntervalSince(sent) / 2
    }
}

/// How far the server's clock runs ahead of this host's (seconds; negative: behind), kept fresh by
/// a task of its own while the store is open.
final class ServerClockOffset: Sendable {
    static let every: Duration = .seconds(30)
    private let offset = Mutex(0.0)
    private let refresher = Mutex<Task<Void, Never>?>(nil)

    var seconds: Double {
        get { offset.withLock { $0 } }
        set { offset.withLock { $0 = newValue } }
    }

    /// Calls `measure` every `every` until `stop` (a failed measure keeps the last offset).
    func startRefreshing(_ measure: @escaping @Sendable () async throws -> Void) {
        let task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.every)
                try? await measure()
            }
        }
        refresher.withLock { $0 = task }
    }

    func stop() { refresher.withLock { $0?.cancel() } }
}
