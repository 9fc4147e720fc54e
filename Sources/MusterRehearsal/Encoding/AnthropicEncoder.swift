import Foundation

/// The Anthropic Messages API's shapes: a streamed answer as server-sent events
/// (`message_start` … `message_stop`), a whole message, and error bodies with their headers.
enum AnthropicEncoder {
    static func messageID() -> String { "msg_stub_" + String(UInt64.random(in: 0..<UInt64.max), radix: 16) }

    static func usageObject(_ u: StubUsage, output: Int) -> [String: Any] {
        ["input_tokens": u.input, "output_tokens": output, "cache_creation_input_tokens": u.cacheWrite,
         "cache_read_input_tokens": u.cacheRead]
    }

    static func blocks(_ answer: ModelAnswer) -> [[String: Any]] {
        answer.blocks.map { block in
            switch block {
            case .text(let text): ["type": "text", "text": text]
            case .toolUse(let id, let name, let input): ["type": "tool_use", "id": id, "name": name, "input": input]
            }
        }
    }

    static func stopReason(_ answer: ModelAnswer) -> String { answer.toolUse ? "tool_use" : "end_turn" }

    static func message(_ answer: ModelAnswer, delay: Duration) -> StubResponse {
        .json(["id": messageID(), "type": "message", "role": "assistant", "model": answer.model, "content": blocks(answer),
               "stop_reason": stopReason(answer), "stop_sequence": NSNull(),
               "usage": usageObject(answer.usage, output: answer.usage.output)],
              headers: [("request-id", "req_stub_\(UInt32.random(in: 0..<UInt32.max))")], delay: delay)
    }

    static func event(_ name: String, _ data: [String: Any]) -> String {
        "event: \(name)\ndata: \(JSONText.encode(data))\n\n"
    }

    /// The streamed answer; text goes out in a few deltas, so a slow stream (`chunk_delay_ms`) can be cut mid-way.
    static func stream(_ answer: ModelAnswer, delay: Duration, gap: Duration) -> StubResponse {
        var events = [event("message_start", ["type": "message_start", "message": [
            "id": messageID(), "type": "message", "role": "assistant", "model": answer.model, "content": [Any](),
            "stop_reason": NSNull(), "stop_sequence": NSNull(), "usage": usageObject(answer.usage, output: 1)] as [String: Any]])]
        events.append(event("ping", ["type": "ping"]))
        for (index, block) in answer.blocks.enumerated() {
            switch block {
            case .text(let text):
                events.append(event("content_block_start", ["type": "content_block_start", "index": index,
                                                              "content_block": ["type": "text", "text": ""]]))
                for piece in pieces(text) {
                    events.append(event("content_block_delta", ["type": "content_block_delta", "index": index,
                                                                 "delta": ["type": "text_delta", "text": piece]]))
                }
            case .toolUse(let id, let name, let input):
                events.append(event("content_block_start", ["type": "content_block_start", "index": index,
                                                              "content_block": ["type": "tool_use", "id": id, "name": name,
                                                                                "input": [String: Any]()] as [String: Any]]))
                events.append(event("content_block_delta", ["type": "content_block_delta", "index": index,
                                                             "delta": ["type": "input_json_delta", "partial_json": JSONText.encode(input)]]))
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": index]))
        }
        events.append(event("message_delta", ["type": "message_delta",
                                              "delta": ["stop_reason": stopReason(answer), "stop_sequence": NSNull()] as [String: Any],
                                              "usage": ["output_tokens": answer.usage.output]]))
        events.append(event("message_stop", ["type": "message_stop"]))
        var response = StubResponse.sse(events, delay: delay, gap: gap)
        response.headers.append(("request-id", "req_stub_\(UInt32.random(in: 0..<UInt32.max))"))
        return response
    }

    /// Up to 8 pieces, split at spaces.
    static func pieces(_ text: String) -> [String] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard words.count > 1 else { return [text] }
        let per = max(1, (words.count + 7) / 8)
        var out: [String] = []
        var index = 0
        while index < words.count {
            let end = min(words.count, index + per)
            var piece = words[index..<end].joined(separator: " ")
            if end < words.count { piece += " " }
            out.append(piece)
            index = end
        }
        return out
    }

    /// 429 `rate_limit_error`, 529 `overloaded_error`, 5xx `api_error`, as the API sends them.
    static func error(_ failure: StubFailure, delay: Duration) -> StubResponse {
        let (type, message): (String, String) = switch failure.status {
        case 429: ("rate_limit_error", failure.message ?? "This request would exceed the rate limit for your organization of 50 requests per minute. (muster stub)")
        case 529: ("overloaded_error", failure.message ?? "Overloaded")
        default: ("api_error", failure.message ?? "Internal server error")
        }
        var headers: [(String, String)] = [("request-id", "req_stub_\(UInt32.random(in: 0..<UInt32.max))"), ("x-should-retry", "true")]
        if let retryAfter = failure.retryAfter { headers.append(("retry-after", String(retryAfter))) }
        if failure.status == 429 {
            headers += [("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "0"),
                        ("anthropic-ratelimit-requests-reset", ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(failure.retryAfter ?? 1))))]
        }
        return .json(["type": "error", "error": ["type": type, "message": message]], status: failure.status, headers: headers, delay: delay)
    }
}
