import Foundation
import MusterStore

/// A run's event log as the board keeps it: read forward from the last sequence seen (a cheap
/// query), keeping every warning and limit wait plus the newest events, as the terminal dashboard does.
actor EventLog {
    private var logs: [String: (cursor: Int64, events: [EventRecord])] = [:]
    static let kept = 200
    static let keptKinds = DashboardModel.warningKinds.union(["limit.waiting", "limit.cooldown"])

    /// The run's retained events (oldest first) and the last sequence read.
    func read(_ store: BoardStore, run: String) async throws -> (events: [EventRecord], cursor: Int64) {
        var (cursor, events) = logs[run] ?? (0, [])
        while true {
            let batch = try await store.events(run: run, after: cursor, limit: 1000)
            guard let last = batch.last else { break }
            cursor = last.sequence
            events.append(contentsOf: batch)
            if events.count > 4 * Self.kept {
                let recent = events.suffix(Self.kept)
                let old = events.dropLast(Self.kept).filter { Self.keptKinds.contains($0.kind) }.suffix(500)
                events = Array(old) + recent
            }
            if batch.count < 1000 { break }
        }
        if logs.count > 64 { logs.removeAll() }  // a bounded cache: many runs browsed once
        logs[run] = (cursor, events)
        return (events, cursor)
    }
}
