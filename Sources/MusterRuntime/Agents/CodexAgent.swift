import Foundation
import MusterCore

/// Codex CLI non-interactively: `codex exec --json --sandbox workspace-write … -`, the prompt on
/// stdin. `exec` never stops to ask for approval; the sandbox (a profile's `permissions`) bounds
/// what its commands may touch: the worktree by default.
public struct CodexAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile = AgentProfile(name: "codex", base: "codex")) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        var argv = profile.command ?? ["codex"]
        argv += ["exec", "--json", "--sandbox", profile.permissions ?? BuiltinAgents.defaultPermissions(for: "codex")!]
        if let model = task.model, !task.modelIsDefault { argv += ["--model", model] }
        if let inside = context.task, MCPWiring.enabled(for: task, profile: profile) { argv += MCPWiring.codexArguments(inside) }
        argv += profile.args
        argv.append("-")  // read the prompt from stdin
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: true)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        CodexJSONParser.parse(stdout, succeeded: status.succeeded)
    }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
