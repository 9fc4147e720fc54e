import Foundation
import MusterCore

/// Runs the task's `command:` argv directly (or `/bin/sh -c` when the spec says `shell: true`).
/// Its result is what it printed on stdout.
public struct ShellAgent: AgentAdapter {
    public let name = "shell"
    public let spendsTokens = false

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        guard let command = task.command, let first = command.argv.first else { throw AgentError.missingCommand(task: task.id) }
        if command.viaShell { return AgentInvocation(executable: "/bin/sh", arguments: ["sh", "-c", first]) }
        return AgentInvocation(executable: first, arguments: command.argv)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        AgentReport(result: stdout, usage: nil, costUSD: 0, isError: !status.succeeded)
    }
}
