import Foundation
import MusterCore

/// Claude Code in print mode: `claude -p --output-format stream-json --verbose --permission-mode …`,
/// the prompt on stdin (no length limit, nothing mistaken for a flag). Permissions default to
/// `acceptEdits`: file edits in the task's worktree go through, anything else is refused rather
/// than waiting for a human; muster's own commands are allowed (`Bash(muster:*)`), so a lead task
/// can `muster spawn`/`wait`/`msg`/`lock` headless.
public struct ClaudeAgent: AgentAdapter {
    /// Claude Code's permission rule for any `muster …` command line: `Bash(prefix:*)` matches a
    /// command by its prefix, and `--allowedTools` takes a comma-separated list (Claude Code's CLI
    /// reference: `--allowedTools "Bash(git log:*)" "Read"`).
    public static let musterCommands = "Bash(muster:*)"
    /// The CLI's own retries for a task on a shared limit: few, so the shared cool-down governs
    /// (its default is 10 over ~167 s, while every other task keeps hitting the API).
    public static let maxRetriesOnALimit = 2
    /// Claude Code's per-call MCP timeout (`MCP_TOOL_TIMEOUT`, ms): a day, since `wait` lasts as long as the children.
    public static let mcpToolTimeoutMilliseconds = 24 * 3600 * 1000

    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile = AgentProfile(name: "claude", base: "claude")) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        var argv = profile.command ?? ["claude"]
        argv += ["-p", "--output-format", "stream-json", "--verbose",
                 "--permission-mode", profile.permissions ?? BuiltinAgents.defaultPermissions(for: "claude")!]
        var tools = profile.allowedTools ?? []
        if !tools.contains(Self.musterCommands) { tools.append(Self.musterCommands) }
        var environment: [String: String] = [:]
        if let inside = context.task, MCPWiring.enabled(for: task, profile: profile) {
            // `muster mcp` bound to this task, its tools allowed: a lead's mcp__muster__spawn runs headless.
            let config = try MCPWiring.write(MCPWiring.claudeConfig(inside), named: MCPWiring.claudeConfigFile, in: inside)
            argv += ["--mcp-config", config]
            tools += MCPWiring.claudeToolNames.filter { !tools.contains($0) }
            // Its tools are called like any other, and `wait` may last as long as the children run.
            environment["MCP_TOOL_TIMEOUT"] = String(Self.mcpToolTimeoutMilliseconds)
        }
        argv += ["--allowedTools", tools.joined(separator: ",")]
        // Only a model the spec or profile names: otherwise the CLI uses its own default, and the
        // model it reports is the one recorded and priced.
        if let model = task.model, !task.modelIsDefault { argv += ["--model", model] }
        argv += profile.args
        // A task on a shared limit caps the CLI's own retries, unless its spec set them itself.
        if !task.uses.isEmpty, task.env["CLAUDE_CODE_MAX_RETRIES"] == nil {
            environment["CLAUDE_CODE_MAX_RETRIES"] = String(Self.maxRetriesOnALimit)
        }
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: true, environment: environment)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        ClaudeStreamJSONParser.parse(stdout, succeeded: status.succeeded)
    }

    public func liveSignals() -> LiveSignalParser? { ClaudeLiveSignals() }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
