import Foundation
import MusterStore
import PostgresNIO

/// Promotion and skipping along `needs` (groups), `after` (single tasks) and `join` (every
/// descendant of a lineage). Called inside a transaction that holds the run's lock.
extension PostgresStore {
    enum PromotionScope {
        case all
        case tasks([String])
        case dependentsOf(Set<String>)
    }

    static let promotion = """
        UPDATE tasks SET state = 'ready' WHERE run_id = $1 AND state = 'pending' AND NOT EXISTS (
            SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.grp = d.need
            WHERE d.run_id = $1 AND d.task_id = tasks.id AND d.on_task IS NULL AND t.state <> 'succeeded')
        AND NOT EXISTS (
            SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.id = d.on_task
            WHERE d.run_id = $1 AND d.task_id = tasks.id AND d.on_task IS NOT NULL AND t.state <> 'succeeded')
        AND (NOT tasks.joins OR NOT EXISTS (
            SELECT 1 FROM deps d JOIN tasks t ON t.run_id = d.run_id AND t.origin = d.need AND t.depth > 0
            WHERE d.run_id = $1 AND d.task_id = tasks.id AND d.on_task IS NULL
              AND t.state IN ('pending', 'ready', 'running')))
        """

    /// Marks pending tasks ready once every group they need has only succeeded tasks.
    static func promote(_ sql: SQL, run: String, scope: PromotionScope) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(run)
        var text = promotion
        switch scope {
        case .all: break
        case .tasks(let ids):
            text += " AND id = ANY($2::text[])"
            try binds.append(ids)
        case .dependentsOf(let groups):
            text += " AND id IN (SELECT task_id FROM deps WHERE run_id = $1 AND need = ANY($2::text[]))"
            try binds.append(groups.sorted())
        }
        return try await sql.count(PostgresQuery(unsafeSQL: text + " RETURNING 1", binds: binds))
    }

    /// A task that failed for good can never satisfy what waits for it (its group, or itself for
    /// task-level dependencies): skip those, transitively.
    static func skipDependents(_ sql: SQL, run: String, groups: Set<String>, tasks: Set<String>, at now: Date) async throws -> Int {
        var (groupFrontier, taskFrontier) = (groups, tasks)
        var total = 0
        while !groupFrontier.isEmpty || !taskFrontier.isEmpty {
            let skipped = try await sql.rows("""
                UPDATE tasks SET state = 'skipped', finished_at = \(now.timeIntervalSince1970), error = 'needs a task that failed'
                WHERE run_id = \(run) AND state IN ('pending', 'ready') AND id IN (
                    SELECT task_id FROM deps WHERE run_id = \(run) AND (
                        (on_task IS NULL AND need = ANY(\(groupFrontier.sorted())::text[]))
                        OR (on_task IS NOT NULL AND on_task = ANY(\(taskFrontier.sorted())::text[]))))
                RETURNING id, grp
                """)
            total += skipped.count
            var nextGroups = Set<String>(), nextTasks = Set<String>()
            for row in skipped {
                let id: String = try row.get("id")
                try await event(sql, run: run, task: id, kind: "task.skipped", message: "needs a task that failed", at: now)
                nextGroups.insert(try row.get("grp"))
                nextTasks.insert(id)
            }
            (groupFrontier, taskFrontier) = (nextGroups, nextTasks)
        }
        return total
    }
}
