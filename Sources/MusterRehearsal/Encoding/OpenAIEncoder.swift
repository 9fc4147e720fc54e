import Foundation

/// OpenAI chat completions: a whole `chat.completion`, or `chat.completion.chunk`s as server-sent
/// events ending in `[DONE]`, with the usage chunk (empty `choices`) when `stream_options.include_usage`.
enum OpenAIEncoder {
    static func completionID() -> String { "chatcmpl-stub" + String(UInt64.random(in: 0..<UInt64.max), radix: 16) }

    static func usageObject(_ u: StubUsage) -> [String: Any] {
        ["prompt_tokens": u.input + u.cacheRead, "completion_tokens": u.output, "total_tokens": u.input + u.cacheRead + u.output,
         "prompt_tokens_details": ["cached_tokens": u.cacheRead]]
    }

    static func text(_ answer: ModelAnswer) -> String {
        answer.blocks.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined(separator: "\n")
    }

    static func toolCalls(_ answer: ModelAnswer) -> [[String: Any]] {
        answer.blocks.compactMap { block in
            guard case .toolUse(let id, let name, let input) = block else { return nil }
            return ["id": id, "type": "function", "function": ["name": name, "arguments": JSONText.encode(input)]]
        }
    }

    static func finishReason(_ answer: ModelAnswer) -> String { answer.toolUse ? "tool_calls" : "stop" }

    static func completion(_ answer: ModelAnswer, delay: Duration) -> StubResponse {
        var message: [String: Any] = ["role": "assistant", "content": text(answer)]
        let calls = toolCalls(answer)
        if !calls.isEmpty { message["tool_calls"] = calls }
        return .json(["id": completionID(), "object": "chat.completion", "created": Int(Date().timeIntervalSince1970),
                      "model": answer.model,
                      "choices": [["index": 0, "message": message, "finish_reason": finishReason(answer)] as [String: Any]],
                      "usage": usageObject(answer.usage)], delay: delay)
    }

    static func stream(_ answer: ModelAnswer, includeUsage: Bool, delay: Duration, gap: Duration) -> StubResponse {
        let id = completionID()
        let created = Int(Date().timeIntervalSince1970)
        func chunk(_ delta: [String: Any], finish: String? = nil) -> String {
            let choice: [String: Any] = ["index": 0, "delta": delta, "finish_reason": finish as Any? ?? NSNull()]
            return "data: " + JSONText.encode(["id": id, "object": "chat.completion.chunk", "created": created,
                                               "model": answer.model, "choices": [choice]]) + "\n\n"
        }
        var events = [chunk(["role": "assistant", "content": ""])]
        for piece in AnthropicEncoder.pieces(text(answer)) where !piece.isEmpty { events.append(chunk(["content": piece])) }
        for (index, call) in toolCalls(answer).enumerated() {
            var call = call
            call["index"] = index
            events.append(chunk(["tool_calls": [call]]))
        }
        events.append(chunk([:], finish: finishReason(answer)))
        if includeUsage {
            events.append("data: " + JSONText.encode(["id": id, "object": "chat.completion.chunk", "created": created,
                                                      "model": answer.model, "choices": [Any](),
                                                      "usage": usageObject(answer.usage)]) + "\n\n")
        }
        events.append("data: [DONE]\n\n")
        return .sse(events, delay: delay, gap: gap)
    }

    static func error(_ failure: StubFailure, model: String, delay: Duration) -> StubResponse {
        let body: [String: Any] = switch failure.status {
        case 429: ["message": failure.message ?? "Rate limit reached for \(model) in organization org-stub on requests per min (RPM): Limit 50, Used 50, Requested 1. (muster stub)",
                   "type": "requests", "param": NSNull(), "code": "rate_limit_exceeded"]
        case 529, 503: ["message": failure.message ?? "The server is overloaded. (muster stub)", "type": "server_error", "param": NSNull(), "code": "overloaded"]
        default: ["message": failure.message ?? "The server had an error. (muster stub)", "type": "server_error", "param": NSNull(), "code": NSNull()]
        }
        var headers: [(String, String)] = [("x-request-id", "req_stub_\(UInt32.random(in: 0..<UInt32.max))")]
        if let retryAfter = failure.retryAfter { headers.append(("retry-after", String(retryAfter))) }
        if failure.status == 429 {
            headers += [("x-ratelimit-limit-requests", "50"), ("x-ratelimit-remaining-requests", "0"),
                        ("x-ratelimit-reset-requests", "\(failure.retryAfter ?? 1)s")]
        }
        return .json(["error": body], status: failure.status, headers: headers, delay: delay)
    }
}
