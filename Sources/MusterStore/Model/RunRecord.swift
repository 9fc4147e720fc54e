import Foundation
import MusterCore

public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, succeeded, failed, cancelled
    public var isFinal: Bool { self != .running }
}

/// Who a process is: stored with runs, leases and workers so a successor can tell a live holder from a dead one.
public struct ProcessIdentity: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int32
    public init(id: String, host: String, pid: Int32) {
        self.id = id
        self.host = host
        self.pid = pid
    }

    /// Whether the process still runs: nil when it is on another host (only its heartbeat can tell).
    public var isAliveHere: Bool? {
        guard host == ProcessInfo.processInfo.hostName else { return nil }
        return ProcessLiveness.isAlive(pid)
    }

    public static func current(role: String) -> ProcessIdentity {
        let host = ProcessInfo.processInfo.hostName
        let pid = ProcessInfo.processInfo.processIdentifier
        let nonce = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return ProcessIdentity(id: "\(role)@\(host):\(pid):\(nonce)", host: host, pid: pid)
    }
}

extension RunRecord {
    /// A run still marked running whose orchestrator is gone: nobody holds it, its holder's lease
    /// lapsed, or its holder was a process on this host that no longer lives. `muster resume` takes it over.
    public func isInterrupted(now: Date) -> Bool {
        guard status == .running else { return false }
        guard let holder else { return true }
        if holder.isAliveHere == false { return true }
        let until = leaseUntil ?? heartbeatAt.map { $0.addingTimeInterval(60) }
        return until.map { $0 < now } ?? false
    }
}

public struct NewRun: Sendable {
    public var id: String
    public var workflow: Workflow
    public var specPath: String
    public var root: String
    public var concurrency: Int
    public var simulate: Bool
    public var createdAt: Date
    /// The commit every task's worktree starts from (nil outside git).
    public var baseCommit: String?
    public init(id: String, workflow: Workflow, specPath: String, root: String, concurrency: Int, simulate: Bool, createdAt: Date,
                baseCommit: String? = nil) {
        self.baseCommit = baseCommit
        self.id = id
        self.workflow = workflow
        self.specPath = specPath
        self.root = root
        self.concurrency = concurrency
        self.simulate = simulate
        self.createdAt = createdAt
    }
}

public struct RunRecord: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var workflow: Workflow
    public var specPath: String
    public var root: String
    public var concurrency: Int
    public var simulate: Bool
    public var status: RunStatus
    public var cancelRequested: Bool
    public var holder: ProcessIdentity?
    public var heartbeatAt: Date?
    /// Take-overs so far (see `Store.acquireRun`); the current holder's fencing token.
    public var holderEpoch: Int64 = 0
    /// When the holder's lease lapses unless it renews; nil when nobody holds the run.
    public var leaseUntil: Date?
    public var createdAt: Date
    public var finishedAt: Date?
    public var baseCommit: String?
}

public struct TaskCounts: Sendable, Codable, Equatable {
    public var byState: [TaskState: Int]
    public var costUSD: Double
    /// Tasks whose cost is unknown (a model without a price, or output muster could not read).
    public var unknownCost: Int
    public var tokens: TokenUsage
    /// Running tasks blocked in `muster wait` for their children: their slots lend out to them.
    public var waiting = 0
    public init(byState: [TaskState: Int] = [:], costUSD: Double = 0, unknownCost: Int = 0, tokens: TokenUsage = TokenUsage()) {
        self.byState = byState
        self.costUSD = costUSD
        self.unknownCost = unknownCost
        self.tokens = tokens
    }
    public subscript(_ state: TaskState) -> Int { byState[state] ?? 0 }
    public var total: Int { byState.values.reduce(0, +) }
    public var finished: Int { TaskState.allCases.filter(\.isFinal).reduce(0) { $0 + self[$1] } }
    public var unfinished: Int { total - finished }
}
