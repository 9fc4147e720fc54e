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

    public var isExpander: Bool { expands != nil }

    public init(id: String, group: String, item: ItemValue? = nil, agent: String, model: String? = nil, prompt: String? = nil,
                command: Command? = nil, needs: [String] = [], owns: [String] = [], env: [String: String] = [:],
                timeout: Duration? = nil, stallTimeout: Duration? = nil, retries: Int = 0, estimate: Estimate? = nil,
                kind: WorkKind = .exploration, expands: TaskSpec? = nil) {
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
