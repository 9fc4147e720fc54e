import Foundation
import MusterCore

/// Pieces every output parser shares. Parsers never throw: a line that is not JSON, or JSON of an
/// unexpected shape, is skipped, and whatever did parse is kept.
enum JSONLines {
    /// Every line of `text` that is a JSON object, in order; garbage and truncated lines are skipped.
    static func objects(_ text: String) -> [[String: Any]] {
        var out: [[String: Any]] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            guard let object = object(String(line)) else { continue }
            out.append(object)
        }
        return out
    }

    static func object(_ text: String) -> [String: Any]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.first == "{", trimmed.last == "}" else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any]
    }
}

/// Loose readers for JSON values whose numbers may arrive as Int, Double or text.
enum JSONValue {
    // No Bool check: on Linux a JSON 0 or 1 is an NSNumber that also casts to Bool.
    static func int(_ value: Any?) -> Int? {
        if let s = value as? String { return Int(s).flatMap { $0 >= 0 ? $0 : nil } }
        guard let d = double(value), d >= 0, d < 1e15 else { return nil }
        return Int(d)
    }

    static func double(_ value: Any?) -> Double? {
        if let s = value as? String { return Double(s) }
        if let n = value as? NSNumber, n.doubleValue.isFinite { return n.doubleValue }
        if let d = value as? Double, d.isFinite { return d }
        if let i = value as? Int { return Double(i) }
        return nil
    }

    static func bool(_ value: Any?) -> Bool? { value as? Bool }

    static func string(_ value: Any?) -> String? {
        guard let s = value as? String, !s.isEmpty else { return nil }
        return s
    }

    /// `object[a][b]…` when every step is a mapping.
    static func path(_ object: [String: Any]?, _ keys: String...) -> Any? {
        var current: Any? = object
        for key in keys { current = (current as? [String: Any])?[key] }
        return current
    }
}

/// Model names as agents print them, made to match the price table: no provider prefix
/// (`anthropic/`), no context-window suffix (`[1m]`).
enum ModelName {
    static func normalize(_ raw: String?) -> String? {
        guard var name = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else { return nil }
        if let bracket = name.firstIndex(of: "[") { name = String(name[..<bracket]) }
        if let slash = name.lastIndex(of: "/") { name = String(name[name.index(after: slash)...]) }
        return name.isEmpty ? nil : name
    }
}

/// Recognises a rate-limit or overload error: from an agent's structured fields first (an HTTP
/// status, an error type), from the text of an error message second (never in ordinary output).
enum RateLimit {
    static let patterns: [NSRegularExpression] = [
        #"rate[ _-]?limit"#,
        #"overloaded"#,
        #"too many requests"#,
        #"resource[ _]exhausted"#,
        #"quota exceeded"#,
        #"(status|code|error)[^0-9\n]{0,16}\b(429|529)\b"#,
        #"\b(429|529)\b[^\n]{0,24}(error|too many|overloaded)"#,
        // Claude Code: `API Error: Request rejected (429) · Please slow down.`
        #"api error[^\n]{0,40}\((429|529)\)"#,
        #"request rejected \((429|529)\)"#,
    ].map { try! NSRegularExpression(pattern: $0, options: [.caseInsensitive]) }

    static func mentioned(in text: String) -> Bool {
        let range = NSRange(text.startIndex..., in: text)
        return patterns.contains { $0.firstMatch(in: text, range: range) != nil }
    }

    /// Error types and codes the APIs use for "slow down": Anthropic `rate_limit_error`,
    /// `overloaded_error` (and Claude Code's short `rate_limit`, `overloaded`), OpenAI
    /// `rate_limit_exceeded`, Google `RESOURCE_EXHAUSTED`, litellm `RateLimitError`.
    static let kinds: Set<String> = ["rate_limit", "rate_limit_error", "overloaded", "overloaded_error", "rate_limit_exceeded",
                                     "resource_exhausted", "ratelimiterror", "too_many_requests"]

    static func isKind(_ kind: String?) -> Bool {
        guard let kind else { return false }
        return kinds.contains(kind.lowercased())
    }

    /// 429 or 529 from a structured status, or from a structured error type when no status is given.
    static func status(_ status: Int?, kind: String?) -> Int? {
        if let status, status == 429 || status == 529 { return status }
        guard isKind(kind) else { return nil }
        return kind!.lowercased().hasPrefix("overloaded") ? 529 : 429
    }
}

/// Short, readable forms of a tool call's input for denial lists: the path or command it was
/// about, else compact JSON, at most `limit` characters.
enum ToolInput {
    static func short(_ value: Any?, limit: Int = 160) -> String {
        var text: String
        switch value {
        case let object as [String: Any]:
            let keys = ["command", "file_path", "filePath", "path", "notebook_path", "url", "pattern", "query"]
            if let key = keys.first(where: { object[$0] is String }) {
                text = object[key] as! String
            } else {
                text = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
        case let s as String: text = s
        default: text = ""
        }
        text = text.replacingOccurrences(of: "\n", with: " ")
        return text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }
}

extension TokenUsage {
    /// nil when nothing was counted at all.
    static func sum(_ parts: [TokenUsage]) -> TokenUsage? {
        parts.isEmpty ? nil : parts.reduce(TokenUsage(), +)
    }
}
