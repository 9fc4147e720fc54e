import Foundation
import MusterCore
import MusterStore

/// Reads Codex CLI's `codex exec --json` output: JSON lines `thread.started`, `turn.started`,
/// `item.started`/`item.updated`/`item.completed` (the final answer is an `agent_message` item),
/// `turn.completed` with `usage` (`input_tokens`, which includes `cached_input_tokens`, and
/// `output_tokens`), `turn.failed` (`error.message`) and `error` (`message`). A `command_execution`
/// item whose `status` is `declined` is a refused tool call. The stream names no model (the
/// task's own is priced). Field names checked against openai/codex `codex-rs/exec/src/exec_events.rs`.
public enum CodexJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var lastMessage: String?
        var turns: [TokenUsage] = []
        var errors: [String] = []
        var completed = false
        var failed = false
        var model: String?
        var denials = Denials()

        for event in JSONLines.objects(stdout) {
            if model == nil { model = ModelName.normalize(event["model"] as? String) }
            switch event["type"] as? String {
            case "item.completed":
                guard let item = event["item"] as? [String: Any] else { continue }
                switch item["type"] as? String ?? item["item_type"] as? String {
                case "command_execution":
                    if item["status"] as? String == "declined" {
                        denials.add(id: item["id"] as? String, PermissionDenial(tool: "command", input: ToolInput.short(item["command"])))
                    }
                case "agent_message", "assistant_message":
                    if let text = item["text"] as? String { lastMessage = text }
                case "error":
                    if let message = item["message"] as? String { errors.append(message) }
                default: break
                }
            case "turn.completed":
                completed = true
                if let usage = event["usage"] as? [String: Any] {
                    let input = JSONValue.int(usage["input_tokens"])
                    let cached = JSONValue.int(usage["cached_input_tokens"]) ?? 0
                    let output = JSONValue.int(usage["output_tokens"])
                    if input != nil || output != nil {
                        // Cached input is part of input_tokens and billed at the cache-read price.
                        turns.append(TokenUsage(input: max(0, (input ?? 0) - cached), output: output ?? 0, cacheRead: min(cached, input ?? cached)))
                    }
                }
            case "turn.failed":
                failed = true
                errors.append(JSONValue.path(event, "error", "message") as? String ?? "turn failed")
            case "error":
                failed = true
                errors.append(event["message"] as? String ?? (JSONValue.path(event, "error", "message") as? String) ?? "error")
            default:
                continue
            }
        }
        let rateLimited = errors.contains(where: RateLimit.mentioned(in:))
        let result = lastMessage ?? errors.last ?? ""
        let isError = failed || !completed || !succeeded
        var report = AgentReport(result: result, usage: TokenUsage.sum(turns), costUSD: nil, model: model,
                                 isError: isError, rateLimited: rateLimited, error: isError ? errors.last : nil)
        report.denials = denials.list
        report.usagePartial = !completed && !turns.isEmpty
        return report
    }
}
