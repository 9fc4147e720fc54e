import Foundation
import MusterStore

/// Follows one run in the Store for the dashboard: new events after the last sequence seen (a
/// cheap query, polled often), and a fresh read of tasks, counts and workers when they changed.
/// Reads only.
public final class DashboardFeed {
    public let store: any StoreReader
    public let runID: String
    public private(set) var run: RunRecord
    public private(set) var tasks: [TaskRecord] = []
    public private(set) var counts = TaskCounts()
    public private(set) var workers: [WorkerRecord] = []
    /// The last events (oldest first) plus every warning.
    public private(set) var events: [EventRecord] = []
    public private(set) var cursor: Int64 = 0
    public var budgetUSD: Double?
    public private(set) var cooldowns: [Cooldown] = []
    /// A `run.*` event arrived since the run record was last read.
    var runChanged = true
    let tails = OutputTail()
    static let keptEvents = 200

    public init(store: any StoreReader, run: RunRecord) {
        self.store = store
        self.runID = run.id
        self.run = run
    }

    /// Where the orchestrator writes a task's output: `<root>/.muster/runs/<run>/tasks/<task>/output.log`.
    public static func outputLog(root: String, run: String, task: String) -> String {
        URL(fileURLWithPath: root).appendingPathComponent(".muster/runs/\(run)/tasks/\(task)/output.log").path
    }

    public func outputLog(task: String) -> String { Self.outputLog(root: run.root, run: runID, task: task) }

    /// Reads events after the cursor; true when there were any.
    @discardableResult
    public func pollEvents() async throws -> Bool {
        var changed = false
        while true {
            let batch = try await store.events(run: runID, after: cursor, limit: 1000)
            guard let last = batch.last else { break }
            changed = true
            cursor = last.sequence
            if batch.contains(where: { $0.kind.hasPrefix("run.") }) { runChanged = true }
            events.append(contentsOf: batch)
            if events.count > 4 * Self.keptEvents {
                // Keep every warning and the newest events.
                let recent = events.suffix(Self.keptEvents)
                let old = events.dropLast(Self.keptEvents).filter { DashboardModel.warningKinds.contains($0.kind) }.suffix(500)
                events = Array(old) + recent
            }
            if batch.count < 1000 { break }
        }
        return changed
    }

    /// Re-reads the tasks and counts (after events), the live workers, and the run record when a
    /// run event came (or on the periodic refresh, `tasks: false`).
    public func reload(tasks reloadTasks: Bool = true) async throws {
        if runChanged || !reloadTasks, let fresh = try await store.run(runID) {
            run = fresh
            runChanged = false
        }
        if reloadTasks {
            tasks = try await store.tasks(run: runID)
            counts = try await store.counts(run: runID)
        }
        workers = try await store.workers(run: runID)
        cooldowns = try await store.activeCooldowns(now: store.clock())
    }

    /// A frame's model; reads the output tails of every running task and of `visible` ones.
    public func model(now: Date, visible: [String] = []) -> DashboardModel {
        var lines: [String: String] = [:]
        var wanted = Set(visible)
        for i in tasks.indices where tasks[i].state == .running { wanted.insert(tasks[i].id) }
        for id in wanted {
            if let line = tails.lastLine(path: outputLog(task: id)) { lines[id] = line }
        }
        tails.retain(Set(wanted.map(outputLog(task:))))
        var model = DashboardModel(run: run, tasks: tasks, counts: counts, events: events, workers: workers, now: now,
                                   lastLines: lines, budgetUSD: budgetUSD)
        model.cooldowns = cooldowns
        return model
    }

    /// One frame the way the dashboard draws it: the model, plus the output tails of the rows shown.
    public func frame(_ renderer: DashboardRenderer, view: DashboardView, now: Date) -> Frame {
        var model = model(now: now)
        // The order depends on running tasks' tails only (waiting first), which are read already.
        let order = model.order(filter: view.filter)
        for id in renderer.visibleTaskIDs(model, view: view, order: order) where model.lastLines[id] == nil {
            if let line = tails.lastLine(path: outputLog(task: id)) { model.lastLines[id] = line }
        }
        return renderer.render(model, view: view, order: order)
    }
}
