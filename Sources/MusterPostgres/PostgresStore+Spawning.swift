import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// Run-time spawning: the rules live here, in one transaction under the run's lock, so no caller can
/// skip them and a refused child leaves nothing behind (the transaction rolls back).
extension PostgresStore {
    public func spawn(run: String, parent: String, children: [PlannedTask], now: Date) async throws -> [SpawnedTask] {
        guard !children.isEmpty else { return [] }
        return try await transaction { sql in
            try await sql.lockRun(run)
            guard let parentRow = try await sql.row("""
                SELECT state, spec, depth, COALESCE(origin, grp) AS origin FROM tasks WHERE run_id = \(run) AND id = \(parent)
                """) else {
                throw SpawnError.unknownParent(run: run, task: parent)
            }
            let state: String = try parentRow.get("state")
            guard state == TaskState.running.rawValue else { throw SpawnError.parentNotRunning(task: parent, state: state) }
            guard let runRow = try await sql.row("SELECT workflow FROM runs WHERE id = \(run)") else { throw StoreError.unknownRun(run) }
            let maxDepth = try JSONCoding.decode(Workflow.self, from: try runRow.get("workflow")).spawnDepthLimit
            let parentSpec = try JSONCoding.decode(PlannedTask.self, from: try parentRow.get("spec"))
            let parentOwns = try parentSpec.owns.map { pattern throws in try Glob(pattern) }
            let depth = try parentRow.get("depth", as: Int.self) + 1
            let origin: String = try parentRow.get("origin")
            let ancestors = try await Self.lineage(sql, run: run, from: parent)
            var position = try await Self.nextPosition(sql, run: run)
            var siblings = try await sql.row("SELECT COUNT(*)::bigint AS n FROM tasks WHERE run_id = \(run) AND parent = \(parent)")?
                .get("n", as: Int.self) ?? 0
            func existing(_ id: String) async throws -> String?? {
                guard let row = try await sql.row("SELECT state FROM tasks WHERE run_id = \(run) AND id = \(id)") else { return nil }
                return .some(try row.get("state", as: String.self))
            }
            var results: [SpawnedTask] = []
            for var child in children {
                let shown = child.id.isEmpty ? "of \(parent)" : child.id
                guard depth <= maxDepth else { throw SpawnError.tooDeep(child: shown, depth: depth, maxDepth: maxDepth) }
                var owns: [String] = []
                for pattern in child.owns {
                    let glob: Glob
                    do { glob = try Glob(pattern) } catch let error as GlobError { throw SpawnError.invalid("child \(shown): \(error.description)") }
                    guard Glob.covers(parentOwns, glob) else {
                        throw SpawnError.ownsNotSubset(child: shown, glob: pattern, parentOwns: parentSpec.owns)
                    }
                    owns.append(glob.pattern)
                }
                child.owns = owns
                let key = IdempotencyKey.child(run: run, parent: parent, task: child)
                if let folded = try await sql.row("SELECT id FROM tasks WHERE idempotency_key = \(key)") {
                    results.append(SpawnedTask(id: try folded.get("id"), folded: true))
                    continue
                }
                var failedNeed: String?
                for need in child.after {
                    guard let needState = try await existing(need) else { throw SpawnError.unknownNeed(child: shown, need: need) }
                    if ancestors.contains(need) { throw SpawnError.needsAncestor(child: shown, need: need) }
                    if let value = needState.flatMap(TaskState.init(rawValue:)), value.isFinal, value != .succeeded { failedNeed = need }
                }
                if child.id.isEmpty {
                    repeat {
                        siblings += 1
                        child.id = "\(parent).\(siblings)"
                    } while try await existing(child.id) != nil
                } else if try await existing(child.id) != nil {
                    throw SpawnError.idTaken(child.id)
                }
                child.group = child.id
                child.needs = []
                child.parent = parent
                child.depth = depth
                child.join = false
                try await Self.insert(sql, run: run, tasks: [child], specs: [try JSONCoding.encodeString(child)], firstPosition: position,
                                      origin: origin, keys: [key])
                position += 1
                try await Self.event(sql, run: run, task: child.id, kind: "task.spawned", message: "by \(parent) at depth \(depth)", at: now)
                if let failedNeed {
                    try await sql.rows("""
                        UPDATE tasks SET state = 'skipped', finished_at = \(now.timeIntervalSince1970),
                            error = \("needs \(failedNeed), which did not succeed") WHERE run_id = \(run) AND id = \(child.id)
                        """)
                    try await Self.event(sql, run: run, task: child.id, kind: "task.skipped", message: "needs a task that failed", at: now)
                } else if !child.after.isEmpty {
                    _ = try await Self.promote(sql, run: run, scope: .tasks([child.id]))
                }
                results.append(SpawnedTask(id: child.id, folded: false))
            }
            return results
        }
    }

    /// `task` and every task it descends from.
    static func lineage(_ sql: SQL, run: String, from task: String) async throws -> Set<String> {
        var found: Set<String> = [task]
        var current = task
        while let row = try await sql.row("SELECT parent FROM tasks WHERE run_id = \(run) AND id = \(current)"),
              let parent = try row.get("parent", as: String?.self), found.insert(parent).inserted {
            current = parent
        }
        return found
    }

    public func setWaiting(run: String, task: String, waiting: Bool) async throws {
        let changed = try await autocommit("""
            UPDATE tasks SET waiting = \(waiting) WHERE run_id = \(run) AND id = \(task) RETURNING 1
            """).count
        guard changed == 1 else { throw StoreError.unknownTask(run: run, task: task) }
    }
}
