import Foundation
import GRDB
import MusterCore

/// Run-time spawning: `SpawnRules` decides, here in one transaction, so no caller can skip the rules.
extension SQLiteStore {
    public func spawn(run: String, parent: String, children: [PlannedTask], now: Date) async throws -> [SpawnedTask] {
        guard !children.isEmpty else { return [] }
        return try await write { db in
            guard let parentRow = try Row.fetchOne(db, sql: """
                SELECT state, spec, depth, COALESCE(origin, grp) AS origin FROM tasks WHERE run_id = ? AND id = ?
                """, arguments: [run, parent]) else {
                throw SpawnError.unknownParent(run: run, task: parent)
            }
            let spawner = SpawnParent(
                id: parent, state: parentRow["state"], spec: try JSONCoding.decode(PlannedTask.self, from: parentRow["spec"]),
                depth: parentRow["depth"], origin: parentRow["origin"], ancestors: try Self.lineage(db, run: run, from: parent),
                children: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks WHERE run_id = ? AND parent = ?",
                                           arguments: [run, parent]) ?? 0)
            try SpawnRules.checkParent(spawner)
            guard let workflowJSON = try String.fetchOne(db, sql: "SELECT workflow FROM runs WHERE id = ?", arguments: [run]) else {
                throw StoreError.unknownRun(run)
            }
            // What the rules read: the tasks the request names or could generate, and its children's keys.
            let named = Set(children.flatMap { $0.after + ($0.id.isEmpty ? [] : [$0.id]) }).sorted()
            let prefix = SpawnRules.generatedPrefix(parent)
            var states: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT id, state FROM tasks WHERE run_id = ? AND (id IN (SELECT value FROM json_each(?)) OR substr(id, 1, ?) = ?)
                """, arguments: [run, try JSONCoding.encodeString(named), prefix.count, prefix]) {
                states[row["id"]] = row["state"]
            }
            let wanted = children.map { SpawnRules.key(run: run, parent: parent, child: $0) }
            var keys: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT idempotency_key, id FROM tasks WHERE idempotency_key IN (SELECT value FROM json_each(?))
                """, arguments: [try JSONCoding.encodeString(wanted)]) {
                keys[row["idempotency_key"]] = row["id"]
            }
            let steps = try SpawnRules.plan(run: run, parent: spawner, children: children,
                                            maxDepth: try JSONCoding.decode(Workflow.self, from: workflowJSON).spawnDepthLimit,
                                            states: states, keys: keys)
            var position = (try Int.fetchOne(db, sql: "SELECT MAX(position) FROM tasks WHERE run_id = ?", arguments: [run]) ?? 0) + 1
            for case .add(let child, let key, let failedNeed) in steps {
                try Self.insert(db, run: run, tasks: [child], specs: [try StoredSpec.encode(child)], firstPosition: position,
                                origin: spawner.origin, keys: [key])
                position += 1
                try Self.event(db, run: run, task: child.id, kind: "task.spawned", message: "by \(parent) at depth \(child.depth)", at: now)
                if let failedNeed {
                    try db.execute(sql: """
                        UPDATE tasks SET state = 'skipped', finished_at = ?, error = ? WHERE run_id = ? AND id = ?
                        """, arguments: [now.timeIntervalSince1970, "needs \(failedNeed), which did not succeed", run, child.id])
                    try Self.event(db, run: run, task: child.id, kind: "task.skipped", message: "needs a task that failed", at: now)
                } else if !child.after.isEmpty {
                    _ = try Self.promote(db, run: run, scope: .tasks([child.id]))
                }
            }
            return steps.map(\.result)
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
