import Foundation
import MusterCore

/// Reads OpenCode's `opencode run --format json` output: JSON lines with a `type` and a `part`:
/// `step_start`, `text` (`part.text`), `tool_use`, `step_finish` (`part.tokens` with `input`,
/// `output`, `reasoning` and `cache.read`/`cache.write`, and `part.cost`) and `error`.
public enum OpenCodeJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var lastText: String?
        var steps: [TokenUsage] = []
        var cost = 0.0
        var sawCost = false
        var errors: [String] = []
        var rateLimited = false
        var model: String?

        for event in JSONLines.objects(stdout) {
            let part = event["part"] as? [String: Any]
            if model == nil { model = ModelName.normalize(part?["modelID"] as? String ?? event["modelID"] as? String) }
            switch event["type"] as? String {
            case "text":
                if let text = part?["text"] as? String { lastText = text }
            case "step_finish":
                if let tokens = part?["tokens"] as? [String: Any] {
                    let input = JSONValue.int(tokens["input"])
                    let output = JSONValue.int(tokens["output"])
                    if input != nil || output != nil {
                        steps.append(TokenUsage(
                            input: input ?? 0, output: (output ?? 0) + (JSONValue.int(tokens["reasoning"]) ?? 0),
                            cacheRead: JSONValue.int(JSONValue.path(tokens, "cache", "read")) ?? 0,
                            cacheWrite: JSONValue.int(JSONValue.path(tokens, "cache", "write")) ?? 0))
                    }
                }
                if let c = JSONValue.double(part?["cost"]) {
                    cost += c
                    sawCost = true
                }
            case "error":
                let error = event["error"] as? [String: Any]
                let message = JSONValue.path(error, "data", "message") as? String ?? error?["message"] as? String
                    ?? error?["name"] as? String ?? "error"
                errors.append(message)
                let status = JSONValue.int(JSONValue.path(error, "data", "statusCode"))
                if status == 429 || status == 529 || RateLimit.mentioned(in: message + " " + (error?["name"] as? String ?? "")) {
                    rateLimited = true
                }
            default:
                continue
            }
        }
        let usage = TokenUsage.sum(steps)
        // OpenCode prints cost 0 for models it has no price for: that is unknown, not free.
        let reported: Double? = sawCost && (cost > 0 || usage?.total == 0) ? cost : nil
        return AgentReport(result: lastText ?? errors.last ?? "", usage: usage, costUSD: reported,
                           model: model, isError: !errors.isEmpty || !succeeded, rateLimited: rateLimited)
    }
}
