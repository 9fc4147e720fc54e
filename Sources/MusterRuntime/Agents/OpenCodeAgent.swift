import Foundation
import MusterCore

/// OpenCode non-interactively: `opencode run --format json`, the prompt on stdin. Its model is
/// `provider/model`; a task's model is passed only in that form (a bare name is for pricing).
public struct OpenCodeAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile = AgentProfile(name: "opencode", base: "opencode")) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        var argv = profile.command ?? ["opencode"]
        argv += ["run", "--format", "json"]
        if let model = task.model, !task.modelIsDefault, model.contains("/") { argv += ["--model", model] }
        argv += profile.args
        var environment: [String: String] = [:]
        if let inside = context.task, MCPWiring.enabled(for: task, profile: profile) {
            environment["OPENCODE_CONFIG"] = try MCPWiring.write(MCPWiring.openCodeConfig(inside), named: MCPWiring.openCodeConfigFile, in: inside)
        }
        return AgentInvocation(executable: argv[0], arguments: argv, promptOnStdin: true, environment: environment)
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        OpenCodeJSONParser.parse(stdout, succeeded: status.succeeded)
    }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
