import Foundation
import MusterCore
import MusterStore

/// Reads OpenCode's `opencode run --format json` output: JSON lines with a `type` and a `part`:
/// `step_start`, `text` (`part.text`), `tool_use`, `step_finish` (`part.tokens` with `input`,
/// `output`, `reasoning` and `cache.read`/`cache.write`, and `part.cost`), `error` (`error.name`,
/// `error.data.message`, `error.data.statusCode`) and a closing `done` (`reason`, `rejected`: the
/// permissions it auto-rejected, which are refused tool calls). Every line also has `timestamp` and
/// `sessionID`. The stream names no model. Field names checked against sst/opencode
/// `packages/opencode/src/cli/cmd/run.ts` (`emit(…)`).
public enum OpenCodeJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var lastText: String?
        var steps: [TokenUsage] = []
        var cost = 0.0
        var sawCost = false
        var errors: [String] = []
        var rateLimited = false
        var model: String?
        var denials = Denials()
        var done = false

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
            case "done":
                done = true
                for case let permission as String in event["rejected"] as? [Any] ?? [] {
                    denials.add(id: nil, PermissionDenial(tool: permission, input: ""))
                }
            case "error":
                let error = event["error"] as? [String: Any]
                let message = JSONValue.path(error, "data", "message") as? String ?? error?["message"] as? String
                    ?? error?["name"] as? String ?? "error"
                errors.append(message)
                let status = JSONValue.int(JSONValue.path(error, "data", "statusCode"))
                if RateLimit.status(status, kind: nil) != nil || RateLimit.mentioned(in: message + " " + (error?["name"] as? String ?? "")) {
                    rateLimited = true
                }
            default:
                continue
            }
        }
        let usage = TokenUsage.sum(steps)
        // OpenCode prints cost 0 for models it has no price for: that is unknown, not free.
        let reported: Double? = sawCost && (cost > 0 || usage?.total == 0) ? cost : nil
        let isError = !errors.isEmpty || !succeeded
        var report = AgentReport(result: lastText ?? errors.last ?? "", usage: usage, costUSD: reported,
                                 model: model, isError: isError, rateLimited: rateLimited, error: isError ? errors.last : nil)
        report.denials = denials.list
        report.usagePartial = !done && !succeeded && usage != nil
        return report
    }
}
