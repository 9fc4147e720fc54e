import Foundation
import MusterCore
import MusterStore

/// The agents one run may start: the built-in adapters and the run's own custom profiles (its
/// workflow's `agents:`, muster.toml's included). A value carried with the run, so two runs in one
/// process never see each other's profiles and a library caller needs no registration step.
public struct AgentCatalog: Sendable {
    public var profiles: [String: AgentProfile]

    public init(profiles: [String: AgentProfile] = [:]) { self.profiles = profiles }

    /// The profiles stored with a run (so resume and spawned children start the same agents).
    public init(run: RunRecord) { self.init(profiles: run.workflow.agents ?? [:]) }

    public var names: [String] { (Agents.builtins.map(\.name) + profiles.keys).sorted() }

    public func profile(named name: String) -> AgentProfile? { profiles[name] }

    /// The built-in agent `name` builds on (`careful` → `claude`); a built-in is its own base.
    public func base(of name: String) -> String { profiles[name]?.base ?? name }

    public func adapter(named name: String) throws -> any AgentAdapter {
        if let profile = profiles[name] { return Agents.adapter(for: profile, profiles: profiles) }
        // Under --simulate every task runs on `sim`, which prints in the format of the task's own agent.
        if name == "sim" { return SimAgent(profiles: profiles) }
        guard let adapter = Agents.builtins.first(where: { $0.name == name }) else { throw AgentError.unknownAgent(name) }
        return adapter
    }
}

extension Agents {
    static func adapter(for profile: AgentProfile, profiles: [String: AgentProfile]) -> any AgentAdapter {
        profile.base == "sim" ? SimAgent(name: profile.name, format: profile.output, profiles: profiles) : adapter(for: profile)
    }
}

extension RunRecord {
    /// The agents this run may start.
    public var agents: AgentCatalog { AgentCatalog(run: self) }
}

extension Agents {
    /// A built-in agent by name (a run's custom profiles are in its `AgentCatalog`).
    public static func adapter(named name: String) throws -> any AgentAdapter { try AgentCatalog().adapter(named: name) }
}
