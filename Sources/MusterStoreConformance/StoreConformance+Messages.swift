import Foundation
import MusterCore
import MusterStore

/// Message-claim behaviour every `Store` must show (issue 6, part 4). Same style as `all`: each check
/// gets a fresh, empty store.
extension StoreConformance {
    public static let messageChecks: [(name: String, check: Check)] = [
        ("messagesAreDeliveredExactlyOnceToConcurrentClaimers", messagesAreDeliveredExactlyOnceToConcurrentClaimers),
        ("unacknowledgedMessageIsRedeliveredAfterLease", unacknowledgedMessageIsRedeliveredAfterLease),
        ("acknowledgedMessageIsNeverRedelivered", acknowledgedMessageIsNeverRedelivered),
        ("onlyTheHolderCanAcknowledge", onlyTheHolderCanAcknowledge),
        ("claimTokenAcknowledgesOnlyItsDelivery", claimTokenAcknowledgesOnlyItsDelivery),
        ("unknownRecipientIsRefused", unknownRecipientIsRefused),
        ("messagesGoOnlyToTheirRecipient", messagesGoOnlyToTheirRecipient),
    ]

    /// A claim token acknowledges its delivery whoever presents it; a token of an earlier delivery
    /// (whose lease lapsed and which went to another claimer) acknowledges nothing.
    public static let claimTokenAcknowledgesOnlyItsDelivery: Check = { store in
        try await messageRun(store)
        _ = try await store.sendMessage(run: "r1", to: "worker", body: "one", from: "lead", now: t0)
        guard let first = try await store.claimMessage(run: "r1", recipient: "worker", holder: "shell-1", leaseSeconds: 10, now: t0),
              let token = MessageRecord.parseClaimToken(first.claimToken) else { throw ConformanceFailure("first claim") }
        try expect(token.attempt == 1, "token \(first.claimToken)")
        let second = try await store.claimMessage(run: "r1", recipient: "worker", holder: "shell-2", leaseSeconds: 10, now: t0.addingTimeInterval(11))
        try expect(second?.attempt == 2, "redelivery after the lease")
        try expect(!(try await store.ackMessage(id: token.id, attempt: token.attempt, now: t0.addingTimeInterval(12))),
                   "a stale claim token acknowledged a later delivery")
        try expect(try await store.ackMessage(id: token.id, attempt: 2, now: t0.addingTimeInterval(12)), "the current token was refused")
        try expect(!(try await store.ackMessage(id: token.id, attempt: 2, now: t0.addingTimeInterval(13))), "acknowledged twice")
        try expect(try await store.claimMessage(run: "r1", recipient: "worker", holder: "shell-3", leaseSeconds: 10,
                                                now: t0.addingTimeInterval(60)) == nil, "an acknowledged message came back")
    }

    static func messageRun(_ store: any Store) async throws {
        try await makeRun(store, [task("lead"), task("worker")])
    }

    /// 16 claimers in one process race over 10,000 messages: each is claimed once, acked once, none lost.
    public static let messagesAreDeliveredExactlyOnceToConcurrentClaimers: Check = { store in
        try await messageRun(store)
        let total = 10_000, claimers = 16
        for n in 0..<total {
            _ = try await store.sendMessage(run: "r1", to: "role:work", body: "job \(n)", from: "lead", now: t0)
        }
        let perClaimer = try await withThrowingTaskGroup(of: [String].self) { group in
            for index in 0..<claimers {
                group.addTask {
                    var bodies: [String] = []
                    while let message = try await store.claimMessage(run: "r1", recipient: "role:work", holder: "c\(index)",
                                                                     leaseSeconds: 600, now: t0) {
                        try expect(message.holder == "c\(index)" && message.attempt == 1,
                                   "message \(message.id) delivered as \(String(describing: message.holder)) attempt \(message.attempt)")
                        bodies.append(message.body)
                        try expect(try await store.ackMessage(id: message.id, holder: "c\(index)", now: t0),
                                   "holder c\(index) could not ack message \(message.id)")
                    }
                    return bodies
                }
            }
            var all: [[String]] = []
            for try await bodies in group { all.append(bodies) }
            return all
        }
        let bodies = perClaimer.flatMap { $0 }
        try expect(bodies.count == total, "\(bodies.count) deliveries for \(total) messages")
        try expect(Set(bodies) == Set((0..<total).map { "job \($0)" }), "some messages were delivered twice or lost")
        let stored = try await store.messages(run: "r1", recipient: "role:work")
        try expect(stored.count == total && stored.allSatisfy { $0.state == .acked && $0.attempt == 1 },
                   "store states: \(Dictionary(grouping: stored, by: \.state).mapValues(\.count))")
        let events = try await store.events(run: "r1", after: 0, limit: 3 * total)
        try expect(events.filter { $0.kind == "message.sent" }.count == total, "message.sent events")
        try expect(events.filter { $0.kind == "message.acked" }.count == total, "message.acked events")
    }

    public static let unacknowledgedMessageIsRedeliveredAfterLease: Check = { store in
        try await messageRun(store)
        let sent = try await store.sendMessage(run: "r1", to: "worker", body: "review x.swift", from: "lead", now: t0)
        try expect(sent.state == .waiting && sent.attempt == 0 && sent.recipient == "worker" && sent.sender == "lead",
                   "sent message read back as \(sent)")
        let first = try await store.claimMessage(run: "r1", recipient: "worker", holder: "a", leaseSeconds: 10, now: t0)
        try expect(first?.id == sent.id && first?.attempt == 1 && first?.state == .claimed, "first claim: \(String(describing: first))")
        let early = try await store.claimMessage(run: "r1", recipient: "worker", holder: "b", leaseSeconds: 10,
                                                 now: t0.addingTimeInterval(5))
        try expect(early == nil, "a message under a live lease was delivered again: \(String(describing: early))")
        let again = try await store.claimMessage(run: "r1", recipient: "worker", holder: "b", leaseSeconds: 10,
                                                 now: t0.addingTimeInterval(11))
        try expect(again?.id == sent.id && again?.attempt == 2 && again?.holder == "b",
                   "an expired, unacknowledged message was not redelivered: \(String(describing: again))")
        try expect(try await store.ackMessage(id: sent.id, holder: "a", now: t0.addingTimeInterval(12)) == false,
                   "the holder whose lease lapsed acknowledged a message redelivered to another")
        try expect(try await store.ackMessage(id: sent.id, holder: "b", now: t0.addingTimeInterval(12)), "the new holder could not ack")
    }

    public static let acknowledgedMessageIsNeverRedelivered: Check = { store in
        try await messageRun(store)
        for n in 0..<3 { _ = try await store.sendMessage(run: "r1", to: "role:audit", body: "m\(n)", from: nil, now: t0) }
        var seen: [String] = []
        while let message = try await store.claimMessage(run: "r1", recipient: "role:audit", holder: "a", leaseSeconds: 1, now: t0) {
            seen.append(message.body)
            try expect(try await store.ackMessage(id: message.id, holder: "a", now: t0), "ack \(message.id)")
        }
        try expect(seen == ["m0", "m1", "m2"], "delivered oldest first, once each: \(seen)")
        for later: Double in [2, 3_600, 86_400 * 30] {
            let again = try await store.claimMessage(run: "r1", recipient: "role:audit", holder: "b", leaseSeconds: 1,
                                                     now: t0.addingTimeInterval(later))
            try expect(again == nil, "an acknowledged message came back after \(later)s: \(String(describing: again))")
        }
        let stored = try await store.messages(run: "r1", recipient: nil)
        try expect(stored.allSatisfy { $0.state == .acked && $0.ackedAt != nil }, "stored: \(stored.map(\.state))")
        try expect(try await store.ackMessage(id: stored[0].id, holder: "a", now: t0) == false, "a message was acknowledged twice")
    }

    public static let onlyTheHolderCanAcknowledge: Check = { store in
        try await messageRun(store)
        let sent = try await store.sendMessage(run: "r1", to: "lead", body: "done", from: "worker", now: t0)
        try expect(try await store.ackMessage(id: sent.id, holder: "a", now: t0) == false, "an unclaimed message was acknowledged")
        _ = try await store.claimMessage(run: "r1", recipient: "lead", holder: "a", leaseSeconds: 60, now: t0)
        try expect(try await store.ackMessage(id: sent.id, holder: "intruder", now: t0) == false, "a non-holder acknowledged")
        try expect(try await store.ackMessage(id: 999_999, holder: "a", now: t0) == false, "an unknown message was acknowledged")
        try expect(try await store.messages(run: "r1", recipient: "lead").first?.state == .claimed, "a refused ack changed the message")
        try expect(try await store.ackMessage(id: sent.id, holder: "a", now: t0), "the holder could not ack")
    }

    public static let unknownRecipientIsRefused: Check = { store in
        try await messageRun(store)
        for recipient in ["nobody", "", "role:", "Lead", "role:has space"] {
            do {
                _ = try await store.sendMessage(run: "r1", to: recipient, body: "hi", from: nil, now: t0)
                throw ConformanceFailure("a message to \"\(recipient)\" was accepted")
            } catch let error as MessageError {
                try expect(error == .unknownRecipient(run: "r1", recipient: recipient), "wrong error for \(recipient): \(error)")
                try expect(error.description.contains("role:NAME"), "unclear error: \(error)")
            }
        }
        do {
            _ = try await store.sendMessage(run: "no-such-run", to: "lead", body: "hi", from: nil, now: t0)
            throw ConformanceFailure("a message to an unknown run was accepted")
        } catch is StoreError {}
        do {
            _ = try await store.sendMessage(run: "r1", to: "lead", body: "", from: nil, now: t0)
            throw ConformanceFailure("an empty message was accepted")
        } catch let error as MessageError { try expect(error == .emptyBody, "\(error)") }
        do {
            _ = try await store.sendMessage(run: "r1", to: "lead", body: String(repeating: "x", count: MessageError.bodyLimit + 1),
                                            from: nil, now: t0)
            throw ConformanceFailure("an oversize message was accepted")
        } catch is MessageError {}
        try expect(try await store.messages(run: "r1", recipient: nil).isEmpty, "refused messages were stored")
        try expect(try await store.events(run: "r1", after: 0, limit: 100).allSatisfy { $0.kind != "message.sent" },
                   "refused messages were logged as sent")
    }

    public static let messagesGoOnlyToTheirRecipient: Check = { store in
        try await messageRun(store)
        try await makeRun(store, [task("lead")], id: "r2")
        _ = try await store.sendMessage(run: "r1", to: "role:a", body: "for a", from: nil, now: t0)
        _ = try await store.sendMessage(run: "r1", to: "worker", body: "for worker", from: "lead", now: t0)
        try expect(try await store.claimMessage(run: "r1", recipient: "role:b", holder: "x", leaseSeconds: 60, now: t0) == nil,
                   "role:b got role:a's message")
        try expect(try await store.claimMessage(run: "r1", recipient: "lead", holder: "x", leaseSeconds: 60, now: t0) == nil,
                   "lead got worker's message")
        try expect(try await store.claimMessage(run: "r2", recipient: "role:a", holder: "x", leaseSeconds: 60, now: t0) == nil,
                   "another run's claimer got the message")
        try expect(try await store.claimMessage(run: "r1", recipient: "worker", holder: "x", leaseSeconds: 60, now: t0)?.body == "for worker",
                   "worker did not get its message")
        try expect(try await store.messages(run: "r1", recipient: nil).map(\.body) == ["for a", "for worker"], "listing")
        try expect(try await store.messages(run: "r2", recipient: nil).isEmpty, "listing of another run")
    }
}
