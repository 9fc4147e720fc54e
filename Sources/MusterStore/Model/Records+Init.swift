import Foundation
import MusterCore

// Public factories for the records a `Store` hands out, so a store in another module
// (PostgresStore) can build them from its own rows. The SQLite store uses the memberwise
// initialisers, which are internal (and cannot be redeclared public from an extension).

extension RunRecord {
    public static func restored(id: String, name: String, workflow: Workflow, specPath: String, root: String, concurrency: Int, simulate: Bool,
                status: RunStatus, cancelRequested: Bool, holder: ProcessIdentity?, heartbeatAt: Date?, holderEpoch: Int64,
                leaseUntil: Date?, createdAt: Date, finishedAt: Date?, baseCommit: String?) -> RunRecord {
        RunRecord(id: id, name: name, workflow: workflow, specPath: specPath, root: root, concurrency: concurrency,
                  simulate: simulate, status: status, cancelRequested: cancelRequested, holder: holder, heartbeatAt: heartbeatAt,
                  holderEpoch: holderEpoch, leaseUntil: leaseUntil, createdAt: createdAt, finishedAt: finishedAt, baseCommit: baseCommit)
    }
}

extension TaskRecord {
    /// `specJSON`: the task's spec as the store keeps it (JSON of `PlannedTask`); one that does not
    /// decode is `StoreError.corrupt`, as in the SQLite store.
    public init(run: String, id: String, group: String, position: Int, idempotencyKey: String, specJSON: String, state: TaskState,
                attempt: Int, failures: Int, notBefore: Date?, holder: String?, leaseExpiresAt: Date?, pid: Int32?, pgid: Int32?,
                host: String?, exitCode: Int32?, error: String?, summary: String?, resultPath: String?, usage: TokenUsage?,
                costUSD: Double?, startedAt: Date?, finishedAt: Date?, git: TaskGitState?, parent: String?, waiting: Bool) throws {
        self.init(run: run, id: id, group: group, position: position, idempotencyKey: idempotencyKey,
                  spec: try StoredSpec.decode(specJSON, task: id), state: state, attempt: attempt, failures: failures, notBefore: notBefore,
                  holder: holder, leaseExpiresAt: leaseExpiresAt, pid: pid, pgid: pgid, host: host, exitCode: exitCode,
                  error: error, summary: summary, resultPath: resultPath, usage: usage, costUSD: costUSD, startedAt: startedAt,
                  finishedAt: finishedAt, git: git, parent: parent, waiting: waiting)
    }
}

extension EventRecord {
    public static func restored(sequence: Int64, run: String, task: String?, kind: String, message: String, at: Date) -> EventRecord {
        EventRecord(sequence: sequence, run: run, task: task, kind: kind, message: message, at: at)
    }
}

extension ClaimedTask {
    public static func restored(task: TaskRecord, orphan: StartedProcess?) -> ClaimedTask {
        ClaimedTask(task: task, orphan: orphan)
    }
}
