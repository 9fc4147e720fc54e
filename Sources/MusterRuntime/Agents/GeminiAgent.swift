import Foundation
import MusterCore

/// Gemini CLI headless: `gemini --output-format json --approval-mode auto_edit … --prompt=TEXT`.
/// The prompt travels as one argument (`--prompt=` keeps a prompt that starts with `-` from being
/// read as a flag); `auto_edit` approves file edits and nothing else.
public struct GeminiAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile = AgentProfile(name: "gemini", base: "gemini")) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        var argv = profile.command ?? ["gemini"]
        argv += ["--output-format", "json", "--approval-mode", profile.permissions ?? BuiltinAgents.defaultPermissions(for: "gemini")!]
        if let model = task.model, !task.modelIsDefault { argv += ["--model", model] }
        argv += profile.args
        argv.append("--prompt=" + (prompt ?? ""))
        var environment: [String: String] = [:]
        if let inside = context.task, MCPWiring.enabled(for: task, profile: profile) {
            environment["GEMINI_CLI_SYSTEM_SETTINGS_PATH"] = try MCPWiring.write(MCPWiring.geminiSettings(inside),
                                                                                 named: MCPWiring.geminiSettingsFile, in: inside)
        }
        return AgentInvocation(executable: argv[0], arguments: argv, environment: environment)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        GeminiJSONParser.parse(stdout, succeeded: status.succeeded)
    }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
