import Foundation
import MusterCore

/// A simulated agent: a real process that sleeps for the task's estimate (divided by the
/// simulation speed) and prints the estimated tokens in a real agent's output format, so
/// `--simulate` previews wall-clock and cost, and tests drive adapter → parser → cost, through the
/// same path as a paid agent.
///
/// The format is the profile's `output:` (a profile with `base: sim`); otherwise the one the task's
/// own agent prints (under `--simulate` every task runs here), and Claude Code's stream-json for
/// `sim` itself. It never reports a cost: the price table prices its tokens.
public struct SimAgent: AgentAdapter {
    public let name: String
    public let spendsTokens = true
    /// nil: follow the task's agent.
    public let format: AgentOutputFormat?

    public init(name: String = "sim", format: AgentOutputFormat? = nil) {
        self.name = name
        self.format = format
    }

    public func format(for task: PlannedTask) -> AgentOutputFormat {
        if let format { return format }
        if let profile = Agents.profile(named: task.agent) {
            return profile.base == "sim" ? (profile.output ?? .claudeStreamJSON) : profile.format
        }
        if task.agent == "shell" { return .claudeStreamJSON }
        return BuiltinAgents.output(for: task.agent) ?? .claudeStreamJSON
    }

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        let seconds = (task.estimate?.minutes ?? 0) * 60 / max(context.simulationSpeed, 0.000_001)
        let result = "simulated \(task.id)" + (task.item.map { " for \($0.text)" } ?? "")
        let usage = TokenUsage(input: task.estimate?.inputTokens ?? 0, output: task.estimate?.outputTokens ?? 0)
        let output = try SimOutput.render(format(for: task), result: result, usage: usage, model: task.model,
                                          milliseconds: Int(seconds * 1000))
        // A shell that runs sleep, then prints the output: two small processes, a few ms of CPU in all.
        return AgentInvocation(executable: "/bin/sh",
                               arguments: ["sh", "-c", "sleep \"$1\" && printf '%s\\n' \"$2\"", "muster-sim",
                                           String(format: "%.3f", seconds), output])
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        Agents.parse(stdout, format: format(for: task), succeeded: status.succeeded)
    }
}

/// What each agent prints for one finished run, in its own format.
enum SimOutput {
    static func render(_ format: AgentOutputFormat, result: String, usage: TokenUsage, model: String?, milliseconds: Int) throws -> String {
        switch format {
        case .claudeStreamJSON:
            let session = "sim-\(UUID().uuidString.lowercased())"
            let tokens: [String: Any] = ["input_tokens": usage.input, "output_tokens": usage.output,
                                         "cache_read_input_tokens": usage.cacheRead, "cache_creation_input_tokens": usage.cacheWrite]
            return try lines([
                ["type": "system", "subtype": "init", "session_id": session, "model": model ?? "", "permissionMode": "acceptEdits",
                 "tools": ["Read", "Edit", "Write"]],
                ["type": "assistant", "session_id": session,
                 "message": ["id": "msg_sim", "type": "message", "role": "assistant", "model": model ?? "",
                             "content": [["type": "text", "text": result]], "usage": tokens]],
                ["type": "result", "subtype": "success", "is_error": false, "duration_ms": milliseconds, "num_turns": 1,
                 "result": result, "session_id": session, "usage": tokens],
            ])
        case .codexJSON:
            return try lines([
                ["type": "thread.started", "thread_id": "sim-\(UUID().uuidString.lowercased())"],
                ["type": "turn.started"],
                ["type": "item.completed", "item": ["id": "item_0", "type": "agent_message", "text": result]],
                ["type": "turn.completed", "usage": ["input_tokens": usage.input + usage.cacheRead,
                                                     "cached_input_tokens": usage.cacheRead, "output_tokens": usage.output]],
            ])
        case .geminiJSON:
            let tokens: [String: Any] = ["prompt": usage.input + usage.cacheRead, "candidates": usage.output, "cached": usage.cacheRead,
                                         "thoughts": 0, "tool": 0, "total": usage.input + usage.cacheRead + usage.output]
            let object: [String: Any] = [
                "response": result,
                "stats": ["models": [model ?? "unknown": ["api": ["totalRequests": 1, "totalErrors": 0, "totalLatencyMs": milliseconds],
                                                          "tokens": tokens]],
                          "tools": ["totalCalls": 0, "totalSuccess": 0, "totalFail": 0]],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        case .openCodeJSON:
            let session = "ses_sim\(Int.random(in: 100_000...999_999))"
            return try lines([
                ["type": "step_start", "sessionID": session, "part": ["type": "step-start"]],
                ["type": "text", "sessionID": session, "part": ["type": "text", "text": result]],
                ["type": "step_finish", "sessionID": session,
                 "part": ["type": "step-finish", "reason": "stop",
                          "tokens": ["input": usage.input, "output": usage.output, "reasoning": 0,
                                     "cache": ["read": usage.cacheRead, "write": usage.cacheWrite]]]],
            ])
        case .text:
            var out = ""
            if let model { out += "Model: \(model) with diff edit format\n" }
            out += result + "\n"
            var tokens = "Tokens: \(aiderCount(usage.input + usage.cacheWrite + usage.cacheRead)) sent"
            if usage.cacheWrite > 0 { tokens += ", \(aiderCount(usage.cacheWrite)) cache write" }
            if usage.cacheRead > 0 { tokens += ", \(aiderCount(usage.cacheRead)) cache hit" }
            out += tokens + ", \(aiderCount(usage.output)) received."
            return out
        }
    }

    static func lines(_ objects: [[String: Any]]) throws -> String {
        try objects.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            .joined(separator: "\n")
    }

    /// Aider's abbreviation: 345, 1.2k, 12k.
    static func aiderCount(_ n: Int) -> String {
        if n < 1000 { return "\(n)" }
        if n < 10_000 { return String(format: "%.1fk", Double(n) / 1000) }
        return "\(Int((Double(n) / 1000).rounded()))k"
    }
}
