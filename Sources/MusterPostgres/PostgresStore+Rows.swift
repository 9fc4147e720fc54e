import Foundation
import MusterCore
import MusterStore
import PostgresNIO

/// Rows to records, by column name: a row read by name survives the next `ALTER TABLE`.
extension PostgresStore {
    static func date(_ value: Double?) -> Date? { value.map(Date.init(timeIntervalSince1970:)) }

    static func runRecord(_ row: PostgresRandomAccessRow) throws -> RunRecord {
        let holder: String? = try row.get("holder")
        return RunRecord.restored(
            id: try row.get("id"), name: try row.get("name"),
            workflow: try JSONCoding.decode(Workflow.self, from: try row.get("workflow")),
            specPath: try row.get("spec_path"), root: try row.get("root"), concurrency: try row.get("concurrency"),
            simulate: try row.get("simulate"),
            status: RunStatus(rawValue: try row.get("status")) ?? .failed, cancelRequested: try row.get("cancel_requested"),
            holder: try holder.map { ProcessIdentity(id: $0, host: try row.get("holder_host", as: String?.self) ?? "?",
                                                     pid: Int32(try row.get("holder_pid", as: Int?.self) ?? 0)) },
            heartbeatAt: date(try row.get("heartbeat_at")), holderEpoch: try row.get("holder_epoch"),
            leaseUntil: date(try row.get("lease_until")), createdAt: Date(timeIntervalSince1970: try row.get("created_at")),
            finishedAt: date(try row.get("finished_at")), baseCommit: try row.get("base_commit"))
    }

    static func taskRecord(_ row: PostgresRandomAccessRow) throws -> TaskRecord {
        let stateText: String = try row.get("state")
        guard let state = TaskState(rawValue: stateText) else { throw StoreError.corrupt("task state \(stateText)") }
        let notBefore: Double = try row.get("not_before")
        let git: String? = try row.get("git")
        let usage = try row.get("has_usage", as: Bool.self)
            ? TokenUsage(input: try row.get("input_tokens"), output: try row.get("output_tokens"),
                         cacheRead: try row.get("cache_read_tokens"), cacheWrite: try row.get("cache_write_tokens"))
            : nil
        let facts: String? = try row.get("agent_facts")
        var record = try TaskRecord(
            run: try row.get("run_id"), id: try row.get("id"), group: try row.get("grp"), position: try row.get("position"),
            idempotencyKey: try row.get("idempotency_key"), specJSON: try row.get("spec"), state: state,
            attempt: try row.get("attempt"), failures: try row.get("failures"),
            notBefore: notBefore > 0 ? Date(timeIntervalSince1970: notBefore) : nil,
            holder: try row.get("holder"), leaseExpiresAt: date(try row.get("lease_expires_at")),
            pid: try int32(row, "pid"), pgid: try int32(row, "pgid"), host: try row.get("host"),
            exitCode: try int32(row, "exit_code"), error: try row.get("error"), summary: try row.get("summary"),
            resultPath: try row.get("result_path"), usage: usage, costUSD: try row.get("cost_usd"),
            startedAt: date(try row.get("started_at")), finishedAt: date(try row.get("finished_at")),
            git: try git.map { try JSONCoding.decode(TaskGitState.self, from: $0) }, parent: try row.get("parent"),
            waiting: try row.get("waiting"))
        record.agentFacts = facts.flatMap { try? JSONCoding.decode(AgentFacts.self, from: $0) }
        return record
    }

    static func int32(_ row: PostgresRandomAccessRow, _ column: String) throws -> Int32? {
        try row.get(column, as: Int?.self).map { Int32(truncatingIfNeeded: $0) }
    }

    static func lockRecord(_ row: PostgresRandomAccessRow) throws -> LockRecord {
        LockRecord(path: try row.get("path"), holder: try row.get("holder"), host: try row.get("holder_host"),
                   pid: Int32(truncatingIfNeeded: try row.get("holder_pid", as: Int.self)), run: try row.get("run_id"),
                   task: try row.get("task_id"), acquiredAt: Date(timeIntervalSince1970: try row.get("acquired_at")),
                   expiresAt: Date(timeIntervalSince1970: try row.get("expires_at")))
    }

    static func messageRecord(_ row: PostgresRandomAccessRow) throws -> MessageRecord {
        MessageRecord(id: try row.get("id"), run: try row.get("run_id"), recipient: try row.get("recipient"),
                      sender: try row.get("sender"), body: try row.get("body"),
                      state: MessageState(rawValue: try row.get("state")) ?? .waiting, attempt: try row.get("attempt"),
                      holder: try row.get("holder"), leaseExpiresAt: date(try row.get("lease_expires_at")),
                      createdAt: Date(timeIntervalSince1970: try row.get("created_at")),
                      claimedAt: date(try row.get("claimed_at")), ackedAt: date(try row.get("acked_at")))
    }

    static func workerRecord(_ row: PostgresRandomAccessRow) throws -> WorkerRecord {
        WorkerRecord(id: try row.get("id"), run: try row.get("run_id"), role: try row.get("role"), host: try row.get("host"),
                     pid: Int32(truncatingIfNeeded: try row.get("pid", as: Int.self)), task: try row.get("task_id"),
                     agent: try row.get("agent"), startedAt: Date(timeIntervalSince1970: try row.get("started_at")),
                     heartbeatAt: Date(timeIntervalSince1970: try row.get("heartbeat_at")),
                     labels: try row.get("labels", as: [String]?.self))
    }
}

/// JSON columns: compact, sorted keys so equal values store equal text (as the SQLite store writes them).
enum JSONCoding {
    static func encodeString<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
