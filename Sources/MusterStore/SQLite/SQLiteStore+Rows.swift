import Foundation
import GRDB
import MusterCore

extension SQLiteStore {
    static func date(_ value: Double?) -> Date? { value.map { Date(timeIntervalSince1970: $0) } }

    static func runRecord(_ row: Row) throws -> RunRecord {
        let holder: String? = row["holder"]
        return RunRecord(
            id: row["id"], name: row["name"], workflow: try JSONCoding.decode(Workflow.self, from: row["workflow"]),
            specPath: row["spec_path"], root: row["root"], concurrency: row["concurrency"], simulate: row["simulate"],
            status: RunStatus(rawValue: row["status"]) ?? .failed, cancelRequested: row["cancel_requested"],
            holder: holder.map { ProcessIdentity(id: $0, host: row["holder_host"] ?? "?", pid: row["holder_pid"] ?? 0) },
            heartbeatAt: date(row["heartbeat_at"]), holderEpoch: row["holder_epoch"], leaseUntil: date(row["lease_until"]),
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            finishedAt: date(row["finished_at"]), baseCommit: row["base_commit"])
    }

    /// Reads a `SELECT *` / `RETURNING *` row of `tasks` by position: name lookups cost more than
    /// the claim itself on the hot path. The order is the table's (Migrations.swift); migrations
    /// only ever append columns, so these positions stay valid.
    static func taskRecord(_ row: Row) throws -> TaskRecord {
        guard let state = TaskState(rawValue: row[6]) else { throw StoreError.corrupt("task state \(row[6] ?? "?")") }
        let hasUsage: Bool = row[19]
        let notBefore: Double = row[9]
        let git: String? = row[27]
        let facts: String? = row["agent_facts"]
        var record = TaskRecord(
            run: row[0], id: row[1], group: row[2], position: row[3], idempotencyKey: row[4],
            spec: try StoredSpec.decode(row[5], task: row[1]), state: state, attempt: row[7], failures: row[8],
            notBefore: notBefore > 0 ? Date(timeIntervalSince1970: notBefore) : nil,
            holder: row[10], leaseExpiresAt: date(row[11]), pid: row[12], pgid: row[13], host: row[14],
            exitCode: row[15], error: row[16], summary: row[17], resultPath: row[18],
            usage: hasUsage ? TokenUsage(input: row[20], output: row[21], cacheRead: row[22], cacheWrite: row[23]) : nil,
            costUSD: row[24], startedAt: date(row[25]), finishedAt: date(row[26]),
            git: try git.map { try JSONCoding.decode(TaskGitState.self, from: $0) }, parent: row[28], waiting: row[32])
        record.agentFacts = facts.flatMap { try? JSONCoding.decode(AgentFacts.self, from: $0) }
        return record
    }

    static func lockRecord(_ row: Row) -> LockRecord {
        LockRecord(path: row["path"], holder: row["holder"], host: row["holder_host"], pid: row["holder_pid"],
                   run: row["run_id"], task: row["task_id"], acquiredAt: Date(timeIntervalSince1970: row["acquired_at"]),
                   expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }
}

/// JSON columns: compact, sorted keys so equal values store equal text.
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

/// A stable key per task within a run: a task whose key succeeded is never run again, and an
/// identical task added twice (a repeated spawn) folds into the first.
public enum IdempotencyKey {
    public static func make(run: String, task: PlannedTask) -> String {
        var text = "\(run)\u{0}\(task.id)\u{0}\(task.agent)\u{0}\(task.prompt ?? "")\u{0}"
        text += (task.command?.argv ?? []).joined(separator: "\u{1}")
        text += "\u{0}" + task.owns.joined(separator: "\u{1}")
        return digest(text)
    }

    /// 128 bits from two FNV-1a passes with different seeds: stable across processes and versions.
    static func digest(_ text: String) -> String {
        hex(StableHash.fnv1a(text)) + hex(StableHash.fnv1a(text, seed: 0x8422_2325_cbf2_9ce4))
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
