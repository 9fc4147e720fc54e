import Foundation
import Synchronization

/// Who a conversation is: the task behind it, its working folder and `owns`, and its script.
/// muster registers one per task (`--rehearse`, `doctor`) and points the agent at
/// `<base>/c/<key>`, so every request says which task it serves; a request without a key is
/// the anonymous conversation, whose folder is learnt from the agent's own system prompt.
public struct StubConversation: Sendable {
    public var task: String?
    public var directory: String?
    public var owns: [String]
    public var script: StubScript?

    public init(task: String? = nil, directory: String? = nil, owns: [String] = [], script: StubScript? = nil) {
        self.task = task
        self.directory = directory
        self.owns = owns
        self.script = script
    }
}

/// What the stub did in one conversation: what tests and `doctor` compare with what muster parsed.
public struct StubLedgerEntry: Sendable, Codable, Equatable {
    /// Model requests (those offering tools, or any chat completion), failed ones included.
    public var requests = 0
    public var failures = 0
    public var answers = 0
    /// The usage of every answer sent, added up.
    public var usage = StubUsage()
    public var model: String?
    /// When the first request arrived (seconds since 1970), for start-up times.
    public var firstRequestAt: Double?

    enum CodingKeys: String, CodingKey {
        case requests, failures, answers, usage, model
        case firstRequestAt = "first_request_at"
    }
}

/// The conversations and their counters, shared by the event loop and whoever registers tasks.
final class ConversationBook: Sendable {
    struct State {
        var conversations: [String: StubConversation] = [:]
        var ledger: [String: StubLedgerEntry] = [:]
    }

    let state = Mutex(State())

    func register(_ key: String, _ conversation: StubConversation) {
        state.withLock { $0.conversations[key] = conversation }
    }

    func conversation(_ key: String?) -> StubConversation? {
        guard let key else { return nil }
        return state.withLock { $0.conversations[key] }
    }

    /// Counts a model request; returns how many this conversation has had, this one included.
    func countRequest(_ key: String) -> Int {
        state.withLock { s in
            var entry = s.ledger[key] ?? StubLedgerEntry()
            entry.requests += 1
            if entry.firstRequestAt == nil { entry.firstRequestAt = Date().timeIntervalSince1970 }
            s.ledger[key] = entry
            return entry.requests
        }
    }

    func recordFailure(_ key: String) {
        state.withLock { $0.ledger[key, default: StubLedgerEntry()].failures += 1 }
    }

    func recordAnswer(_ key: String, usage: StubUsage, model: String) {
        state.withLock { s in
            s.ledger[key, default: StubLedgerEntry()].answers += 1
            s.ledger[key, default: StubLedgerEntry()].usage = s.ledger[key, default: StubLedgerEntry()].usage + usage
            s.ledger[key, default: StubLedgerEntry()].model = model
        }
    }

    func ledger() -> [String: StubLedgerEntry] { state.withLock { $0.ledger } }
}
