import Synchronization

/// A wake-up for whoever waits on a store (a claimer with nothing to claim, a view between
/// refreshes). The store calls `signal()` when it learns of a change; `wait(upTo:)` returns true at
/// the first signal since the previous wait (none is lost in between), false after `upTo`: the
/// bounded fallback poll. A store that cannot tell of changes never signals, so waiting is polling.
public final class ChangeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Bool, Never>)?
        var lastID: UInt64 = 0
        var expiredUpTo: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: true)
    }

    /// One waiter at a time (a second concurrent one would take the first one's place).
    public func wait(upTo limit: Duration) async -> Bool {
        let id = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.lastID += 1
            return state.lastID
        }
        guard let id else { return true }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            self?.expire(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool? in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if state.expiredUpTo >= id { return false }
                    state.waiter = (id, continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            expire(id)
        }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.expiredUpTo = max(state.expiredUpTo, id)
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: false)
    }
}
