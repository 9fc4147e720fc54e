import Foundation
import MusterStore
import PostgresNIO

/// Messages between tasks. A claim is one `UPDATE … FOR UPDATE SKIP LOCKED … RETURNING`, so two
/// claimers (in any process, on any host) never take the same delivery. Sends and acknowledgements
/// write their event in the same statement, after taking the run's lock in its first step
/// (`runLock`), so they stay one round trip and the run's events keep commit order.
extension PostgresStore {
    public func sendMessage(run: String, to recipient: String, body: String, from sender: String?, now: Date) async throws -> MessageRecord {
        guard !body.isEmpty else { throw MessageError.emptyBody }
        let bytes = body.utf8.count
        guard bytes <= MessageError.bodyLimit else { throw MessageError.bodyTooLarge(bytes: bytes, limit: MessageError.bodyLimit) }
        let isRole = recipient.hasPrefix(MessageError.rolePrefix) && recipient.count > MessageError.rolePrefix.count
            && !recipient.contains(where: { $0.isWhitespace || $0.isNewline })
        let eventTask: String? = isRole ? nil : recipient
        let suffix = sender.map { " from \($0)" } ?? ""
        let t = now.timeIntervalSince1970
        let rows = try await autocommit("""
            WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended(\("muster:run:" + run), 0)) AS locked),
            r AS (SELECT id FROM runs WHERE id = \(run) AND EXISTS (SELECT 1 FROM l)),
            m AS (INSERT INTO messages (run_id, recipient, sender, body, created_at)
                  SELECT r.id, \(recipient), \(sender), \(body), \(t) FROM r
                  WHERE \(isRole) OR EXISTS (SELECT 1 FROM tasks WHERE run_id = r.id AND id = \(recipient))
                  RETURNING *),
            e AS (INSERT INTO events (run_id, task_id, kind, message, at)
                  SELECT m.run_id, \(eventTask), 'message.sent', 'message ' || m.id || ' to ' || m.recipient || \(suffix), \(t) FROM m)
            SELECT * FROM m
            """)
        if let row = rows.first { return try Self.messageRecord(row) }
        guard try await self.run(run) != nil else { throw StoreError.unknownRun(run) }
        throw MessageError.unknownRecipient(run: run, recipient: recipient)
    }

    public func claimMessage(run: String, recipient: String, holder: String, leaseSeconds: Double, now: Date) async throws -> MessageRecord? {
        let t = now.timeIntervalSince1970
        return try await autocommit("""
            UPDATE messages SET state = 'claimed', holder = \(holder), lease_expires_at = \(t + leaseSeconds),
                attempt = attempt + 1, claimed_at = \(t)
            WHERE id = (SELECT id FROM messages
                        WHERE run_id = \(run) AND recipient = \(recipient) AND state <> 'acked'
                          AND (state = 'waiting' OR lease_expires_at <= \(t))
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING *
            """).first.map(Self.messageRecord)
    }

    public func ackMessage(id: Int64, holder: String, now: Date) async throws -> Bool {
        let t = now.timeIntervalSince1970
        return try await autocommit("""
            WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('muster:run:' || run_id, 0)) AS locked
                       FROM messages WHERE id = \(id)),
            u AS (UPDATE messages SET state = 'acked', acked_at = \(t), lease_expires_at = NULL
                  WHERE id = \(id) AND holder = \(holder) AND state = 'claimed' AND EXISTS (SELECT 1 FROM l)
                  RETURNING run_id, recipient, holder),
            e AS (INSERT INTO events (run_id, task_id, kind, message, at)
                  SELECT run_id, CASE WHEN recipient LIKE 'role:%' THEN NULL ELSE recipient END, 'message.acked',
                         \("message \(id) acknowledged by \(holder)"), \(t) FROM u)
            SELECT * FROM u
            """).count == 1
    }

    public func ackMessage(id: Int64, attempt: Int, now: Date) async throws -> Bool {
        let t = now.timeIntervalSince1970
        return try await autocommit("""
            WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('muster:run:' || run_id, 0)) AS locked
                       FROM messages WHERE id = \(id)),
            u AS (UPDATE messages SET state = 'acked', acked_at = \(t), lease_expires_at = NULL
                  WHERE id = \(id) AND attempt = \(attempt) AND state = 'claimed' AND EXISTS (SELECT 1 FROM l)
                  RETURNING run_id, recipient, holder),
            e AS (INSERT INTO events (run_id, task_id, kind, message, at)
                  SELECT run_id, CASE WHEN recipient LIKE 'role:%' THEN NULL ELSE recipient END, 'message.acked',
                         \("message \(id) acknowledged with the claim token of ") || COALESCE(holder, '?'), \(t) FROM u)
            SELECT * FROM u
            """).count == 1
    }

    public func messages(run: String, recipient: String?) async throws -> [MessageRecord] {
        let rows = if let recipient {
            try await autocommit("SELECT * FROM messages WHERE run_id = \(run) AND recipient = \(recipient) ORDER BY id")
        } else {
            try await autocommit("SELECT * FROM messages WHERE run_id = \(run) ORDER BY id")
        }
        return try rows.map(Self.messageRecord)
    }
}
