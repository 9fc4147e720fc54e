import Foundation
import MusterCore

/// Another CLI, from a profile's `command:`: the prompt appended as its last argument or given on
/// stdin (`prompt:`), its output read in the profile's `output:` format.
public struct CustomAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        guard var argv = profile.command, !argv.isEmpty else { throw AgentError.missingCommand(task: task.id) }
        let onStdin = profile.prompt == .stdin
        if !onStdin, let prompt { argv.append(prompt) }
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: onStdin)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        Agents.parse(stdout, format: profile.format, succeeded: status.succeeded)
    }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
