import Foundation
import MusterCore

/// Aider with one message and no questions: `aider --yes-always --no-stream --no-pretty … --message=TEXT`.
/// muster commits each task's work itself, so Aider's own commits, its `.gitignore` edit and its
/// history files in the worktree are turned off; analytics are off (under `--yes-always` aider
/// would answer its own opt-in question "yes"), and `COLUMNS` is wide so its `Cost:` line is not
/// wrapped off a terminal. What aider still writes for itself (`.aider.tags.cache.v4/`, …) is a
/// scratch file: never committed, never counted against `owns`.
public struct AiderAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    public let profile: AgentProfile

    public init(profile: AgentProfile = AgentProfile(name: "aider", base: "aider")) {
        self.name = profile.name
        self.profile = profile
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        var argv = profile.command ?? ["aider"]
        argv += ["--yes-always", "--no-stream", "--no-pretty", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
                 "--no-check-update", "--analytics-disable", "--chat-history-file", "/dev/null", "--input-history-file", "/dev/null"]
        if let model = task.model, !task.modelIsDefault { argv += ["--model", model] }
        argv += profile.args
        argv.append("--message=" + (prompt ?? ""))
        return AgentInvocation(executable: argv[0], arguments: argv, environment: ["COLUMNS": "1000"])
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        AiderOutputParser.parse(stdout, succeeded: status.succeeded)
    }

    public var scratchFiles: [String] { profile.allScratchFiles }
}
