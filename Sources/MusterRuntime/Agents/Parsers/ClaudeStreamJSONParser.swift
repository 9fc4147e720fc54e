import Foundation
import MusterCore

/// Reads Claude Code's `-p --output-format stream-json --verbose` output: one JSON event per line,
/// `system` (subtype `init`, with the model), `assistant` and `user` messages, `rate_limit_event`,
/// and a closing `result` with `result`, `is_error`, `subtype`, `total_cost_usd` and `usage`
/// (`input_tokens`, `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`).
/// The single-object `--output-format json` form is the same `result` event and reads the same.
public enum ClaudeStreamJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var model: String?
        var lastText: String?
        var messageUsage: [String: TokenUsage] = [:]
        var messageOrder: [String] = []
        var errors: [String] = []
        var rejected = false
        var result: [String: Any]?

        for event in JSONLines.objects(stdout) {
            switch event["type"] as? String {
            case "system":
                if event["subtype"] as? String == "init", model == nil { model = ModelName.normalize(event["model"] as? String) }
            case "assistant":
                guard let message = event["message"] as? [String: Any] else { continue }
                if model == nil { model = ModelName.normalize(message["model"] as? String) }
                let texts = (message["content"] as? [[String: Any]] ?? []).compactMap { block in
                    block["type"] as? String == "text" ? block["text"] as? String : nil
                }
                if !texts.isEmpty {
                    let text = texts.joined(separator: "\n")
                    lastText = text
                    // API failures arrive as assistant text ("API Error: 529 {…overloaded_error…}").
                    if event["isApiErrorMessage"] as? Bool == true || text.hasPrefix("API Error") { errors.append(text) }
                }
                if let usage = usage(message["usage"] as? [String: Any]) {
                    // Each content block of one message repeats its usage: count the message once.
                    let id = message["id"] as? String ?? "#\(messageOrder.count)"
                    if messageUsage[id] == nil { messageOrder.append(id) }
                    messageUsage[id] = usage
                }
            case "rate_limit_event":
                let status = JSONValue.path(event, "rate_limit_info", "status") as? String
                if status == "rejected" { rejected = true }
            case "result":
                result = event
            case "error":
                errors.append(describe(event["error"]) ?? describe(event) ?? "error")
            default:
                continue
            }
        }

        guard let result else {
            // Cut off before its result: keep what the messages said; it did not finish cleanly.
            let summed = TokenUsage.sum(messageOrder.compactMap { messageUsage[$0] })
            return AgentReport(result: lastText ?? "", usage: summed, costUSD: nil, model: model, isError: true,
                               rateLimited: rejected || errors.contains(where: RateLimit.mentioned(in:)))
        }
        let text = result["result"] as? String ?? lastText ?? ""
        let subtype = result["subtype"] as? String ?? ""
        let isError = (result["is_error"] as? Bool ?? false) || subtype.hasPrefix("error") || !succeeded
        if isError, !text.isEmpty { errors.append(text) }
        if let more = describe(result["error"]) { errors.append(more) }
        if model == nil, let models = result["modelUsage"] as? [String: Any] {
            // The model that wrote the most is the one the task ran on.
            model = ModelName.normalize(models.max { a, b in
                (JSONValue.int(JSONValue.path(a.value as? [String: Any], "outputTokens")) ?? 0)
                    < (JSONValue.int(JSONValue.path(b.value as? [String: Any], "outputTokens")) ?? 0)
            }?.key)
        }
        let total = usage(result["usage"] as? [String: Any]) ?? TokenUsage.sum(messageOrder.compactMap { messageUsage[$0] })
        let cost = JSONValue.double(result["total_cost_usd"]) ?? JSONValue.double(result["cost_usd"])
        return AgentReport(result: text, usage: total, costUSD: cost, model: model, isError: isError,
                           rateLimited: rejected || errors.contains(where: RateLimit.mentioned(in:)))
    }

    /// Anthropic's usage object; nil when it names none of the counts.
    static func usage(_ object: [String: Any]?) -> TokenUsage? {
        guard let object else { return nil }
        let input = JSONValue.int(object["input_tokens"])
        let output = JSONValue.int(object["output_tokens"])
        let read = JSONValue.int(object["cache_read_input_tokens"])
        let write = JSONValue.int(object["cache_creation_input_tokens"])
        guard input != nil || output != nil || read != nil || write != nil else { return nil }
        return TokenUsage(input: input ?? 0, output: output ?? 0, cacheRead: read ?? 0, cacheWrite: write ?? 0)
    }

    static func describe(_ value: Any?) -> String? {
        switch value {
        case let s as String: return s
        case let object as [String: Any]:
            return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
        default: return nil
        }
    }
}
