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

/// Recognises a rate-limit or overload error in an error message (never in ordinary output).
enum RateLimit {
    static let patterns: [NSRegularExpression] = [
        #"rate[ _-]?limit"#,
        #"overloaded"#,
        #"too many requests"#,
        #"resource[ _]exhausted"#,
        #"quota exceeded"#,
        #"(status|code|error)[^0-9\n]{0,16}\b(429|529)\b"#,
        #"\b(429|529)\b[^\n]{0,24}(error|too many|overloaded)"#,
    ].map { try! NSRegularExpression(pattern: $0, options: [.caseInsensitive]) }

    static func mentioned(in text: String) -> Bool {
        let range = NSRange(text.startIndex..., in: text)
        return patterns.contains { $0.firstMatch(in: text, range: range) != nil }
    }
}

extension TokenUsage {
    /// nil when nothing was counted at all.
    static func sum(_ parts: [TokenUsage]) -> TokenUsage? {
        parts.isEmpty ? nil : parts.reduce(TokenUsage(), +)
    }
}
