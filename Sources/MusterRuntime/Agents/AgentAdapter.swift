import Foundation
import MusterCore

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
    public init(result: String, usage: TokenUsage? = nil, costUSD: Double? = nil, model: String? = nil,
                isError: Bool = false, rateLimited: Bool = false) {
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
    public init(simulationSpeed: Double = 1) { self.simulationSpeed = simulationSpeed }
}

public protocol AgentAdapter: Sendable {
    var name: String { get }
    /// Whether the agent bills tokens; a tool that does not (shell) costs a known $0.
    var spendsTokens: Bool { get }
    func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation
    func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport
}

public enum AgentError: Error, CustomStringConvertible, Sendable {
    case unknownAgent(String)
    case missingCommand(task: String)

    public var description: String {
        switch self {
        case .unknownAgent(let name): "unknown agent `\(name)` (built in: \(Agents.names.joined(separator: ", ")))"
        case .missingCommand(let task): "task \(task) has no command for the shell agent"
        }
    }
}

public enum Agents {
    static let all: [any AgentAdapter] = [ShellAgent(), SimAgent()]
    public static var names: [String] { all.map(\.name) }
    public static func adapter(named name: String) throws -> any AgentAdapter {
        guard let adapter = all.first(where: { $0.name == name }) else { throw AgentError.unknownAgent(name) }
        return adapter
    }
}
