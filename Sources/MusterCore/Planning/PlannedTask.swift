/// One runnable task after `foreach` expansion. Placeholders that only resolve at dispatch
/// (`{{needs.X.summaries}}`, `{{run.id}}`) are still in `prompt`/`command`.
public struct PlannedTask: Codable, Sendable, Equatable {
    public var id: String
    /// The spec task it came from; `needs` name groups, and a group is done when all its tasks are.
    public var group: String
    public var item: ItemValue?
    public var agent: String
    public var model: String?
    public var prompt: String?
    public var command: Command?
    public var needs: [String]
    public var owns: [String]
    public var env: [String: String]
    public var timeout: Duration?
    public var stallTimeout: Duration?
    public var retries: Int
    public var estimate: Estimate?
    public var kind: WorkKind
    /// Set on the stand-in for a `foreach: from` fan-out: when its source is done the orchestrator
    /// replaces it with one task per item of the source's JSON result, rendered from this spec.
    public var expands: TaskSpec?
    /// Task-level ordering added by the plan: this task waits for these (colliding `owns`).
    public var after: [String] = []
    public var isolation: Isolation = .worktree
    /// The task that spawned this one at run time (nil: it comes from the spec).
    public var parent: String?
    /// Spawn depth: 0 for spec tasks, the parent's plus one for a spawned task.
    public var depth: Int = 0
    /// Also waits for everything the tasks it needs spawned (`join: true`).
    public var join: Bool = false
    /// The `limits:`/`resources:` keys it waits on before starting, sorted (acquired in this order,
    /// so two tasks using the same pair never hold one each while waiting for the other).
    public var uses: [String] = []
    /// `model` was filled in from the agent's default, for estimates only: the agent is not told
    /// to use it (its CLI picks its own, and the model it reports is the one recorded).
    public var modelIsDefault = false
    /// Tool calls the agent was refused do not fail the task (`allow_denials: true`).
    public var allowDenials = false
    /// Its agent is given `muster mcp` (its orchestration tools); `mcp: false` turns that off.
    public var mcp = true
    /// Its `sandbox:` (nil: the default, `worktree` where bubblewrap works).
    public var sandbox: SandboxMode?
    /// `writable:` paths of the workflow and the task, checked by the loader.
    public var writable: [String] = []
    /// `runs_on:` labels, sorted: only a claimer with all of them takes the task (empty: anyone).
    public var runsOn: [String] = []

    public var isExpander: Bool { expands != nil }

    public init(id: String, group: String, item: ItemValue? = nil, agent: String, model: String? = nil, prompt: String? = nil,
                command: Command? = nil, needs: [String] = [], owns: [String] = [], env: [String: String] = [:],
                timeout: Duration? = nil, stallTimeout: Duration? = nil, retries: Int = 0, estimate: Estimate? = nil,
                kind: WorkKind = .exploration, expands: TaskSpec? = nil, after: [String] = [],
                isolation: Isolation = .worktree, uses: [String] = [], parent: String? = nil, depth: Int = 0, join: Bool = false) {
        self.uses = uses
        self.parent = parent
        self.depth = depth
        self.join = join
        self.after = after
        self.isolation = isolation
        self.id = id
        self.group = group
        self.item = item
        self.agent = agent
        self.model = model
        self.prompt = prompt
        self.command = command
        self.needs = needs
        self.owns = owns
        self.env = env
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.retries = retries
        self.estimate = estimate
        self.kind = kind
        self.expands = expands
    }
}

extension PlannedTask {
    enum CodingKeys: String, CodingKey {
        case id, group, item, agent, model, prompt, command, needs, owns, env, timeout, stallTimeout, retries, estimate,
             kind, expands, after, isolation, uses, parent, depth, join, modelIsDefault, allowDenials, sandbox, writable, mcp, runsOn
    }

    /// Set to `true` in an encoder's `userInfo`: fields holding their default value are left out
    /// (the form a store keeps; decoding puts the defaults back). Without it every field is written.
    public static let omitsDefaults = CodingUserInfoKey(rawValue: "muster.plannedTask.omitsDefaults")!

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let compact = encoder.userInfo[Self.omitsDefaults] as? Bool == true
        func put<Value: Encodable & Equatable>(_ value: Value, _ byDefault: Value, _ key: CodingKeys) throws {
            if !compact || value != byDefault { try c.encode(value, forKey: key) }
        }
        try c.encode(id, forKey: .id)
        try c.encode(group, forKey: .group)
        try c.encodeIfPresent(item, forKey: .item)
        try c.encode(agent, forKey: .agent)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encodeIfPresent(prompt, forKey: .prompt)
        try c.encodeIfPresent(command, forKey: .command)
        try put(needs, [], .needs)
        try put(owns, [], .owns)
        try put(env, [:], .env)
        try c.encodeIfPresent(timeout, forKey: .timeout)
        try c.encodeIfPresent(stallTimeout, forKey: .stallTimeout)
        try put(retries, 0, .retries)
        try c.encodeIfPresent(estimate, forKey: .estimate)
        try put(kind, .exploration, .kind)
        try c.encodeIfPresent(expands, forKey: .expands)
        try put(after, [], .after)
        try put(isolation, .worktree, .isolation)
        try put(uses, [], .uses)
        try c.encodeIfPresent(parent, forKey: .parent)
        try put(depth, 0, .depth)
        try put(join, false, .join)
        try put(modelIsDefault, false, .modelIsDefault)
        try put(allowDenials, false, .allowDenials)
        try c.encodeIfPresent(sandbox, forKey: .sandbox)
        try put(writable, [], .writable)
        try put(mcp, true, .mcp)
        try put(runsOn, [], .runsOn)
    }

    // Fields added after the first release decode with their defaults from older stored runs.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), group: try c.decode(String.self, forKey: .group),
                  item: try c.decodeIfPresent(ItemValue.self, forKey: .item), agent: try c.decode(String.self, forKey: .agent),
                  model: try c.decodeIfPresent(String.self, forKey: .model), prompt: try c.decodeIfPresent(String.self, forKey: .prompt),
                  command: try c.decodeIfPresent(Command.self, forKey: .command),
                  needs: try c.decodeIfPresent([String].self, forKey: .needs) ?? [],
                  owns: try c.decodeIfPresent([String].self, forKey: .owns) ?? [],
                  env: try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:],
                  timeout: try c.decodeIfPresent(Duration.self, forKey: .timeout),
                  stallTimeout: try c.decodeIfPresent(Duration.self, forKey: .stallTimeout),
                  retries: try c.decodeIfPresent(Int.self, forKey: .retries) ?? 0,
                  estimate: try c.decodeIfPresent(Estimate.self, forKey: .estimate),
                  kind: try c.decodeIfPresent(WorkKind.self, forKey: .kind) ?? .exploration, expands: try c.decodeIfPresent(TaskSpec.self, forKey: .expands),
                  after: try c.decodeIfPresent([String].self, forKey: .after) ?? [],
                  isolation: try c.decodeIfPresent(Isolation.self, forKey: .isolation) ?? .worktree,
                  uses: try c.decodeIfPresent([String].self, forKey: .uses) ?? [],
                  parent: try c.decodeIfPresent(String.self, forKey: .parent),
                  depth: try c.decodeIfPresent(Int.self, forKey: .depth) ?? 0,
                  join: try c.decodeIfPresent(Bool.self, forKey: .join) ?? false)
        modelIsDefault = try c.decodeIfPresent(Bool.self, forKey: .modelIsDefault) ?? false
        allowDenials = try c.decodeIfPresent(Bool.self, forKey: .allowDenials) ?? false
        sandbox = try c.decodeIfPresent(SandboxMode.self, forKey: .sandbox)
        writable = try c.decodeIfPresent([String].self, forKey: .writable) ?? []
        mcp = try c.decodeIfPresent(Bool.self, forKey: .mcp) ?? true
        runsOn = try c.decodeIfPresent([String].self, forKey: .runsOn) ?? []
    }
}
