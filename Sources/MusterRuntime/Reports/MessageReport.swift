import Foundation
import MusterStore

/// One message as `muster msg send|claim|list --json` shows it.
public struct MessageReport: Codable, Sendable {
    public var id: Int64
    /// `ID.ATTEMPT`: names this delivery, for `muster msg ack`.
    public var token, run, to: String
    @Nullable public var from: String?
    public var body, state: String
    public var attempt: Int
    @Nullable public var holder: String?
    @Nullable public var leaseExpires: String?
    public var created: String

    enum CodingKeys: String, CodingKey {
        case id, token, run, to, from, body, state, attempt, holder, leaseExpires = "lease_expires", created
    }

    public init(_ message: MessageRecord) {
        id = message.id
        token = message.claimToken
        run = message.run
        to = message.recipient
        from = message.sender
        body = message.body
        state = message.state.rawValue
        attempt = message.attempt
        holder = message.holder
        leaseExpires = message.leaseExpiresAt.map(LockManager.iso)
        created = LockManager.iso(message.createdAt)
    }
}

/// `muster msg ack --json`: whether the delivery was acknowledged; `token` when acked by claim
/// token, `holder` when acked by message id.
public struct MessageAckReport: Codable, Sendable {
    public var acked: Bool
    public var id: Int64
    public var token: String?
    public var holder: String?

    public init(acked: Bool, id: Int64, token: String? = nil, holder: String? = nil) {
        self.acked = acked
        self.id = id
        self.token = token
        self.holder = holder
    }
}
