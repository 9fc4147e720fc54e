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
    public var tasks: [TaskSpec]

    public init(name: String, agent: String = "shell", model: String? = nil, concurrency: Int = 4,
                onFailure: FailurePolicy = .stop, backoff: Backoff = Backoff(), tasks: [TaskSpec]) {
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

    public init(id: String, prompt: String? = nil, command: Command? = nil, agent: String? = nil,
                model: String? = nil, needs: [String] = [], foreach: Foreach? = nil, owns: [String] = [],
                env: [String: String] = [:], timeout: Duration? = nil, stallTimeout: Duration? = nil,
                retries: Int = 0, estimate: Estimate? = nil, kind: WorkKind? = nil) {
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
