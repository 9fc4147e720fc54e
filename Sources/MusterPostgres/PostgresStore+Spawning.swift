import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// Run-time spawning: `SpawnRules` decides, here in one transaction under the run's lock, so no caller
/// can skip the rules and a refused child leaves nothing behind (nothing is written before they pass).
extension PostgresStore {
    public func spawn(run: String, parent: String, children: [PlannedTask], now: Date) async throws -> [SpawnedTask] {
        guard !children.isEmpty else { return [] }
        return try await transaction { sql in
            try await sql.lockRun(run)
            guard let parentRow = try await sql.row("""
                SELECT state, spec, depth, COALESCE(origin, grp) AS origin,
                       (SELECT COUNT(*) FROM tasks c WHERE c.run_id = \(run) AND c.parent = \(parent))::bigint AS children
                FROM tasks WHERE run_id = \(run) AND id = \(parent)
                """) else {
                throw SpawnError.unknownParent(run: run, task: parent)
            }
            let spawner = SpawnParent(
                id: parent, state: try parentRow.get("state"), spec: try JSONCoding.decode(PlannedTask.self, from: try parentRow.get("spec")),
                depth: try parentRow.get("depth"), origin: try parentRow.get("origin"),
                ancestors: try await Self.lineage(sql, run: run, from: parent), children: try parentRow.get("children"))
            try SpawnRules.checkParent(spawner)
            guard let runRow = try await sql.row("SELECT workflow FROM runs WHERE id = \(run)") else { throw StoreError.unknownRun(run) }
            // What the rules read: the tasks the request names or could generate, and its children's keys.
            let named = Set(children.flatMap { $0.after + ($0.id.isEmpty ? [] : [$0.id]) }).sorted()
            var states: [String: String] = [:]
            for row in try await sql.rows("""
                SELECT id, state FROM tasks
                WHERE run_id = \(run) AND (id = ANY(\(named)::text[]) OR starts_with(id, \(SpawnRules.generatedPrefix(parent))))
                """) {
                states[try row.get("id")] = try row.get("state")
            }
            let wanted = children.map { SpawnRules.key(run: run, parent: parent, child: $0) }
            var keys: [String: String] = [:]
            for row in try await sql.rows("SELECT idempotency_key, id FROM tasks WHERE idempotency_key = ANY(\(wanted)::text[])") {
                keys[try row.get("idempotency_key")] = try row.get("id")
            }
            let steps = try SpawnRules.plan(run: run, parent: spawner, children: children,
                                            maxDepth: try JSONCoding.decode(Workflow.self, from: try runRow.get("workflow")).spawnDepthLimit,
                                            states: states, keys: keys)
            var position = try await Self.nextPosition(sql, run: run)
            for case .add(let child, let key, let failedNeed) in steps {
                try await Self.insert(sql, run: run, tasks: [child], specs: [try StoredSpec.encode(child)], firstPosition: position,
                                      origin: spawner.origin, keys: [key])
                position += 1
                try await Self.event(sql, run: run, task: child.id, kind: "task.spawned", message: "by \(parent) at depth \(child.depth)",
                                     at: now)
                if let failedNeed {
                    try await sql.rows("""
                        UPDATE tasks SET state = 'skipped', finished_at = \(now.timeIntervalSince1970),
                            error = \("needs \(failedNeed), which did not succeed") WHERE run_id = \(run) AND id = \(child.id)
                        """)
                    try await Self.event(sql, run: run, task: child.id, kind: "task.skipped", message: "needs a task that failed", at: now)
                } else if !child.after.isEmpty {
                    _ = try await Self.promote(sql, run: run, scope: .tasks([child.id]))
                }
            }
            return steps.map(\.result)
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
