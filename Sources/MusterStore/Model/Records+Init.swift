import Foundation
import MusterCore

// Public initialisers for the records a `Store` hands out, so a store in another module
// (PostgresStore) can build them from its own rows. The SQLite store uses the memberwise ones.

extension RunRecord {
    public init(id: String, name: String, workflow: Workflow, specPath: String, root: String, concurrency: Int, simulate: Bool,
                status: RunStatus, cancelRequested: Bool, holder: ProcessIdentity?, heartbeatAt: Date?, holderEpoch: Int64,
                leaseUntil: Date?, createdAt: Date, finishedAt: Date?, baseCommit: String?) {
        self.id = id
        self.name = name
        self.workflow = workflow
        self.specPath = specPath
        self.root = root
        self.concurrency = concurrency
        self.simulate = simulate
        self.status = status
        self.cancelRequested = cancelRequested
        self.holder = holder
        self.heartbeatAt = heartbeatAt
        self.holderEpoch = holderEpoch
        self.leaseUntil = leaseUntil
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.baseCommit = baseCommit
    }
}

extension TaskRecord {
    /// `specJSON`: the task's spec as the store keeps it (JSON of `PlannedTask`), decoded on first use.
    public init(run: String, id: String, group: String, position: Int, idempotencyKey: String, specJSON: String, state: TaskState,
                attempt: Int, failures: Int, notBefore: Date?, holder: String?, leaseExpiresAt: Date?, pid: Int32?, pgid: Int32?,
                host: String?, exitCode: Int32?, error: String?, summary: String?, resultPath: String?, usage: TokenUsage?,
                costUSD: Double?, startedAt: Date?, finishedAt: Date?, git: TaskGitState?, parent: String?, waiting: Bool) {
        self.init(run: run, id: id, group: group, position: position, idempotencyKey: idempotencyKey,
                  specStorage: LazySpec(json: specJSON), state: state, attempt: attempt, failures: failures, notBefore: notBefore,
                  holder: holder, leaseExpiresAt: leaseExpiresAt, pid: pid, pgid: pgid, host: host, exitCode: exitCode,
                  error: error, summary: summary, resultPath: resultPath, usage: usage, costUSD: costUSD, startedAt: startedAt,
                  finishedAt: finishedAt, git: git, parent: parent, waiting: waiting)
    }
}

extension EventRecord {
    public init(sequence: Int64, run: String, task: String?, kind: String, message: String, at: Date) {
        self.sequence = sequence
        self.run = run
        self.task = task
        self.kind = kind
        self.message = message
        self.at = at
    }
}

extension ClaimedTask {
    public init(task: TaskRecord, orphan: StartedProcess?) {
        self.task = task
        self.orphan = orphan
    }
}
