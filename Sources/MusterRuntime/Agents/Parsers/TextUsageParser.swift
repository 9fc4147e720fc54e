import Foundation
import MusterCore

/// Reads plain-text agent output: the result is the text itself. Token and cost lines in Aider's
/// form are read when present: `Tokens: 12k sent, 1.1k cache write, 8.2k cache hit, 345 received.`
/// (one per model reply; counts abbreviated as `1.2k`/`12k`) and `Cost: $0.03 message, $0.09 session.`
/// (the session figure is the running total). `Model: NAME …` or `Main model: NAME …` names the model.
public enum TextUsageParser {
    static let tokens = try! NSRegularExpression(
        pattern: #"Tokens: ([0-9][0-9.,]*[kKmM]?) sent(?:, ([0-9][0-9.,]*[kKmM]?) cache write)?(?:, ([0-9][0-9.,]*[kKmM]?) cache hit)?, ([0-9][0-9.,]*[kKmM]?) received"#)
    static let cost = try! NSRegularExpression(pattern: #"Cost: \$([0-9][0-9.,]*) message, \$([0-9][0-9.,]*) session"#)
    static let model = try! NSRegularExpression(pattern: #"^(?:Main model|Model): ([^\s,]+)"#, options: [.anchorsMatchLines])

    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        var parts: [TokenUsage] = []
        var session: Double?
        var modelName: String?
        var rateLimited = false
        for line in stdout.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let text = String(line)
            let range = NSRange(text.startIndex..., in: text)
            if let m = tokens.firstMatch(in: text, range: range) {
                let sent = count(m, 1, in: text) ?? 0
                let write = count(m, 2, in: text) ?? 0
                let hit = count(m, 3, in: text) ?? 0
                let received = count(m, 4, in: text) ?? 0
                // "sent" counts every prompt token, cached ones included.
                parts.append(TokenUsage(input: max(0, sent - write - hit), output: received, cacheRead: hit, cacheWrite: write))
            }
            if let m = cost.firstMatch(in: text, range: range), let value = group(m, 2, in: text).flatMap({ Double($0.replacingOccurrences(of: ",", with: "")) }) {
                session = value
            }
            if modelName == nil, let m = model.firstMatch(in: text, range: range) {
                modelName = ModelName.normalize(group(m, 1, in: text))
            }
            if looksLikeError(text), RateLimit.mentioned(in: text) { rateLimited = true }
        }
        let usage = TokenUsage.sum(parts)
        return AgentReport(result: stdout, usage: usage, costUSD: session, model: modelName,
                           isError: !succeeded || (rateLimited && usage == nil), rateLimited: rateLimited)
    }

    static func looksLikeError(_ line: String) -> Bool {
        let lower = line.lowercased()
        return ["error", "exceeded", "retrying", "429", "529", "overloaded", "too many requests"].contains { lower.contains($0) }
    }

    static func group(_ match: NSTextCheckingResult, _ index: Int, in text: String) -> String? {
        guard let range = Range(match.range(at: index), in: text) else { return nil }
        return String(text[range])
    }

    /// `345`, `1,234`, `1.2k`, `12k`, `1.5M`.
    static func count(_ match: NSTextCheckingResult, _ index: Int, in text: String) -> Int? {
        guard var raw = group(match, index, in: text)?.replacingOccurrences(of: ",", with: "") else { return nil }
        var scale = 1.0
        switch raw.last {
        case "k", "K": scale = 1_000; raw.removeLast()
        case "m", "M": scale = 1_000_000; raw.removeLast()
        default: break
        }
        return Double(raw).map { Int(($0 * scale).rounded()) }
    }
}
