import Foundation
import MusterCore
import MusterStore

/// Adds children to a running task: the one path behind `muster spawn` and the MCP `spawn` tool.
/// The Store refuses a child that owns anything outside the parent's owns, one deeper than the
/// workflow's max_depth, and one whose needs are unknown or its own ancestors.
public enum Spawner {
    /// The run and parent a caller spawns from: flags first, then MUSTER_RUN/MUSTER_TASK_ID.
    public static func caller(run: String?, parent: String?, environment: TaskEnvironment) throws(RefusedRequest) -> (run: String, parent: String) {
        guard let runID = run ?? environment.run, let parentID = parent ?? environment.task else {
            throw RefusedRequest("""
                spawn adds children to a running task: call it from inside a task (where MUSTER_RUN and \
                MUSTER_TASK_ID are set), or name the run and the parent task
                """)
        }
        return (runID, parentID)
    }

    /// Spawns `requests` as children of `parent`; a refusal is a `RefusedRequest` starting with "refused:".
    public static func spawn(store: any Store, run runID: String, parent parentID: String, requests: [SpawnRequest],
                             now: Date? = nil) async throws -> [SpawnedTask] {
        let now = now ?? store.clock()
        let record = try await store.requireRun(runID)
        guard let parentTask = try await store.task(run: runID, id: parentID) else {
            throw RefusedRequest("run \(runID) has no task \(parentID) to spawn from")
        }
        do {
            let limits = Set((record.workflow.limits ?? [:]).keys)
            let children = try requests.map { request throws(SpawnRequestError) in
                try request.plannedTask(parent: parentTask.spec, limits: limits, agents: record.agents)
            }
            try await checkLabels(children, run: record, store: store)
            return try await store.spawn(run: runID, parent: parentID, children: children, now: now)
        } catch let error as SpawnRequestError {
            throw RefusedRequest("refused: \(error.description)")
        } catch let error as SpawnError {
            throw RefusedRequest("refused: \(error.description)")
        }
    }

    /// A run held by one orchestrator (not shared with workers) runs only what its labels cover: a
    /// child needing another label would wait forever, so it is refused.
    static func checkLabels(_ children: [PlannedTask], run: RunRecord, store: any Store) async throws {
        guard let holder = run.holder, children.contains(where: { !$0.runsOn.isEmpty }) else { return }
        let have = Set(try await store.workers(run: run.id).first { $0.id == holder.id }?.labels ?? [])
        for child in children {
            let missing = Labels.missing(child.runsOn, have: have)
            guard !missing.isEmpty else { continue }
            let names = missing.joined(separator: ",")
            throw SpawnRequestError.invalid("""
                child \(child.id.isEmpty ? "(unnamed)" : child.id) has `runs_on` \(names), which the orchestrator of run \(run.id) \
                lacks (this run is not shared with workers), so it would never start: spawn it without that label, or \
                start such runs with `muster run --labels \(names)` or `--slots`
                """)
        }
    }
}
