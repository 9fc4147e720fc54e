import Foundation
import MusterStore
import PostgresNIO

/// Lease-backed file locks and the registry of live workers.
extension PostgresStore {
    public func acquireLock(_ request: LockRequest, now: Date) async throws -> LockAcquisition {
        let t = now.timeIntervalSince1970
        return try await transaction { sql in
            try await sql.lockKey("lock:" + request.path)
            let current = try await sql.row("SELECT * FROM locks WHERE path = \(request.path)").map(Self.lockRecord)
            if let current, current.holder != request.holder, current.expiresAt.timeIntervalSince1970 > t,
               current.holder != request.replacing {
                return .heldBy(current)
            }
            let acquiredAt = current?.holder == request.holder ? current!.acquiredAt.timeIntervalSince1970 : t
            try await sql.rows("""
                INSERT INTO locks (path, holder, holder_host, holder_pid, run_id, task_id, acquired_at, expires_at)
                VALUES (\(request.path), \(request.holder), \(request.host), \(Int(request.pid)), \(request.run), \(request.task),
                        \(acquiredAt), \(t + request.ttl))
                ON CONFLICT (path) DO UPDATE SET holder = EXCLUDED.holder, holder_host = EXCLUDED.holder_host,
                    holder_pid = EXCLUDED.holder_pid, run_id = EXCLUDED.run_id, task_id = EXCLUDED.task_id,
                    acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
                """)
            let previous = current?.holder == request.holder ? nil : current
            if let run = request.run {
                try await sql.lockRun(run)
                let message = previous.map { "\(request.path) (taken over from \($0.holder))" } ?? request.path
                try await Self.event(sql, run: run, task: request.task, kind: "lock.acquired", message: message, at: now)
            }
            return .acquired(previous: previous)
        }
    }

    public func releaseLock(path: String, holder: String) async throws -> Bool {
        try await autocommit("DELETE FROM locks WHERE path = \(path) AND holder = \(holder) RETURNING 1").count == 1
    }

    public func locks() async throws -> [LockRecord] {
        try await autocommit("SELECT * FROM locks ORDER BY path").map(Self.lockRecord)
    }

    // MARK: Workers

    public func registerWorker(_ worker: WorkerRecord) async throws {
        let labels: [String]? = worker.labels.flatMap { $0.isEmpty ? nil : $0.sorted() }
        _ = try await autocommit("""
            INSERT INTO workers (id, run_id, role, host, pid, task_id, agent, started_at, heartbeat_at, labels)
            VALUES (\(worker.id), \(worker.run), \(worker.role), \(worker.host), \(Int(worker.pid)), \(worker.task), \(worker.agent),
                    \(worker.startedAt.timeIntervalSince1970), \(worker.heartbeatAt.timeIntervalSince1970), \(labels)::text[])
            ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, role = EXCLUDED.role, host = EXCLUDED.host, pid = EXCLUDED.pid,
                task_id = EXCLUDED.task_id, agent = EXCLUDED.agent, started_at = EXCLUDED.started_at,
                heartbeat_at = EXCLUDED.heartbeat_at, labels = EXCLUDED.labels
            """)
    }

    public func heartbeatWorker(id: String, task: String?, now: Date) async throws {
        _ = try await autocommit("UPDATE workers SET heartbeat_at = \(now.timeIntervalSince1970), task_id = \(task) WHERE id = \(id)")
    }

    public func removeWorker(id: String) async throws {
        _ = try await autocommit("DELETE FROM workers WHERE id = \(id)")
    }

    public func workers(run: String?) async throws -> [WorkerRecord] {
        let rows = if let run {
            try await autocommit("SELECT * FROM workers WHERE run_id = \(run) ORDER BY started_at")
        } else {
            try await autocommit("SELECT * FROM workers ORDER BY started_at")
        }
        return try rows.map(Self.workerRecord)
    }
}
