import Foundation

public struct NewEvent: Sendable {
    public var run: String
    public var task: String?
    public var kind: String
    public var message: String
    public var at: Date
    public init(run: String, task: String? = nil, kind: String, message: String, at: Date) {
        self.run = run
        self.task = task
        self.kind = kind
        self.message = message
        self.at = at
    }
}

/// One line of a run's append-only event log.
public struct EventRecord: Sendable, Codable, Equatable {
    public var sequence: Int64
    public var run: String
    public var task: String?
    public var kind: String
    public var message: String
    public var at: Date
}

public struct WorkerRecord: Sendable, Codable, Equatable {
    public var id: String
    public var run: String
    public var role: String
    public var host: String
    public var pid: Int32
    public var task: String?
    public var agent: String?
    public var startedAt: Date
    public var heartbeatAt: Date
    /// The labels it claims with (`muster worker --labels`), sorted; nil: none.
    public var labels: [String]?
    public init(id: String, run: String, role: String, host: String, pid: Int32, task: String? = nil, agent: String? = nil,
                startedAt: Date, heartbeatAt: Date, labels: [String]? = nil) {
        self.labels = labels
        self.id = id
        self.run = run
        self.role = role
        self.host = host
        self.pid = pid
        self.task = task
        self.agent = agent
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}
