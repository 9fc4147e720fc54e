import Foundation
import GRDB

/// Messages between tasks: a claim is one `UPDATE … RETURNING` inside a `BEGIN IMMEDIATE` transaction,
/// so two claimers (threads or processes) can never take the same delivery.
extension SQLiteStore {
    public func sendMessage(run: String, to recipient: String, body: String, from sender: String?, now: Date) async throws -> MessageRecord {
        guard !body.isEmpty else { throw MessageError.emptyBody }
        let bytes = body.utf8.count
        guard bytes <= MessageError.bodyLimit else { throw MessageError.bodyTooLarge(bytes: bytes, limit: MessageError.bodyLimit) }
        return try await write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM runs WHERE id = ?"), arguments: [run]) == true else {
                throw StoreError.unknownRun(run)
            }
            let isRole = recipient.hasPrefix(MessageError.rolePrefix) && recipient.count > MessageError.rolePrefix.count
                && !recipient.contains(where: { $0.isWhitespace || $0.isNewline })
            var isTask = false
            if !isRole {
                isTask = try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM tasks WHERE run_id = ? AND id = ?"),
                                           arguments: [run, recipient]) == true
            }
            guard isRole || isTask else { throw MessageError.unknownRecipient(run: run, recipient: recipient) }
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                INSERT INTO messages (run_id, recipient, sender, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *
                """), arguments: [run, recipient, sender, body, now.timeIntervalSince1970]) else {
                throw StoreError.corrupt("message insert returned nothing")
            }
            let message = Self.messageRecord(row)
            try Self.event(db, run: run, task: isTask ? recipient : nil, kind: "message.sent",
                           message: "message \(message.id) to \(recipient)\(sender.map { " from \($0)" } ?? "")", at: now)
            return message
        }
    }

    public func claimMessage(run: String, recipient: String, holder: String, leaseSeconds: Double, now: Date) async throws -> MessageRecord? {
        let t = now.timeIntervalSince1970
        return try await write { db in
            // `state != 'acked'` selects the partial index; a claimed message whose lease is live is skipped.
            try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE messages SET state = 'claimed', holder = ?4, lease_expires_at = ?5, attempt = attempt + 1, claimed_at = ?3
                WHERE id = (SELECT id FROM messages
                            WHERE run_id = ?1 AND recipient = ?2 AND state != 'acked'
                              AND (state = 'waiting' OR lease_expires_at <= ?3)
                            ORDER BY id LIMIT 1)
                RETURNING *
                """), arguments: [run, recipient, t, holder, t + leaseSeconds]).map(Self.messageRecord)
        }
    }

    public func ackMessage(id: Int64, holder: String, now: Date) async throws -> Bool {
        try await write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE messages SET state = 'acked', acked_at = ?3, lease_expires_at = NULL
                WHERE id = ?1 AND holder = ?2 AND state = 'claimed'
                RETURNING run_id, recipient
                """), arguments: [id, holder, now.timeIntervalSince1970]) else { return false }
            let recipient: String = row["recipient"]
            try Self.event(db, run: row["run_id"], task: recipient.hasPrefix(MessageError.rolePrefix) ? nil : recipient,
                           kind: "message.acked", message: "message \(id) acknowledged by \(holder)", at: now)
            return true
        }
    }

    public func ackMessage(id: Int64, attempt: Int, now: Date) async throws -> Bool {
        try await write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE messages SET state = 'acked', acked_at = ?3, lease_expires_at = NULL
                WHERE id = ?1 AND attempt = ?2 AND state = 'claimed'
                RETURNING run_id, recipient, holder
                """), arguments: [id, attempt, now.timeIntervalSince1970]) else { return false }
            let recipient: String = row["recipient"]
            let holder: String = row["holder"] ?? "?"
            try Self.event(db, run: row["run_id"], task: recipient.hasPrefix(MessageError.rolePrefix) ? nil : recipient,
                           kind: "message.acked", message: "message \(id) acknowledged with the claim token of \(holder)", at: now)
            return true
        }
    }

    public func messages(run: String, recipient: String?) async throws -> [MessageRecord] {
        try await read { db in
            let rows = if let recipient {
                try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE run_id = ? AND recipient = ? ORDER BY id",
                                 arguments: [run, recipient])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE run_id = ? ORDER BY id", arguments: [run])
            }
            return rows.map(Self.messageRecord)
        }
    }

    static func messageRecord(_ row: Row) -> MessageRecord {
        MessageRecord(id: row["id"], run: row["run_id"], recipient: row["recipient"], sender: row["sender"], body: row["body"],
                      state: MessageState(rawValue: row["state"]) ?? .waiting, attempt: row["attempt"], holder: row["holder"],
                      leaseExpiresAt: (row["lease_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                      createdAt: Date(timeIntervalSince1970: row["created_at"]),
                      claimedAt: (row["claimed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                      ackedAt: (row["acked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}
