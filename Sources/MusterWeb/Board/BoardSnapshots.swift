import Foundation
import MusterStore

/// A run's board as every page, `/api` twin and event stream of this server shares it: built once per
/// change, its live fragment rendered once, whatever the number of open browsers.
struct BoardSnapshot: Sendable {
    let board: RunBoard
    /// The live part of the page (`BoardPage.live`, big groups collapsed), rendered once.
    let live: String
    /// Moves whenever the board is rebuilt after the run's event log moved or what it shows changed:
    /// streams push a frame when it does.
    let version: Int
    let builtAt: ContinuousClock.Instant
}

/// One shared snapshot per run, refreshed on change. A reader asking for a run's board gets the
/// current snapshot; at most every `checkEvery` one of them looks whether the run's event log moved
/// past the snapshot (one indexed query, whoever and however many ask), and only then (or when the
/// snapshot is older than `maxAge`, for clocks, output lines and changes without events) the board
/// is rebuilt: once, while everyone else waits for that same rebuild.
actor BoardSnapshots {
    let reader: BoardReader
    let control: ControlForm?
    let checkEvery: Duration
    let maxAge: Duration
    private var snapshots: [String: (snapshot: BoardSnapshot, checkedAt: ContinuousClock.Instant, usedAt: ContinuousClock.Instant)] = [:]
    private var pending: [String: Task<BoardSnapshot?, any Error>] = [:]
    /// Boards built so far (tests count them).
    private(set) var rebuilds = 0
    /// The last rebuild's cost: the next waits at least as long, so a run whose log moves all the
    /// time costs at most half a core however fast it changes.
    private var lastCost: Duration = .zero
    static let kept = 64

    init(reader: BoardReader, control: ControlForm?, checkEvery: Duration = .milliseconds(50), maxAge: Duration = .seconds(5)) {
        self.reader = reader
        self.control = control
        self.checkEvery = checkEvery
        self.maxAge = maxAge
    }

    /// The run's current board; nil for an unknown run.
    func current(_ run: String) async throws -> BoardSnapshot? {
        let now = ContinuousClock.now
        if let entry = snapshots[run], now - entry.checkedAt < max(checkEvery, lastCost) {
            snapshots[run]?.usedAt = now
            return entry.snapshot
        }
        if let task = pending[run] { return try await task.value }
        let previous = snapshots[run]?.snapshot
        let task = Task { try await self.refresh(run, previous: previous) }
        pending[run] = task
        defer { pending[run] = nil }
        return try await task.value
    }

    /// Drops the run's snapshot: the next reader rebuilds it (after a control action changed the run).
    func invalidate(_ run: String) { snapshots[run] = nil }

    private func refresh(_ run: String, previous: BoardSnapshot?) async throws -> BoardSnapshot? {
        let start = ContinuousClock.now
        if let previous, start - previous.builtAt < maxAge,
           try await reader.store.events(run: run, after: previous.board.cursor, limit: 1).isEmpty {
            snapshots[run]?.checkedAt = start
            return previous
        }
        guard let board = try await reader.board(run: run) else {
            snapshots[run] = nil
            return nil
        }
        let live = BoardPage.live(board, control: control)
        let changed = previous.map { $0.live != live || $0.board.cursor != board.cursor } ?? true
        let snapshot = BoardSnapshot(board: board, live: live, version: (previous?.version ?? 0) + (changed ? 1 : 0), builtAt: start)
        rebuilds += 1
        let end = ContinuousClock.now
        lastCost = end - start
        if snapshots[run] == nil && snapshots.count >= Self.kept {
            // A bounded cache: forget the run nobody looked at for longest.
            if let stale = snapshots.min(by: { $0.value.usedAt < $1.value.usedAt })?.key { snapshots[stale] = nil }
        }
        snapshots[run] = (snapshot, end, end)
        return snapshot
    }
}
