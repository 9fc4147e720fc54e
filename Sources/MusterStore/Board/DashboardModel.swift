import Foundation

/// Everything one dashboard frame shows, as plain values: built from Store records and a clock,
/// with no I/O of its own (the last output lines are read by the view and handed in). Shared by
/// the terminal dashboard (MusterTerminal) and the web board (MusterWeb).
public struct DashboardModel: Sendable {
    public var run: RunRecord
    public var tasks: [TaskRecord]
    public var counts: TaskCounts
    /// Recent events, oldest first (warnings are picked from these).
    public var events: [EventRecord]
    public var workers: [WorkerRecord]
    public var now: Date
    /// Task id → the last line of its output, for the tasks on screen and every running task.
    public var lastLines: [String: String]
    /// The run's spending limit, when it has one (default: the workflow's `budget`).
    public var budgetUSD: Double?
    /// Shared rate-limit keys cooling down after a 429 or overload, shown in the header.
    public var cooldowns: [Cooldown] = []

    /// Events shown as warnings.
    public static let warningKinds: Set<String> = ["conflict.predicted", "ownership.violation", "task.stalled", "task.blocked",
                                                   "budget.exceeded"]
    /// An orchestrator heartbeats every 10 s; three missed beats and it is shown as lost.
    public static let lostAfter: TimeInterval = 30

    public init(run: RunRecord, tasks: [TaskRecord], counts: TaskCounts, events: [EventRecord], workers: [WorkerRecord],
                now: Date, lastLines: [String: String] = [:], budgetUSD: Double? = nil) {
        self.run = run
        self.tasks = tasks
        self.counts = counts
        self.events = events
        self.workers = workers
        self.now = now
        self.lastLines = lastLines
        self.budgetUSD = budgetUSD ?? run.workflow.budgetUSD
    }

    /// A running task whose last output line asks for input or approval.
    public func isWaiting(_ task: TaskRecord) -> Bool {
        task.state == .running && lastLines[task.id].map(InputPrompt.looksLikePrompt) == true
    }

    /// The state shown for a task: its Store state, or `waiting` (a distinct, view-only state).
    /// `denied`: it failed because its agent's tool calls were refused (a typed outcome, not its error text).
    public func shownState(_ task: TaskRecord) -> String { isWaiting(task) ? "waiting" : task.shownState }

    public var waitingCount: Int {
        var n = 0
        for i in tasks.indices where tasks[i].state == .running && isWaiting(tasks[i]) { n += 1 }
        return n
    }

    public var elapsed: TimeInterval {
        max(0, (run.status.isFinal ? (run.finishedAt ?? now) : now).timeIntervalSince(run.createdAt))
    }

    public func elapsed(of task: TaskRecord) -> TimeInterval? {
        guard let start = task.startedAt else { return nil }
        return max(0, (task.state.isFinal ? (task.finishedAt ?? now) : now).timeIntervalSince(start))
    }

    /// Time left: the unfinished tasks' share of the average duration of finished ones, spread over
    /// the run's slots. nil until a task has finished, and once the run is over.
    public var eta: TimeInterval? {
        guard !run.status.isFinal else { return nil }
        var total = 0.0, finished = 0
        var runningStarts: [Date] = []
        for i in tasks.indices {
            let state = tasks[i].state
            if state == .succeeded || state == .failed, let start = tasks[i].startedAt, let end = tasks[i].finishedAt {
                total += end.timeIntervalSince(start)
                finished += 1
            } else if state == .running, let start = tasks[i].startedAt {
                runningStarts.append(start)
            }
        }
        guard finished > 0 else { return nil }
        let average = total / Double(finished)
        let runningElapsed = runningStarts.reduce(0.0) { $0 + min(average, max(0, now.timeIntervalSince($1))) }
        let remaining = counts.unfinished
        guard remaining > 0 else { return 0 }
        let slots = Double(max(1, min(run.concurrency, remaining)))
        return max(0, (Double(remaining) * average - runningElapsed) / slots)
    }

    /// Warnings, newest first.
    public var warnings: [EventRecord] { events.filter { Self.warningKinds.contains($0.kind) }.reversed() }

    public func isLost(_ worker: WorkerRecord) -> Bool { now.timeIntervalSince(worker.heartbeatAt) > Self.lostAfter }

    /// The text in a task's last column: its error once it failed, else its last output line.
    public func detail(_ task: TaskRecord) -> String {
        switch task.state {
        case .failed, .blocked, .skipped, .cancelled:
            return firstLine(task.error) ?? lastLines[task.id] ?? ""
        case .succeeded:
            if let line = lastLines[task.id], !line.isEmpty { return line }
            return firstLine(task.summary) ?? ""
        case .running:
            return lastLines[task.id] ?? ""
        case .pending, .ready:
            return task.notBefore.map { $0 > now ? "retry in \(Format.duration($0.timeIntervalSince(now)))" : "" } ?? ""
        }
    }

    func firstLine(_ text: String?) -> String? {
        guard let text else { return nil }
        return text.split(separator: "\n", omittingEmptySubsequences: true).first.map { TerminalLine.clean($0) }
    }

    /// The order of the task table: running (waiting first), failed, queued, then done; by plan position within each.
    public func ordered(filter: String = "") -> [TaskRecord] { order(filter: filter).map { tasks[$0] } }

    /// `ordered` as indices into `tasks` (no task records are copied: 1,000 tasks sort in well under a millisecond).
    public func order(filter: String = "") -> [Int] {
        var keys: [(rank: Int, position: Int, index: Int)] = []
        keys.reserveCapacity(tasks.count)
        let needle = filter.lowercased()
        for i in tasks.indices {
            if !needle.isEmpty && !tasks[i].id.lowercased().contains(needle) { continue }
            let rank = switch tasks[i].state {
            case .running: isWaiting(tasks[i]) ? 0 : 1
            case .failed, .blocked: 2
            case .ready: 3
            case .pending: 4
            case .succeeded: 5
            case .skipped, .cancelled: 6
            }
            keys.append((rank, tasks[i].position, i))
        }
        keys.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.position < $1.position }
        return keys.map(\.index)
    }
}
