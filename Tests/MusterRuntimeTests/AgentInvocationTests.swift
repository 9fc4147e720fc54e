import Foundation
import MusterCore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Every adapter's argv: the agent's own executable (never a shell), its headless flags and
/// permission settings, and the prompt as one argument or on stdin, byte for byte.
@Suite struct AgentInvocationTests {
    static let nasty = "fix the \"quoted\" bug in 'src/a b.c'; $(rm -rf /) `whoami` $HOME\nsecond line\n\t-- --flag"

    static func task(_ agent: String, model: String? = nil) -> PlannedTask {
        PlannedTask(id: "t", group: "t", agent: agent, model: model, prompt: nasty)
    }

    static func invocation(_ adapter: any AgentAdapter, model: String? = nil) throws -> AgentInvocation {
        try adapter.invocation(for: task(adapter.name, model: model), prompt: nasty, context: AgentContext())
    }

    /// The prompt reaches the agent whole: on stdin, or as exactly one argv element.
    static func expectPromptIntact(_ inv: AgentInvocation, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        if inv.promptOnStdin {
            #expect(!inv.arguments.contains { $0.contains("$(rm") }, sourceLocation: sourceLocation)
        } else {
            let carrying = inv.arguments.filter { $0.contains(nasty) }
            #expect(carrying.count == 1, "\(inv.arguments)", sourceLocation: sourceLocation)
            #expect(carrying.first.map { $0 == nasty || $0.hasSuffix("=" + nasty) } == true, sourceLocation: sourceLocation)
        }
    }

    @Test func claudePrintModeWithStreamJSONAndSafePermissions() throws {
        let inv = try Self.invocation(ClaudeAgent(), model: "claude-opus-4-8")
        #expect(inv.executable == "claude")
        #expect(inv.arguments == ["claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
                                  "--allowedTools", "Bash(muster:*)", "--model", "claude-opus-4-8"])
        #expect(inv.promptOnStdin)
        Self.expectPromptIntact(inv)
    }

    @Test func claudeProfileSettingsReachTheFlags() throws {
        let profile = AgentProfile(name: "careful", base: "claude", command: ["npx", "-y", "@anthropic-ai/claude-code"],
                                   permissions: "plan", allowedTools: ["Read", "Grep"], args: ["--max-turns", "5"])
        let inv = try Self.invocation(Agents.adapter(for: profile))
        #expect(inv.executable == "npx")
        #expect(inv.arguments == ["npx", "-y", "@anthropic-ai/claude-code", "-p", "--output-format", "stream-json", "--verbose",
                                  "--permission-mode", "plan", "--allowedTools", "Read,Grep,Bash(muster:*)", "--max-turns", "5"])
    }

    @Test func codexExecJSONInTheWorkspaceSandbox() throws {
        let inv = try Self.invocation(CodexAgent(), model: "gpt-5-codex")
        #expect(inv.arguments == ["codex", "exec", "--json", "--sandbox", "workspace-write", "--model", "gpt-5-codex", "-"])
        #expect(inv.promptOnStdin)
        Self.expectPromptIntact(inv)
    }

    @Test func geminiJSONWithAutoEditAndThePromptAsOneArgument() throws {
        let inv = try Self.invocation(GeminiAgent(), model: "gemini-2.5-pro")
        #expect(Array(inv.arguments.prefix(7)) == ["gemini", "--output-format", "json", "--approval-mode", "auto_edit", "--model", "gemini-2.5-pro"])
        #expect(inv.arguments.last == "--prompt=" + Self.nasty)
        #expect(!inv.promptOnStdin)
        Self.expectPromptIntact(inv)
    }

    @Test func aiderAnswersYesAndLeavesCommitsToMuster() throws {
        let inv = try Self.invocation(AiderAgent())
        #expect(inv.executable == "aider")
        for flag in ["--yes-always", "--no-stream", "--no-pretty", "--no-auto-commits", "--no-gitignore"] { #expect(inv.arguments.contains(flag)) }
        #expect(inv.arguments.last == "--message=" + Self.nasty)
        Self.expectPromptIntact(inv)
    }

    @Test func openCodeRunJSONWithPromptOnStdin() throws {
        let bare = try Self.invocation(OpenCodeAgent(), model: "claude-opus-4-8")
        #expect(bare.arguments == ["opencode", "run", "--format", "json"], "a bare model name is for pricing only")
        let qualified = try Self.invocation(OpenCodeAgent(), model: "anthropic/claude-opus-4-8")
        #expect(qualified.arguments == ["opencode", "run", "--format", "json", "--model", "anthropic/claude-opus-4-8"])
        #expect(qualified.promptOnStdin)
    }

    @Test func customProfileTakesThePromptAsItsLastArgumentOrOnStdin() throws {
        let asArgument = AgentProfile(name: "mine", command: ["my-agent", "--json"], output: .codexJSON)
        let inv = try Self.invocation(Agents.adapter(for: asArgument))
        #expect(inv.arguments == ["my-agent", "--json", Self.nasty])
        #expect(!inv.promptOnStdin)
        let onStdin = AgentProfile(name: "mine", command: ["my-agent"], output: .text, prompt: .stdin)
        let inv2 = try Self.invocation(Agents.adapter(for: onStdin))
        #expect(inv2.arguments == ["my-agent"] && inv2.promptOnStdin)
    }

    @Test(arguments: ["claude", "codex", "gemini", "aider", "opencode"])
    func noBuiltInAgentGoesThroughAShell(_ name: String) throws {
        let inv = try Self.invocation(try Agents.adapter(named: name))
        #expect(inv.executable == name)
        #expect(inv.arguments.first == name)
        #expect(!["sh", "bash", "/bin/sh", "/bin/bash"].contains(inv.executable))
        #expect(!inv.arguments.contains("-c"))
        Self.expectPromptIntact(inv)
    }

    /// A real process: argv goes to the program as is, with no shell to expand `$(...)` or split lines.
    @Test func theArgumentArrivesByteForByte() async throws {
        let profile = AgentProfile(name: "echo", command: ["/usr/bin/printf", "%s"], output: .text)
        let inv = try Self.invocation(Agents.adapter(for: profile))
        let output = try await Command.run(inv.executable, Array(inv.arguments.dropFirst()), in: FileManager.default.temporaryDirectory)
        #expect(output.stdout == Self.nasty)
    }

    @Test func simFollowsItsProfileOrTheTaskAgentsFormat() throws {
        #expect(SimAgent().format(for: Self.task("codex")) == .codexJSON)
        #expect(SimAgent().format(for: Self.task("gemini")) == .geminiJSON)
        #expect(SimAgent().format(for: Self.task("aider")) == .text)
        #expect(SimAgent().format(for: Self.task("sim")) == .claudeStreamJSON)
        #expect(SimAgent().format(for: Self.task("shell")) == .claudeStreamJSON)
        #expect(SimAgent(name: "x", format: .geminiJSON).format(for: Self.task("claude")) == .geminiJSON)
        let inv = try SimAgent(format: .codexJSON).invocation(for: Self.task("sim"), prompt: nil, context: AgentContext())
        #expect(inv.executable == "/bin/sh", "sim is a real, cheap process")
        #expect(inv.arguments.last?.contains("turn.completed") == true)
    }

    @Test func unknownAgentIsRefused() {
        #expect(throws: AgentError.self) { try Agents.adapter(named: "cladue") }
    }
}

/// What issue 12 found the real CLIs need: muster's own commands allowed inside claude, the CLI's
/// own default model unless one is named, few CLI retries under a shared limit, and aider quiet,
/// wide and without analytics.
@Suite struct AgentInvocationRealCLITests {
    static func task(_ agent: String, model: String?, isDefault: Bool, uses: [String] = []) -> PlannedTask {
        var task = PlannedTask(id: "t", group: "t", agent: agent, model: model, prompt: "p", uses: uses)
        task.modelIsDefault = isDefault
        return task
    }

    @Test func claudeGetsNoModelUnlessOneIsNamed() throws {
        let unnamed = try ClaudeAgent().invocation(for: Self.task("claude", model: "claude-opus-4-8", isDefault: true),
                                                   prompt: "p", context: AgentContext())
        #expect(!unnamed.arguments.contains("--model"), "the estimate's default model is not forced on the CLI")
        let named = try ClaudeAgent().invocation(for: Self.task("claude", model: "claude-sonnet-4-6", isDefault: false),
                                                 prompt: "p", context: AgentContext())
        #expect(named.arguments.suffix(2) == ["--model", "claude-sonnet-4-6"])
    }

    @Test func claudeAllowsMusterCommandsOnce() throws {
        let profile = AgentProfile(name: "lead", base: "claude", allowedTools: ["Bash(muster:*)", "Read"])
        let inv = try Agents.adapter(for: profile).invocation(for: Self.task("lead", model: nil, isDefault: true), prompt: "p",
                                                               context: AgentContext())
        let at = try #require(inv.arguments.firstIndex(of: "--allowedTools"))
        #expect(inv.arguments[at + 1] == "Bash(muster:*),Read")
    }

    @Test func claudeRetriesLittleOnASharedLimit() throws {
        let limited = try ClaudeAgent().invocation(for: Self.task("claude", model: nil, isDefault: true, uses: ["anthropic"]),
                                                   prompt: "p", context: AgentContext())
        #expect(limited.environment["CLAUDE_CODE_MAX_RETRIES"] == "2")
        let free = try ClaudeAgent().invocation(for: Self.task("claude", model: nil, isDefault: true), prompt: "p", context: AgentContext())
        #expect(free.environment["CLAUDE_CODE_MAX_RETRIES"] == nil, "without a shared limit the CLI's own retries stand")
    }

    @Test func aiderIsWideWithoutAnalyticsAndNamesItsScratchFiles() throws {
        let inv = try AiderAgent().invocation(for: Self.task("aider", model: nil, isDefault: true), prompt: "p", context: AgentContext())
        #expect(inv.arguments.contains("--analytics-disable"))
        #expect(!inv.arguments.contains("--model"))
        #expect(inv.environment["COLUMNS"] == "1000")
        #expect(AiderAgent().scratchFiles == [".aider*"])
        let custom = AgentProfile(name: "a2", base: "aider", scratchFiles: [".cache/**"])
        #expect(Agents.adapter(for: custom).scratchFiles == [".aider*", ".cache/**"])
        #expect(ClaudeAgent().scratchFiles.isEmpty)
    }

    @Test func scratchPathspecsAndMatchingAgree() {
        #expect(ScratchFiles.excludingPathspecs([".aider*"]) == [".", ":(exclude).aider*", ":(exclude)*/.aider*"])
        #expect(ScratchFiles.matches(".aider.tags.cache.v4/cache.db", [".aider*"]))
        #expect(ScratchFiles.matches("sub/.aider.chat.history.md", [".aider*"]))
        #expect(!ScratchFiles.matches("src/aider.txt", [".aider*"]))
        #expect(ScratchFiles.excludingPathspecs([]).isEmpty)
    }
}
