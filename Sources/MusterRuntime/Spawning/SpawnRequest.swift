import Foundation
import MusterCore
import MusterStore

/// One child a running task asks for: from `muster spawn` flags, or one entry of
/// `$MUSTER_OUTBOX/spawn.json` (the same keys, in the spec's spelling).
public struct SpawnRequest: Sendable, Equatable {
    public var id: String?
    public var prompt: String?
    public var command: Command?
    public var agent: String?
    public var model: String?
    public var owns: [String] = []
    /// Ids of tasks that already exist in the run.
    public var needs: [String] = []
    public var env: [String: String] = [:]
    public var retries: Int?
    public var timeout: Duration?
    public var estimate: Estimate?
    /// Keys of the run's `limits:`/`resources:` it waits on (nil: the parent's).
    public var uses: [String]?
    /// Labels a claimer must all have to take the child (nil: the parent's; empty: anyone).
    public var runsOn: [String]?

    public init(id: String? = nil, prompt: String? = nil, command: Command? = nil, agent: String? = nil, model: String? = nil,
                owns: [String] = [], needs: [String] = [], env: [String: String] = [:], retries: Int? = nil,
                timeout: Duration? = nil, estimate: Estimate? = nil, uses: [String]? = nil) {
        self.uses = uses
        self.id = id
        self.prompt = prompt
        self.command = command
        self.agent = agent
        self.model = model
        self.owns = owns
        self.needs = needs
        self.env = env
        self.retries = retries
        self.timeout = timeout
        self.estimate = estimate
    }

    /// The planned child of `parent`: its agent (and that agent's model) and limits unless the request
    /// names others, its isolation, and the request's work. `limits`: the keys the run declares (nil:
    /// not checked here); `agents`: the run's. The Store then checks ownership, depth and needs.
    public func plannedTask(parent: PlannedTask, limits: Set<String>? = nil,
                            agents: AgentCatalog = AgentCatalog()) throws(SpawnRequestError) -> PlannedTask {
        let uses = Array(Set(uses ?? parent.uses)).sorted()
        if let limits, let unknown = uses.first(where: { !limits.contains($0) }) {
            let hint = Suggest.nearest(unknown, among: limits.sorted()).map { " (did you mean \($0)?)" } ?? ""
            throw .invalid("uses `\(unknown)`, which is not in the run's limits or resources\(hint)"
                           + (limits.isEmpty ? ": the workflow declares none" : "; declared: \(limits.sorted().joined(separator: ", "))"))
        }
        let agent = agent ?? parent.agent
        let known = agents.names
        guard known.contains(agent) else {
            let hint = Suggest.nearest(agent, among: known).map { " (did you mean \($0)?)" } ?? ""
            throw .invalid("unknown agent `\(agent)`\(hint); known: \(known.joined(separator: ", "))")
        }
        if let id { try SpawnRequest.checkID(id) }
        if agent == "shell" && command == nil {
            throw .invalid("a child on the shell agent needs a command (muster spawn … -- CMD ARGS, or \"command\" in spawn.json)")
        }
        if agent != "shell" && agent != "sim" && prompt == nil {
            throw .invalid("a child on agent \(agent) needs a prompt (--prompt TEXT, or \"prompt\" in spawn.json)")
        }
        if prompt != nil && command != nil { throw .invalid("give a child a prompt or a command, not both") }
        var child = PlannedTask(
            id: id ?? "", group: id ?? "", agent: agent,
            model: model ?? (agent == parent.agent ? parent.model : BuiltinAgents.defaultModel(for: agent)),
            prompt: prompt, command: command, owns: owns, env: env, timeout: timeout,
            retries: retries ?? 0, estimate: estimate, kind: owns.isEmpty ? .exploration : .implementation,
            after: needs, isolation: parent.isolation, uses: uses)
        // A model the child or its parent named is passed to the agent; a default only prices estimates.
        child.modelIsDefault = model == nil && (agent == parent.agent ? parent.modelIsDefault : true)
        child.allowDenials = parent.allowDenials
        // A child is confined like its parent: it cannot ask for a looser sandbox than it runs in.
        child.sandbox = parent.sandbox
        child.writable = parent.writable
        child.runsOn = Array(Set(runsOn ?? parent.runsOn)).sorted()
        return child
    }

    /// Refuses a child id that cannot be a component of its branch name (`muster/RUN/ID`), by git's
    /// rules for ref names (`git check-ref-format`), and anything beyond muster's simple names.
    public static func checkID(_ id: String) throws(SpawnRequestError) {
        if let problem = idProblem(id) {
            let shown = id.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
            throw .invalid("child id `\(shown)` \(problem): use letters, digits, `_`, `-` and `.`, starting with a letter (it names a git branch)")
        }
    }

    static func isValidID(_ id: String) -> Bool { idProblem(id) == nil }

    static func idProblem(_ id: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        guard let first = id.first else { return "is empty" }
        if id.count > 128 { return "is longer than 128 characters" }
        if id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "contains a control character" }
        if let bad = id.first(where: { !allowed.contains($0) }) { return "contains `\(bad)`, which a branch name cannot hold" }
        guard first.isLetter || first == "_" else { return "starts with `\(first)`" }
        if id.contains("..") { return "contains `..`" }
        if id.hasSuffix(".lock") { return "ends in `.lock`" }
        if id.hasSuffix(".") { return "ends in `.`" }
        return nil
    }
}

public enum SpawnRequestError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let text): text
        }
    }
}
