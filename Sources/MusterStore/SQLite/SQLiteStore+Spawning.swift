import Foundation
import GRDB
import MusterCore

/// Run-time spawning: the rules live here, in one transaction, so no caller can skip them.
extension SQLiteStore {
    public func spawn(run: String, parent: String, children: [PlannedTask], now: Date) async throws -> [SpawnedTask] {
        guard !children.isEmpty else { return [] }
        return try await write { db in
            guard let parentRow = try Row.fetchOne(db, sql: """
                SELECT state, spec, depth, COALESCE(origin, grp) AS origin FROM tasks WHERE run_id = ? AND id = ?
                """, arguments: [run, parent]) else {
                throw SpawnError.unknownParent(run: run, task: parent)
            }
            let state: String = parentRow["state"]
            guard state == TaskState.running.rawValue else { throw SpawnError.parentNotRunning(task: parent, state: state) }
            guard let workflowJSON = try String.fetchOne(db, sql: "SELECT workflow FROM runs WHERE id = ?", arguments: [run]) else {
                throw StoreError.unknownRun(run)
            }
            let maxDepth = try JSONCoding.decode(Workflow.self, from: workflowJSON).spawnDepthLimit
            let parentSpec = try JSONCoding.decode(PlannedTask.self, from: parentRow["spec"])
            let parentOwns = try parentSpec.owns.map { pattern throws in try Glob(pattern) }
            let depth = (parentRow["depth"] as Int) + 1
            let origin: String = parentRow["origin"]
            let ancestors = try Self.lineage(db, run: run, from: parent)
            let lookup = try db.cachedStatement(sql: "SELECT idempotency_key, state FROM tasks WHERE run_id = ? AND id = ?")
            var position = (try Int.fetchOne(db, sql: "SELECT MAX(position) FROM tasks WHERE run_id = ?", arguments: [run]) ?? 0) + 1
            var siblings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks WHERE run_id = ? AND parent = ?",
                                            arguments: [run, parent]) ?? 0
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
                if let existing = try String.fetchOne(db, sql: "SELECT id FROM tasks WHERE idempotency_key = ?", arguments: [key]) {
                    results.append(SpawnedTask(id: existing, folded: true))
                    continue
                }
                var failedNeed: String?
                for need in child.after {
                    guard let row = try Row.fetchOne(lookup, arguments: [run, need]) else {
                        throw SpawnError.unknownNeed(child: shown, need: need)
                    }
                    if ancestors.contains(need) { throw SpawnError.needsAncestor(child: shown, need: need) }
                    if let needState = TaskState(rawValue: row[1]), needState.isFinal, needState != .succeeded { failedNeed = need }
                }
                if child.id.isEmpty {
                    repeat {
                        siblings += 1
                        child.id = "\(parent).\(siblings)"
                    } while try Row.fetchOne(lookup, arguments: [run, child.id]) != nil
                } else if try Row.fetchOne(lookup, arguments: [run, child.id]) != nil {
                    throw SpawnError.idTaken(child.id)
                }
                child.group = child.id
                child.needs = []
                child.parent = parent
                child.depth = depth
                child.join = false
                try Self.insert(db, run: run, tasks: [child], specs: [try JSONCoding.encodeString(child)], firstPosition: position,
                                origin: origin, keys: [key])
                position += 1
                try Self.event(db, run: run, task: child.id, kind: "task.spawned", message: "by \(parent) at depth \(depth)", at: now)
                if let failedNeed {
                    try db.execute(sql: """
                        UPDATE tasks SET state = 'skipped', finished_at = ?, error = ? WHERE run_id = ? AND id = ?
                        """, arguments: [now.timeIntervalSince1970, "needs \(failedNeed), which did not succeed", run, child.id])
                    try Self.event(db, run: run, task: child.id, kind: "task.skipped", message: "needs a task that failed", at: now)
                } else if !child.after.isEmpty {
                    _ = try Self.promote(db, run: run, scope: .tasks([child.id]))
                }
                results.append(SpawnedTask(id: child.id, folded: false))
            }
            return results
        }
    }

    /// `task` and every task it descends from.
    static func lineage(_ db: Database, run: String, from task: String) throws -> Set<String> {
        var found: Set<String> = [task]
        var current = task
        let up = try db.cachedStatement(sql: "SELECT parent FROM tasks WHERE run_id = ? AND id = ?")
        while let parent = try String.fetchOne(up, arguments: [run, current]), found.insert(parent).inserted {
            current = parent
        }
        return found
    }

    public func setWaiting(run: String, task: String, waiting: Bool) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE tasks SET waiting = ? WHERE run_id = ? AND id = ?", arguments: [waiting, run, task])
            guard db.changesCount == 1 else { throw StoreError.unknownTask(run: run, task: task) }
        }
    }
}

extension IdempotencyKey {
    /// A spawned child's key: the same parent asking for the same work (agent, prompt or command,
    /// owns) gets the same key, whatever id it would be given, so a repeated spawn folds into the first.
    public static func child(run: String, parent: String, task: PlannedTask) -> String {
        var text = "spawn\u{0}\(run)\u{0}\(parent)\u{0}\(task.agent)\u{0}\(task.prompt ?? "")\u{0}"
        text += (task.command?.argv ?? []).joined(separator: "\u{1}")
        text += "\u{0}" + task.owns.sorted().joined(separator: "\u{1}")
        return digest(text)
    }
}
