import Foundation
import GRDB
import MusterCore

/// Promotion and skipping along `needs` (groups), `after` (single tasks) and `join` (every
/// descendant of a lineage). Called inside a write transaction.
extension SQLiteStore {
    enum PromotionScope {
        case all
        case tasks([String])
        case dependentsOf(Set<String>)
    }

    /// Marks pending tasks ready once every group they need has only succeeded tasks.
    static func promote(_ db: Database, run: String, scope: PromotionScope) throws -> Int {
        var sql = """
            UPDATE tasks SET state = 'ready' WHERE run_id = ?1 AND state = 'pending' AND NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.grp = d.need
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NULL AND t.state != 'succeeded')
            AND NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.id = d.on_task
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NOT NULL AND t.state != 'succeeded')
            AND (tasks.joins = 0 OR NOT EXISTS (
                SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.origin = d.need AND t.depth > 0
                WHERE d.run_id = ?1 AND d.task_id = tasks.id AND d.on_task IS NULL
                  AND t.state IN ('pending', 'ready', 'running')))
            """
        var arguments: StatementArguments = [run]
        switch scope {
        case .all: break
        case .tasks(let ids):
            sql += " AND id IN (SELECT value FROM json_each(?2))"
            arguments += [try JSONCoding.encodeString(ids)]
        case .dependentsOf(let groups):
            sql += " AND id IN (SELECT task_id FROM deps WHERE run_id = ?1 AND need IN (SELECT value FROM json_each(?2)))"
            arguments += [try JSONCoding.encodeString(groups.sorted())]
        }
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
        return db.changesCount
    }

    /// A task that failed for good can never satisfy what waits for it (its group, or itself for
    /// task-level dependencies): skip those, transitively.
    static func skipDependents(_ db: Database, run: String, groups: Set<String>, tasks: Set<String>, at now: Date) throws -> Int {
        var (groupFrontier, taskFrontier) = (groups, tasks)
        var total = 0
        while !groupFrontier.isEmpty || !taskFrontier.isEmpty {
            let skipped = try Row.fetchAll(try db.cachedStatement(sql: """
                UPDATE tasks SET state = 'skipped', finished_at = ?4, error = 'needs a task that failed'
                WHERE run_id = ?1 AND state IN ('pending', 'ready') AND id IN (
                    SELECT task_id FROM deps WHERE run_id = ?1 AND (
                        (on_task IS NULL AND need IN (SELECT value FROM json_each(?2)))
                        OR (on_task IS NOT NULL AND on_task IN (SELECT value FROM json_each(?3)))))
                RETURNING id, grp
                """), arguments: [run, try JSONCoding.encodeString(groupFrontier.sorted()),
                                 try JSONCoding.encodeString(taskFrontier.sorted()), now.timeIntervalSince1970])
            total += skipped.count
            for row in skipped {
                try event(db, run: run, task: row["id"], kind: "task.skipped", message: "needs a task that failed", at: now)
            }
            groupFrontier = Set(skipped.map { $0["grp"] as String })
            taskFrontier = Set(skipped.map { $0["id"] as String })
        }
        return total
    }
}
