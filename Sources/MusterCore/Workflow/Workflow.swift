import Foundation

/// A workflow as written in the YAML spec, after validation. Task order is the order of the file.
public struct Workflow: Codable, Sendable, Equatable {
    public var name: String
    public var agent: String
    public var model: String?
    public var concurrency: Int
    public var onFailure: FailurePolicy
    public var backoff: Backoff
    /// nil: the default, `worktree`.
    public var isolation: Isolation?
    /// `sandbox:` for every task that names none (nil: `worktree` where bubblewrap works).
    public var sandbox: SandboxMode?
    /// `writable:` paths every task may also write inside its sandbox (nil: none).
    public var writable: [String]?
    public var tasks: [TaskSpec]
    /// Custom agent profiles: the spec's `agents:` merged over `muster.toml`'s (nil: none). Stored
    /// with the run, so `resume` starts the same agents.
    public var agents: [String: AgentProfile]?
    /// Dollars: dispatch stops once spent plus the estimates of running tasks reach it (nil: none).
    public var budgetUSD: Double?
    /// `budget: {hard: true}` or `--budget-hard`: reaching the budget also stops running tasks (nil: false).
    public var budgetHard: Bool?
    /// `max_depth`: how deep tasks may spawn tasks at run time (nil: `defaultMaxDepth`). Spec tasks
    /// are depth 0, their children 1, and so on.
    public var maxDepth: Int?
    /// `summary_chars`: per-child characters of `{{needs.X.summaries}}` (nil: sized so 100 children fit a prompt).
    public var summaryChars: Int?

    /// Seed 000: recursive delegation bottoms out at 2 levels before its overhead beats the parallelism.
    public static let defaultMaxDepth = 2
    public var spawnDepthLimit: Int { maxDepth ?? Workflow.defaultMaxDepth }
    /// Shared limits and pools by key: the spec's `limits:` and `resources:` merged over `muster.toml`'s
    /// (nil: none). Stored with the run, so `resume` waits on the same ones.
    public var limits: [String: LimitSpec]?
    /// `integrate:`: the check `muster integrate` runs after each merge (nil: none).
    public var integrate: IntegrateSpec?
    /// `worktree:`: files copied and folders linked into each fresh task worktree, and setup commands (nil: none).
    public var worktree: WorktreeSpec?

    public init(name: String, agent: String = "shell", model: String? = nil, concurrency: Int = 4,
                onFailure: FailurePolicy = .stop, backoff: Backoff = Backoff(), tasks: [TaskSpec],
                agents: [String: AgentProfile]? = nil) {
        self.agents = agents
        self.name = name
        self.agent = agent
        self.model = model
        self.concurrency = concurrency
        self.onFailure = onFailure
        self.backoff = backoff
        self.tasks = tasks
    }

    public func task(_ id: String) -> TaskSpec? { tasks.first { $0.id == id } }
}

/// Where a task runs: its own git worktree and branch (the default), or in the repository itself
/// (`none`: for read-only exploration, or outside git).
public enum Isolation: String, Codable, Sendable, CaseIterable {
    case worktree, none
}

public enum FailurePolicy: String, Codable, Sendable, CaseIterable {
    /// Dispatch nothing new after a task fails for good; running tasks finish.
    case stop
    /// Skip only what depends on the failed task; everything else goes on.
    case `continue`
}

/// Exponential back-off between retries: `initial * 2^(attempt-1)`, capped at `max`, with jitter.
public struct Backoff: Codable, Sendable, Equatable {
    public var initial: Duration
    public var max: Duration
    public init(initial: Duration = .seconds(1), max: Duration = .seconds(60)) {
        self.initial = initial
        self.max = max
    }

    /// The delay before retry number `attempt` (1-based); `unit` in 0..<1 supplies the jitter, so the
    /// result lies in [half, full] of the exponential step and callers stay deterministic in tests.
    public func delay(attempt: Int, unit: Double) -> Duration {
        let step = min(initial.seconds * pow(2, Double(Swift.max(0, attempt - 1))), max.seconds)
        return .seconds(step * (0.5 + 0.5 * unit))
    }
}

/// What kind of work a task is; it picks the break-even threshold of the parallelism advice.
public enum WorkKind: String, Codable, Sendable, CaseIterable {
    case exploration, independent, implementation

    /// Seed 000: parallelism pays above these wall-clock minutes per sub-task.
    public var breakEvenMinutes: Double {
        switch self {
        case .exploration: 5
        case .independent: 10
        case .implementation: 20
        }
    }
}

public struct TaskSpec: Codable, Sendable, Equatable {
    public var id: String
    public var prompt: String?
    public var command: Command?
    public var agent: String?
    public var model: String?
    public var needs: [String]
    public var foreach: Foreach?
    public var owns: [String]
    public var env: [String: String]
    public var timeout: Duration?
    public var stallTimeout: Duration?
    public var retries: Int
    public var estimate: Estimate?
    public var kind: WorkKind?
    public var isolation: Isolation?
    /// `sandbox:` of this task, over the workflow's (nil: the workflow's).
    public var sandbox: SandboxMode?
    /// `writable:` paths this task may also write inside its sandbox, added to the workflow's (nil: none).
    public var writable: [String]?
    /// `join: true`: also wait for every task that the tasks in `needs` spawned at run time,
    /// transitively, to finish; `{{needs.X.summaries}}` then covers them too. (nil: false)
    public var join: Bool?
    /// Keys of `limits:`/`resources:` the task must get a turn on before it starts (nil: none; optional so
    /// runs stored before it existed still load).
    public var uses: [String]?
    /// `allow_denials: true`: tool calls the agent was refused do not fail the task (nil: they do, as `denied`).
    public var allowDenials: Bool?
    /// `mcp: false`: the agent is not given `muster mcp` (nil: it is, for agents that load MCP servers).
    public var mcp: Bool?
    /// `runs_on: [gpu]`: labels a claimer must all have to take this task (nil: anyone may).
    public var runsOn: [String]?

    public init(id: String, prompt: String? = nil, command: Command? = nil, agent: String? = nil,
                model: String? = nil, needs: [String] = [], foreach: Foreach? = nil, owns: [String] = [],
                env: [String: String] = [:], timeout: Duration? = nil, stallTimeout: Duration? = nil,
                retries: Int = 0, estimate: Estimate? = nil, kind: WorkKind? = nil, uses: [String]? = nil) {
        self.uses = uses
        self.id = id
        self.prompt = prompt
        self.command = command
        self.agent = agent
        self.model = model
        self.needs = needs
        self.foreach = foreach
        self.owns = owns
        self.env = env
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.retries = retries
        self.estimate = estimate
        self.kind = kind
    }

    /// Tasks that write files are implementation work; read-only ones explore.
    public var effectiveKind: WorkKind { kind ?? (owns.isEmpty ? .exploration : .implementation) }
}

/// `command:` is an argv list, or a string split into words (quotes respected) with no shell,
/// unless `shell: true` asks for `/bin/sh -c`.
public struct Command: Codable, Sendable, Equatable {
    public var argv: [String]
    public var viaShell: Bool
    public init(argv: [String], viaShell: Bool = false) {
        self.argv = argv
        self.viaShell = viaShell
    }
}

public enum Foreach: Codable, Sendable, Equatable {
    case items([ItemValue])
    case glob(String)
    /// Fan out over the JSON array that the named task printed as its result (decided at run time).
    case from(String)
}

public struct Estimate: Codable, Sendable, Equatable {
    public var minutes: Double?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public init(minutes: Double? = nil, inputTokens: Int? = nil, outputTokens: Int? = nil) {
        self.minutes = minutes
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// A `foreach` item: a scalar, or a map whose fields templates reach as `{{item.field}}`.
public enum ItemValue: Codable, Sendable, Equatable {
    case string(String)
    case map([String: String])

    /// The text `{{item}}` renders to.
    public var text: String {
        switch self {
        case .string(let s): s
        case .map(let m):
            (try? String(decoding: JSONSerialization.data(withJSONObject: m, options: [.sortedKeys]), as: UTF8.self)) ?? ""
        }
    }
}

/// The output formats muster can read, each with its own parser.
public enum AgentOutputFormat: String, Codable, Sendable, CaseIterable {
    /// Claude Code `-p --output-format stream-json --verbose`: JSON lines ending in a `result` event.
    case claudeStreamJSON = "claude-stream-json"
    /// Codex CLI `exec --json`: JSON lines (`thread.started`, `item.completed`, `turn.completed` with usage).
    case codexJSON = "codex-json"
    /// Gemini CLI `--output-format json`: one object with `response`, `stats.models` and `error`.
    case geminiJSON = "gemini-json"
    /// OpenCode `run --format json`: JSON lines (`text`, `step_finish` with tokens and cost, `error`).
    case openCodeJSON = "opencode-json"
    /// Plain text; token and cost lines in Aider's form (`Tokens: 2.1k sent, 310 received. Cost: …`) are read when present.
    case text
}

/// How a custom agent gets its prompt: as its last argument, or on standard input.
public enum PromptDelivery: String, Codable, Sendable, CaseIterable {
    case argument, stdin
}

/// A named agent profile: a built-in agent with its own settings (`base:`), or another CLI
/// (`command:` + `output:`). Written under `agents:` in the spec or in `muster.toml`.
public struct AgentProfile: Codable, Sendable, Equatable {
    public var name: String
    /// The built-in agent it refines (claude, codex, gemini, aider, opencode, sim).
    public var base: String?
    /// With `base`: replaces the CLI's executable (e.g. `[npx, -y, @anthropic-ai/claude-code]`);
    /// without: the whole argv of another CLI.
    public var command: [String]?
    /// The format a `command` profile prints, or the one a `sim` profile imitates.
    public var output: AgentOutputFormat?
    public var prompt: PromptDelivery?
    public var model: String?
    /// The value of the base agent's own headless permission flag.
    public var permissions: String?
    /// claude: `--allowedTools`.
    public var allowedTools: [String]?
    /// Extra arguments for the base agent's CLI.
    public var args: [String]
    /// How to install the CLI, shown when it is missing.
    public var install: String?
    /// Where it was defined (a spec file or muster.toml), for `muster agents`.
    public var source: String?
    /// `scratch_files`: more files the agent writes for itself in its worktree (globs), on top of
    /// its base agent's (`BuiltinAgents.scratchFiles`); never committed, never counted against owns.
    public var scratchFiles: [String]?
    /// `writable:` folders the agent keeps state in, writable inside the sandbox (over the base
    /// agent's own, `BuiltinAgents.stateFolders`). Relative: inside the worktree; absolute or `~/…`.
    public var writable: [String]?
    /// `mcp: false`: tasks on this profile are not given `muster mcp` (nil: they are).
    public var mcp: Bool?

    public init(name: String, base: String? = nil, command: [String]? = nil, output: AgentOutputFormat? = nil,
                prompt: PromptDelivery? = nil, model: String? = nil, permissions: String? = nil,
                allowedTools: [String]? = nil, args: [String] = [], install: String? = nil, source: String? = nil,
                scratchFiles: [String]? = nil) {
        self.scratchFiles = scratchFiles
        self.name = name
        self.base = base
        self.command = command
        self.output = output
        self.prompt = prompt
        self.model = model
        self.permissions = permissions
        self.allowedTools = allowedTools
        self.args = args
        self.install = install
        self.source = source
    }

    /// The format this profile's output is read in.
    public var format: AgentOutputFormat {
        if let output { return output }
        return base.flatMap(BuiltinAgents.output(for:)) ?? .text
    }

    /// The program `muster agents` and `muster run` look for on PATH.
    public var executable: String? {
        if let first = command?.first { return first }
        return base.flatMap(BuiltinAgents.executable(for:))
    }

    /// How to install what it runs.
    public var installHint: String? {
        install ?? (command == nil ? base.flatMap(BuiltinAgents.installHint(for:)) : nil)
    }

    /// The model it bills against when a task names none.
    public var defaultModel: String? { model ?? base.flatMap(BuiltinAgents.defaultModel(for:)) }

    /// Its scratch files: its base agent's and its own.
    public var allScratchFiles: [String] { (base.map(BuiltinAgents.scratchFiles(for:)) ?? []) + (scratchFiles ?? []) }
}
