import Foundation

/// Where a message stands: waiting for a claimer, claimed under a lease, or acknowledged (done for good).
public enum MessageState: String, Sendable, Codable, Equatable {
    case waiting
    case claimed
    case acked
}

/// One message between tasks: addressed to a task of the run (its id) or to a role (`role:NAME`),
/// delivered to exactly one claimer at a time under a lease, never again once acknowledged.
public struct MessageRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var run: String
    /// A task id of the run, or `role:NAME`.
    public var recipient: String
    /// Who sent it (a task id, or whatever the caller named), if known.
    public var sender: String?
    public var body: String
    public var state: MessageState
    /// How many times it was delivered (claimed); above 1 means a lease lapsed and it came back.
    public var attempt: Int
    public var holder: String?
    public var leaseExpiresAt: Date?
    public var createdAt: Date
    public var claimedAt: Date?
    public var ackedAt: Date?

    /// The claim token `muster msg claim` prints: this delivery (id and attempt), so whoever holds the
    /// token may acknowledge it from any process, and a token of an earlier delivery acknowledges nothing.
    public var claimToken: String { "\(id).\(attempt)" }

    /// `ID.ATTEMPT` from `claimToken`; nil for anything else.
    public static func parseClaimToken(_ text: String) -> (id: Int64, attempt: Int)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, let attempt = Int(parts[1]), attempt > 0 else { return nil }
        return (id, attempt)
    }

    public init(id: Int64, run: String, recipient: String, sender: String?, body: String, state: MessageState, attempt: Int,
                holder: String?, leaseExpiresAt: Date?, createdAt: Date, claimedAt: Date?, ackedAt: Date?) {
        self.id = id
        self.run = run
        self.recipient = recipient
        self.sender = sender
        self.body = body
        self.state = state
        self.attempt = attempt
        self.holder = holder
        self.leaseExpiresAt = leaseExpiresAt
        self.createdAt = createdAt
        self.claimedAt = claimedAt
        self.ackedAt = ackedAt
    }
}

/// Messages refused by the store, each with a line the user can act on.
public enum MessageError: Error, CustomStringConvertible, Sendable, Equatable {
    case unknownRecipient(run: String, recipient: String)
    case emptyBody
    case bodyTooLarge(bytes: Int, limit: Int)

    /// Bodies are hand-offs ("file X is ready"), not payloads: large outputs belong on disk.
    public static let bodyLimit = 64 * 1024
    public static let rolePrefix = "role:"

    public var description: String {
        switch self {
        case .unknownRecipient(let run, let recipient):
            "unknown recipient \(recipient): run \(run) has no such task; address a task by its id or a role as role:NAME"
        case .emptyBody: "the message body is empty"
        case .bodyTooLarge(let bytes, let limit):
            "the message body is \(bytes) bytes, over the \(limit)-byte limit: write large data to a file and send its path"
        }
    }
}
