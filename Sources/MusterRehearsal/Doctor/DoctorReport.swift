import Foundation

/// What `muster doctor` found: the tools muster needs, and for each installed agent CLI a
/// rehearsal against the model stub.
public struct DoctorReport: Codable, Sendable {
    public var checks: [DoctorCheck]
    public var agents: [AgentDoctor]
    /// Every required check passed (a missing optional tool, or an agent check that could not apply, does not count).
    public var ok: Bool { checks.allSatisfy { $0.status != .failed } && agents.allSatisfy { $0.checks.allSatisfy { $0.status != .failed } } }

    enum CodingKeys: String, CodingKey { case checks, agents, ok }

    public init(checks: [DoctorCheck], agents: [AgentDoctor]) {
        self.checks = checks
        self.agents = agents
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checks, forKey: .checks)
        try c.encode(agents, forKey: .agents)
        try c.encode(ok, forKey: .ok)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checks = try c.decode([DoctorCheck].self, forKey: .checks)
        agents = try c.decode([AgentDoctor].self, forKey: .agents)
    }
}

public struct DoctorCheck: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case passed, failed, warning, skipped }
    public var name: String
    public var status: Status
    public var detail: String

    public init(_ name: String, _ status: Status, _ detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

public struct AgentDoctor: Codable, Sendable {
    public var name: String
    public var path: String?
    public var version: String?
    /// headless, writes_inside, outside_write, usage, rate_limit, muster_commands.
    public var checks: [DoctorCheck]
    /// From starting the CLI to its first request to the stub.
    public var startupSeconds: Double?
    /// The CLI's peak resident memory (ru_maxrss), MiB.
    public var peakMemoryMiB: Double?

    enum CodingKeys: String, CodingKey {
        case name, path, version, checks
        case startupSeconds = "startup_seconds"
        case peakMemoryMiB = "peak_memory_mib"
    }
}
