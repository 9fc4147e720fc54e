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
///
/// A task with `env: {MUSTER_SIM_RATE_LIMIT_ATTEMPTS: N}` fails its first N attempts with that
/// format's own 429 error (what the real parser reads as a rate limit), for tests of cool-downs.
public struct SimAgent: AgentAdapter {
    public static let rateLimitAttemptsVariable = "MUSTER_SIM_RATE_LIMIT_ATTEMPTS"
    public let name: String
    public let spendsTokens = true
    /// nil: follow the task's agent.
    public let format: AgentOutputFormat?
    /// The run's custom profiles: a task on one prints in its profile's format.
    public let profiles: [String: AgentProfile]

    public init(name: String = "sim", format: AgentOutputFormat? = nil, profiles: [String: AgentProfile] = [:]) {
        self.name = name
        self.format = format
        self.profiles = profiles
    }

    public func format(for task: PlannedTask) -> AgentOutputFormat {
        if let format { return format }
        if let profile = profiles[task.agent] {
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
        let sleep = String(format: "%.3f", seconds)
        if let text = task.env[Self.rateLimitAttemptsVariable], let attempts = Int(text), attempts > 0 {
            // The orchestrator sets MUSTER_ATTEMPT: the first `attempts` starts print the 429 and fail.
            let limited = try SimOutput.rateLimited(format(for: task), model: task.model)
            return AgentInvocation(executable: "/bin/sh", arguments: [
                "sh", "-c", "sleep \"$1\" || exit; if [ \"${MUSTER_ATTEMPT:-1}\" -le \(attempts) ]; then printf '%s\\n' \"$3\"; exit 1; fi; printf '%s\\n' \"$2\"",
                "muster-sim", sleep, output, limited,
            ])
        }
        // A shell that runs sleep, then prints the output: two small processes, a few ms of CPU in all.
        return AgentInvocation(executable: "/bin/sh",
                               arguments: ["sh", "-c", "sleep \"$1\" && printf '%s\\n' \"$2\"", "muster-sim", sleep, output])
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

    /// What each agent prints when its API answers 429 (the shapes of the parser fixtures).
    static func rateLimited(_ format: AgentOutputFormat, model: String?) throws -> String {
        let apiError = #"API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#
        switch format {
        case .claudeStreamJSON:
            let session = "sim-\(UUID().uuidString.lowercased())"
            let zero: [String: Any] = ["input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0]
            return try lines([
                ["type": "system", "subtype": "init", "session_id": session, "model": model ?? "", "permissionMode": "acceptEdits", "tools": []],
                ["type": "assistant", "session_id": session, "isApiErrorMessage": true,
                 "message": ["id": "msg_err", "type": "message", "role": "assistant", "model": "<synthetic>",
                             "content": [["type": "text", "text": apiError]], "usage": zero]],
                ["type": "result", "subtype": "success", "is_error": true, "duration_ms": 0, "num_turns": 1, "result": apiError,
                 "session_id": session, "total_cost_usd": 0, "usage": zero],
            ])
        case .codexJSON:
            let message = "exceeded retry limit, last status: 429 Too Many Requests"
            return try lines([
                ["type": "thread.started", "thread_id": "sim-\(UUID().uuidString.lowercased())"],
                ["type": "turn.started"],
                ["type": "error", "message": message],
                ["type": "turn.failed", "error": ["message": message]],
            ])
        case .geminiJSON:
            let object: [String: Any] = ["error": ["type": "Error", "code": 429,
                                                   "message": "[API Error: got status: 429 Too Many Requests. Resource has been exhausted (e.g. check quota).]"]]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
        case .openCodeJSON:
            let session = "ses_sim\(Int.random(in: 100_000...999_999))"
            return try lines([
                ["type": "step_start", "sessionID": session, "part": ["type": "step-start"]],
                ["type": "error", "sessionID": session,
                 "error": ["name": "APIError", "data": ["message": "Rate limit reached for requests", "statusCode": 429, "isRetryable": true]]],
            ])
        case .text:
            return """
                litellm.RateLimitError: AnthropicException - {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}
                The API provider has rate limited you. Try again later or check your quotas.
                """
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
