import Foundation
import MusterCore

/// The read-only part of a `Store`: what views (status, the dashboard, tmux panes, notifications,
/// the web board) need. A view holding a `StoreReader` cannot change task state by construction.
public protocol StoreReader: Sendable {
    // MARK: Runs
    func run(_ id: String) async throws -> RunRecord?
    /// Newest first.
    func runs(limit: Int) async throws -> [RunRecord]

    // MARK: Tasks
    func tasks(run: String) async throws -> [TaskRecord]
    func task(run: String, id: String) async throws -> TaskRecord?
    func counts(run: String) async throws -> TaskCounts

    // MARK: Events
    func events(run: String, after sequence: Int64, limit: Int) async throws -> [EventRecord]

    // MARK: Locks, messages, limits, workers
    func locks() async throws -> [LockRecord]
    /// Oldest first; every recipient when `recipient` is nil.
    func messages(run: String, recipient: String?) async throws -> [MessageRecord]
    /// The key's cool-down if it is still running at `now`.
    func cooldown(key: String, now: Date) async throws -> Cooldown?
    /// Every key whose cool-down is still running at `now` (for views), soonest end first.
    func activeCooldowns(now: Date) async throws -> [Cooldown]
    func workers(run: String?) async throws -> [WorkerRecord]

    // MARK: Aggregates (one query each: views never load every task to count or sum it)
    /// Every run's id, status and start, newest first, without decoding its workflow.
    func runIndex() async throws -> [RunIndexEntry]
    /// `counts(run:)` of several runs in one query; a run without tasks is missing from the answer.
    func counts(runs: [String]) async throws -> [String: TaskCounts]
    /// Tokens and cost of every task in the store, by the agent and model its spec names.
    func usageTotals() async throws -> [UsageTotal]
    /// Wall-clock time of every finished task in the store that started, by its spec's agent.
    func durations(bounds: [Double]) async throws -> [String: Distribution]
    /// For every task in the store that started: from when it was ready (its run's start, the last
    /// finish of what it needs, its retry time) to its start.
    func claimLatencies(bounds: [Double]) async throws -> Distribution

    // MARK: Changes
    /// A wake-up for waiting on `run` (any run when nil): signalled when the store learns of a change
    /// (an event appended: a task finished, became ready, was spawned; a cancel request). Take it
    /// before reading, then `wait(upTo:)` between reads instead of sleeping: a store that cannot tell
    /// of changes (SQLite) never signals, so the wait is the poll it replaces.
    func watch(run: String?) async throws -> ChangeSignal
    /// True when `watch` signals changes (PostgreSQL's LISTEN/NOTIFY): callers may then wait longer between reads.
    var signalsChanges: Bool { get }

    // MARK: Time
    /// The clock leases, token buckets and cool-downs are judged by, to pass as every call's `now`:
    /// this host's for a store on this host (SQLite); the database server's for a store shared by
    /// several hosts (PostgreSQL), so that no host's clock drift moves a lease.
    var clock: @Sendable () -> Date { get }
}

extension StoreReader {
    public func watch(run: String?) async throws -> ChangeSignal { ChangeSignal() }
    public var signalsChanges: Bool { false }
    public var clock: @Sendable () -> Date { { Date() } }

    /// The run named `id`; `StoreError.unknownRun` (the one "no run named …" message) when there is none.
    public func requireRun(_ id: String) async throws -> RunRecord {
        guard let run = try await run(id) else { throw StoreError.unknownRun(id) }
        return run
    }
}
