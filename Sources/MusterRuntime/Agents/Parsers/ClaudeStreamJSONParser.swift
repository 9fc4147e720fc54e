import Foundation
import MusterCore
import MusterStore

/// Reads Claude Code's `-p --output-format stream-json --verbose` output: one JSON event per line,
/// `system` (subtype `init` with the model; `api_retry` for each retry of a failed request;
/// `permission_denied` for a refused tool call), `assistant` and `user` messages,
/// `rate_limit_event`, and a closing `result` with `result`, `is_error`, `subtype`,
/// `total_cost_usd`, `usage`, `modelUsage` (per model), `permission_denials` and
/// `api_error_status`. The single-object `--output-format json` form is the same `result` event.
/// Field names checked against Claude Code 2.1.332's real output (Tests/MusterRuntimeTests/Fixtures/claude-*.jsonl).
public enum ClaudeStreamJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var initModel: String?
        var messageModel: String?
        var lastText: String?
        var messageUsage: [String: TokenUsage] = [:]
        var messageOrder: [String] = []
        var errors: [String] = []
        var structuredLimit = false
        var textLimit = false
        var result: [String: Any]?
        var denials = Denials()
        var toolCalls: [String: (name: String, input: String)] = [:]

        for event in JSONLines.objects(stdout) {
            switch event["type"] as? String {
            case "system":
                switch event["subtype"] as? String {
                case "init": initModel = initModel ?? ModelName.normalize(event["model"] as? String)
                case "permission_denied":
                    let id = event["tool_use_id"] as? String
                    let call = id.flatMap { toolCalls[$0] }
                    let name = event["tool_name"] as? String ?? call?.name ?? "tool"
                    denials.add(id: id, PermissionDenial(tool: name, input: call?.input ?? ToolInput.short(event["message"])))
                default: break
                }
            case "assistant":
                guard let message = event["message"] as? [String: Any] else { continue }
                // `<synthetic>`: Claude Code's own stand-in message for an API error, not a model.
                if let model = ModelName.normalize(message["model"] as? String), !model.hasPrefix("<") { messageModel = model }
                var texts: [String] = []
                for block in message["content"] as? [[String: Any]] ?? [] {
                    switch block["type"] as? String {
                    case "text": if let text = block["text"] as? String { texts.append(text) }
                    case "tool_use":
                        if let id = block["id"] as? String, toolCalls.count < 10_000 {
                            toolCalls[id] = (block["name"] as? String ?? "tool", ToolInput.short(block["input"]))
                        }
                    default: break
                    }
                }
                // An API failure is an assistant message flagged `is_api_error_message`, with the
                // status and type beside it ("error":"rate_limit", "api_error_type":"rate_limit_error").
                let apiError = event["is_api_error_message"] as? Bool == true || event["isApiErrorMessage"] as? Bool == true
                    || event["api_error_status"] != nil && !(event["api_error_status"] is NSNull)
                if RateLimit.status(JSONValue.int(event["api_error_status"]), kind: event["api_error_type"] as? String) != nil
                    || RateLimit.isKind(event["error"] as? String) {
                    structuredLimit = true
                }
                if !texts.isEmpty {
                    let text = texts.joined(separator: "\n")
                    if apiError || text.hasPrefix("API Error") {
                        errors.append(text)
                        if RateLimit.mentioned(in: text) { textLimit = true }
                    } else {
                        lastText = text
                    }
                }
                if let usage = usage(message["usage"] as? [String: Any]), !apiError {
                    // Each content block of one message repeats its usage: count the message once, at its last value.
                    let id = message["id"] as? String ?? "#\(messageOrder.count)"
                    if messageUsage[id] == nil { messageOrder.append(id) }
                    messageUsage[id] = usage
                }
            case "rate_limit_event":
                let status = JSONValue.path(event, "rate_limit_info", "status") as? String
                if status == "rejected" { structuredLimit = true }
            case "result":
                result = event
            case "error":
                errors.append(describe(event["error"]) ?? describe(event) ?? "error")
            default:
                continue
            }
        }

        guard let result else {
            // Cut off before its result (killed mid-stream): what the messages said so far, marked
            // partial; it did not finish cleanly.
            let summed = TokenUsage.sum(messageOrder.compactMap { messageUsage[$0] })
            var report = AgentReport(result: lastText ?? "", usage: summed, costUSD: nil, model: messageModel ?? initModel,
                                     isError: true, rateLimited: structuredLimit || textLimit || errors.contains(where: RateLimit.mentioned(in:)),
                                     error: errors.last)
            report.denials = denials.list
            report.usagePartial = summed != nil
            return report
        }
        let text = result["result"] as? String ?? lastText ?? ""
        let subtype = result["subtype"] as? String ?? ""
        let isError = (result["is_error"] as? Bool ?? false) || subtype.hasPrefix("error") || !succeeded
        if RateLimit.status(JSONValue.int(result["api_error_status"]), kind: result["api_error_type"] as? String) != nil {
            structuredLimit = true
        }
        if isError, !text.isEmpty { errors.append(text) }
        if let more = describe(result["error"]) { errors.append(more) }
        for case let denial as [String: Any] in result["permission_denials"] as? [Any] ?? [] {
            denials.add(id: denial["tool_use_id"] as? String,
                        PermissionDenial(tool: denial["tool_name"] as? String ?? "tool", input: ToolInput.short(denial["tool_input"])))
        }
        let total = usage(result["usage"] as? [String: Any]) ?? TokenUsage.sum(messageOrder.compactMap { messageUsage[$0] })
        let cost = JSONValue.double(result["total_cost_usd"]) ?? JSONValue.double(result["cost_usd"])
        var report = AgentReport(result: text, usage: total, costUSD: cost,
                                 model: usedModel(result["modelUsage"]) ?? messageModel ?? initModel, isError: isError,
                                 rateLimited: structuredLimit || textLimit || errors.contains(where: RateLimit.mentioned(in:)),
                                 error: isError ? (errors.last ?? "the agent reported an error") : nil)
        report.denials = denials.list
        return report
    }

    /// The model the result's `modelUsage` billed most output to: the one the task ran on
    /// (others may have routed or summarised). nil when it names none.
    static func usedModel(_ value: Any?) -> String? {
        guard let models = value as? [String: Any], !models.isEmpty else { return nil }
        let best = models.max { a, b in
            let x = JSONValue.int(JSONValue.path(a.value as? [String: Any], "outputTokens")) ?? 0
            let y = JSONValue.int(JSONValue.path(b.value as? [String: Any], "outputTokens")) ?? 0
            return x != y ? x < y : a.key > b.key
        }
        return ModelName.normalize(best?.key)
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
            if let message = object["message"] as? String { return message }
            return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
        default: return nil
        }
    }
}

/// Refused tool calls, once each (the event and the result's list name the same call), bounded.
struct Denials {
    private(set) var list: [PermissionDenial] = []
    private var seen = Set<String>()

    mutating func add(id: String?, _ denial: PermissionDenial) {
        let key = id ?? "\(denial.tool)\u{0}\(denial.input)"
        guard seen.insert(key).inserted, list.count < AgentFacts.maxDenials else { return }
        list.append(denial)
    }
}
