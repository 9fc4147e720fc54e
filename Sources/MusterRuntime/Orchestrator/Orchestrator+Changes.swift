import MusterStore

extension Orchestrator {
    /// On a store that signals changes (PostgreSQL's LISTEN/NOTIFY), another host's change to the
    /// run (a worker finished a task, releasing others; a cancel request) wakes the loop at once
    /// instead of at its next tick; the ticker stays as the bounded fallback. Nil on SQLite.
    func startWatcher() async throws -> Task<Void, Never>? {
        guard store.signalsChanges else { return nil }
        let signal = try await store.watch(run: runID)
        return Task { [inbox] in
            while !Task.isCancelled {
                if await signal.wait(upTo: .seconds(60)) { inbox.continuation.yield(.tick) }
            }
        }
    }
}
