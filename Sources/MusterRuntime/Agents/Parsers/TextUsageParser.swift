import Foundation
import MusterCore

/// Reads plain-text agent output: the result is the text itself. Token and cost lines in Aider's
/// form are read when present: `Tokens: 12k sent, 1.1k cache write, 8.2k cache hit, 345 received.`
/// (one per model reply; counts abbreviated as `1.2k`/`12k`) and `Cost: $0.03 message, $0.09 session.`
/// (the session figure is the running total), also when a narrow terminal wrapped them over
/// several lines. `Model: NAME …` or `Main model: NAME …` names the model.
public enum TextUsageParser {
    // `\s+` between words: off a terminal Aider wraps these lines at 80 columns.
    static let tokens = try! NSRegularExpression(
        pattern: #"Tokens:\s+([0-9][0-9.,]*[kKmM]?)\s+sent(?:,\s+([0-9][0-9.,]*[kKmM]?)\s+cache\s+write)?(?:,\s+([0-9][0-9.,]*[kKmM]?)\s+cache\s+hit)?,\s+([0-9][0-9.,]*[kKmM]?)\s+received"#)
    static let cost = try! NSRegularExpression(pattern: #"Cost:\s+\$([0-9][0-9.,]*)\s+message,\s+\$([0-9][0-9.,]*)\s+session"#)
    static let model = try! NSRegularExpression(pattern: #"^(?:Main model|Model): ([^\s,]+)"#, options: [.anchorsMatchLines])

    /// What the text says about usage, cost and model, and where its last usage line ended.
    struct Figures {
        var usage: TokenUsage?
        var session: Double?
        var model: String?
        /// Offset (UTF-16) just past the last `Tokens:` line: errors after it came after the last reply.
        var lastUsageEnd = 0
    }

    static func figures(_ stdout: String) -> Figures {
        var figures = Figures()
        let range = NSRange(stdout.startIndex..., in: stdout)
        var parts: [TokenUsage] = []
        for m in tokens.matches(in: stdout, range: range) {
            let sent = count(m, 1, in: stdout) ?? 0
            let write = count(m, 2, in: stdout) ?? 0
            let hit = count(m, 3, in: stdout) ?? 0
            let received = count(m, 4, in: stdout) ?? 0
            // "sent" counts every prompt token, cached ones included.
            parts.append(TokenUsage(input: max(0, sent - write - hit), output: received, cacheRead: hit, cacheWrite: write))
            figures.lastUsageEnd = m.range.location + m.range.length
        }
        figures.usage = TokenUsage.sum(parts)
        if let m = cost.matches(in: stdout, range: range).last {
            figures.session = group(m, 2, in: stdout).flatMap { Double($0.replacingOccurrences(of: ",", with: "")) }
        }
        if let m = model.firstMatch(in: stdout, range: range) { figures.model = ModelName.normalize(group(m, 1, in: stdout)) }
        return figures
    }

    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        let figures = figures(stdout)
        var rateLimited = false
        var lastError: String?
        for line in stdout.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let text = String(line)
            if looksLikeError(text), RateLimit.mentioned(in: text) {
                rateLimited = true
                lastError = text
            }
        }
        let failed = !succeeded || (rateLimited && figures.usage == nil)
        return AgentReport(result: stdout, usage: figures.usage, costUSD: figures.session, model: figures.model,
                           isError: failed, rateLimited: rateLimited, error: failed ? lastError : nil)
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
