import Foundation
import MusterCore
import MusterStore
import Synchronization

/// How to start one agent run: argv (never through a shell unless the spec asked for one) and
/// whether the prompt goes on stdin.
public struct AgentInvocation: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    public var promptOnStdin: Bool
    public var environment: [String: String]
    public init(executable: String, arguments: [String], promptOnStdin: Bool = false, environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.promptOnStdin = promptOnStdin
        self.environment = environment
    }
}

/// What an agent run produced, read from its own output format.
public struct AgentReport: Sendable, Equatable {
    public var result: String
    /// nil: the agent did not say (cost is then unknown, never 0).
    public var usage: TokenUsage?
    public var costUSD: Double?
    public var model: String?
    public var isError: Bool
    public var rateLimited: Bool
    /// What went wrong, in the agent's own words (its error message, not a raw JSON line); nil: nothing said.
    public var error: String?
    /// Tool calls the agent's CLI refused under its headless permissions.
    public var denials: [PermissionDenial] = []
    /// The usage is the last seen before the output ended without a final count (killed mid-stream).
    public var usagePartial = false
    public init(result: String, usage: TokenUsage? = nil, costUSD: Double? = nil, model: String? = nil,
                isError: Bool = false, rateLimited: Bool = false, error: String? = nil) {
        self.error = error
        self.result = result
        self.usage = usage
        self.costUSD = costUSD
        self.model = model
        self.isError = isError
        self.rateLimited = rateLimited
    }
}

public struct AgentContext: Sendable {
    /// `--simulate`/`sim`: estimated minutes are divided by this (60 turns a minute into a second).
    public var simulationSpeed: Double
    /// The task the agent runs for, inside a run (nil: none, e.g. a unit test): agents that load MCP
    /// servers get `muster mcp` bound to it (`MCPWiring`).
    public var task: AgentTaskContext?
    public init(simulationSpeed: Double = 1, task: AgentTaskContext? = nil) {
        self.simulationSpeed = simulationSpeed
        self.task = task
    }
}

public protocol AgentAdapter: Sendable {
    var name: String { get }
    /// Whether the agent bills tokens; a tool that does not (shell) costs a known $0.
    var spendsTokens: Bool { get }
    func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation
    func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport
    /// Reads the agent's output while it runs, for signals worth acting on at once (a 429 the CLI is
    /// still retrying); nil: this agent has none.
    func liveSignals() -> LiveSignalParser?
    /// Files the agent writes into its worktree for itself (caches, histories): never committed,
    /// never counted against `owns`. Globs relative to the worktree.
    var scratchFiles: [String] { get }
}

extension AgentAdapter {
    public func liveSignals() -> LiveSignalParser? { nil }
    public var scratchFiles: [String] { [] }
}

public enum AgentError: Error, CustomStringConvertible, Sendable {
    case unknownAgent(String)
    case missingCommand(task: String)

    public var description: String {
        switch self {
        case .unknownAgent(let name): "unknown agent `\(name)` (built in: \(Agents.builtinNames.joined(separator: ", ")))"
        case .missingCommand(let task): "task \(task) has no command for the shell agent"
        }
    }
}

/// The built-in adapters, and how a profile or an agent's output becomes an adapter or a report.
/// Which custom profiles a run may use is the run's own `AgentCatalog`, never process-wide state.
public enum Agents {
    static let builtins: [any AgentAdapter] = [ShellAgent(), SimAgent(), ClaudeAgent(), CodexAgent(), GeminiAgent(),
                                               AiderAgent(), OpenCodeAgent()]

    public static var builtinNames: [String] { builtins.map(\.name).sorted() }

    /// The adapter a profile describes: a built-in one with the profile's settings, or a custom CLI.
    public static func adapter(for profile: AgentProfile) -> any AgentAdapter {
        switch profile.base {
        case "claude": ClaudeAgent(profile: profile)
        case "codex": CodexAgent(profile: profile)
        case "gemini": GeminiAgent(profile: profile)
        case "aider": AiderAgent(profile: profile)
        case "opencode": OpenCodeAgent(profile: profile)
        case "sim": SimAgent(name: profile.name, format: profile.output)
        default: CustomAgent(profile: profile)
        }
    }

    /// Parses `stdout` in `format`.
    public static func parse(_ stdout: String, format: AgentOutputFormat, succeeded: Bool) -> AgentReport {
        switch format {
        case .claudeStreamJSON: ClaudeStreamJSONParser.parse(stdout, succeeded: succeeded)
        case .codexJSON: CodexJSONParser.parse(stdout, succeeded: succeeded)
        case .geminiJSON: GeminiJSONParser.parse(stdout, succeeded: succeeded)
        case .openCodeJSON: OpenCodeJSONParser.parse(stdout, succeeded: succeeded)
        case .text: TextUsageParser.parse(stdout, succeeded: succeeded)
        }
    }
}
