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
        argv += ["--allowedTools", tools.joined(separator: ",")]
        // Only a model the spec or profile names: otherwise the CLI uses its own default, and the
        // model it reports is the one recorded and priced.
        if let model = task.model, !task.modelIsDefault { argv += ["--model", model] }
        argv += profile.args
        var environment: [String: String] = [:]
        if !task.uses.isEmpty { environment["CLAUDE_CODE_MAX_RETRIES"] = String(Self.maxRetriesOnALimit) }
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: true, environment: environment)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        ClaudeStreamJSONParser.parse(stdout, succeeded: status.succeeded)
    }

    public func liveSignals() -> LiveSignalParser? { ClaudeLiveSignals() }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
