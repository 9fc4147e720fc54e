import Foundation
import MusterCore
import MusterStore

/// Fan-in inside a task: waits until tasks of a run finish. The one path behind `muster wait` and the
/// MCP `wait` tool. While it waits the caller's concurrency slot is lent (the task is marked waiting),
/// so parents waiting for children never fill every slot.
public enum TaskWaiter {
    public struct Outcome: Sendable {
        /// The tasks waited for, in the run's order.
        public var tasks: [TaskRecord]
        /// The deadline passed before every task finished.
        public var timedOut: Bool
        public var allSucceeded: Bool { tasks.allSatisfy { $0.state == .succeeded } }
        public var unfinished: Int { tasks.filter { !$0.state.isFinal }.count }
    }

    /// Waits for `tasks` of `run` (empty: everything `caller` spawned, and what those spawned, including
    /// children added while it waits). `caller`: the task it runs inside, if any. `deadline`: give up then.
    public static func wait(store: any Store, run runID: String, caller: String?, tasks: [String],
                            deadline: Date? = nil) async throws -> Outcome {
        if tasks.isEmpty && caller == nil {
            throw RefusedRequest("wait for what? Name the tasks (inside a task it defaults to the ones it spawned)")
        }
        _ = try await store.requireRun(runID)
        var all = try await store.tasks(run: runID)
        let known = Set(all.map(\.id))
        for task in tasks where !known.contains(task) {
            let hint = Suggest.nearest(task, among: known.sorted()).map { " (did you mean \($0)?)" } ?? ""
            throw RefusedRequest("run \(runID) has no task \(task)\(hint)")
        }
        if let caller {
            // Waiting for itself or for what it descends from can never end.
            let ancestors = Lineage.ancestors(of: caller, in: all)
            if let bad = tasks.first(where: ancestors.contains) {
                throw RefusedRequest("task \(caller) cannot wait for \(bad == caller ? "itself" : "its ancestor \(bad)"): it would wait forever")
            }
            try await store.setWaiting(run: runID, task: caller, waiting: true)
        }
        var targets: [TaskRecord] = []
        var pause = 0.05
        var timedOut = false
        do {
            while true {
                targets = tasks.isEmpty ? Lineage.descendants(of: caller!, in: all) : all.filter { tasks.contains($0.id) }
                if targets.allSatisfy({ $0.state.isFinal }) { break }
                if let deadline, Date() >= deadline { timedOut = true; break }
                try await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
                pause = min(1, pause * 1.5)
                all = try await store.tasks(run: runID)
            }
        } catch {
            if let caller { try? await store.setWaiting(run: runID, task: caller, waiting: false) }
            throw error
        }
        if let caller { try await store.setWaiting(run: runID, task: caller, waiting: false) }
        return Outcome(tasks: targets, timedOut: timedOut)
    }
}
