import Foundation
import MusterStore
import PostgresNIO
import Synchronization

/// LISTEN/NOTIFY: the server notifies `muster_changes_<schema>` with the run's id whenever an event
/// is appended or a run's cancel request or status changes (triggers of migration pg7). One pooled
/// connection per process listens, once something watches, and signals the watchers of that run;
/// the others wait out their bounded fallback. With `pool=1` nothing listens (the only connection
/// is for queries): waiting is polling, as on SQLite.
final class ChangeFeed: Sendable {
    private struct Watcher {
        let run: String?
        weak var signal: ChangeSignal?
    }
    private let watchers = Mutex<[Watcher]>([])
    private let listener = Mutex<Task<Void, Never>?>(nil)

    func add(_ signal: ChangeSignal, run: String?) {
        watchers.withLock { $0.append(Watcher(run: run, signal: signal)) }
    }

    /// Signals the watchers of `run` (every watcher when nil: after a reconnect anything may have changed).
    func notify(run: String?) {
        let signals = watchers.withLock { watchers -> [ChangeSignal] in
            watchers.removeAll { $0.signal == nil }
            return watchers.compactMap { watcher in
                guard run == nil || watcher.run == nil || watcher.run == run else { return nil }
                return watcher.signal
            }
        }
        for signal in signals { signal.signal() }
    }

    /// Starts `body` once (the listening loop); later calls do nothing.
    func startOnce(_ body: @escaping @Sendable () async -> Void) {
        listener.withLock { task in
            if task == nil { task = Task { await body() } }
        }
    }

    func stop() { listener.withLock { $0?.cancel() } }
}

extension PostgresStore {
    /// The channel this store's schema notifies (the payload is the run's id).
    static func changesChannel(schema: String?) -> String { "muster_changes_" + (schema ?? "public") }

    public var signalsChanges: Bool { location.poolSize > 1 }

    public func watch(run: String?) async throws -> ChangeSignal {
        let signal = ChangeSignal()
        guard signalsChanges else { return signal }
        changes.add(signal, run: run)
        let channel = Self.changesChannel(schema: location.schema)
        changes.startOnce { [client, logger, changes] in
            // Holds one pooled connection while it listens; a lost connection (a server restart) is
            // listened on again after a pause, and everyone is woken: changes may have been missed.
            // A LISTEN request lost as its connection closed (see `HeldConnection`) would leave this
            // loop waiting forever: a close gives it up after a moment, and it listens again.
            while !Task.isCancelled {
                _ = try? await AbandonRace.run("listen", within: .seconds(10 * 365 * 86_400)) { giveUp in
                    let held = HeldConnection(caller: "listen")
                    held.attach(giveUp)
                    return try await client.withConnection { connection in
                        connection.closeFuture.whenComplete { _ in held.connectionClosed() }
                        try await connection.listen(on: channel) { notifications in
                            changes.notify(run: nil)
                            for try await notification in notifications { changes.notify(run: notification.payload) }
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        return signal
    }
}
