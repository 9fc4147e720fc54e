import Foundation
import MusterCore

/// Claude Code in print mode: `claude -p --output-format stream-json --verbose --permission-mode …`,
/// the prompt on stdin (no length limit, nothing mistaken for a flag). Permissions default to
/// `acceptEdits`: file edits in the task's worktree go through, anything else is refused rather
/// than waiting for a human.
public struct ClaudeAgent: AgentAdapter {
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
        if let tools = profile.allowedTools, !tools.isEmpty { argv += ["--allowedTools", tools.joined(separator: ",")] }
        if let model = task.model { argv += ["--model", model] }
        argv += profile.args
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: true)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        ClaudeStreamJSONParser.parse(stdout, succeeded: status.succeeded)
    }
}
