import Foundation
import MusterCore

/// Reads aider's text output (aider-chat 0.86.2, checked against its real output in
/// Tests/MusterRuntimeTests/Fixtures/aider-*.out): the result is its reply without the start-up
/// noise (git hints, the banner `Aider v…`, `Main model:`, `Git repo:`, `Repo-map:`, litellm's
/// failed price-table fetch) and without its `Tokens:`/`Cost:` lines, which give the usage.
///
/// aider exits 0 even when every request failed: a litellm error class (`litellm.RateLimitError`,
/// …) printed after its last reply is a failure, and a rate-limit one a rate-limit failure.
public enum AiderOutputParser {
    static let noise: [NSRegularExpression] = [
        #"^Update git (name|email) with: "#,
        #"^Using \S+ model with API key from environment\.?$"#,
        #"^HTTPSConnectionPool\("#,
        #"^Aider v[0-9]"#,
        #"^(Main|Weak|Editor) model: "#,
        #"^Model: "#,
        #"^Git repo: "#,
        #"^Repo-map: "#,
        #"^https://aider\.chat/HISTORY\.html"#,
        #"^Added .* to the chat\.?$"#,
        #"^Retrying in [0-9.]+ seconds\.\.\.$"#,
        #"^The API provider "#,
        #"^Analytics have been permanently disabled\.?$"#,
    ].map { try! NSRegularExpression(pattern: $0) }
    /// `litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for …`
    static let litellmError = try! NSRegularExpression(pattern: #"^litellm\.([A-Za-z]+Error):"#, options: [.anchorsMatchLines])

    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        let figures = TextUsageParser.figures(stdout)
        let ns = stdout as NSString
        var lastError: (kind: String, text: String, at: Int)?
        for m in litellmError.matches(in: stdout, range: NSRange(location: 0, length: ns.length)) {
            lastError = (ns.substring(with: m.range(at: 1)), errorText(ns, from: m.range.location), m.range.location)
        }
        // An error after the last reply is how the run ended.
        let ended = lastError.flatMap { $0.at >= figures.lastUsageEnd ? $0 : nil }
        let limited = ended.map { e in
            RateLimit.isKind(e.kind) || e.kind == "InternalServerError" && RateLimit.mentioned(in: e.text)
                || e.kind == "ServiceUnavailableError"
        } ?? false
        let failed = !succeeded || ended != nil
        return AgentReport(result: reply(stdout), usage: figures.usage, costUSD: figures.session, model: figures.model,
                           isError: failed, rateLimited: failed && limited,
                           error: failed ? (ended?.text ?? TextUsageParser.parse(stdout, succeeded: succeeded).error) : nil)
    }

    /// The error line and its wrapped continuation (up to the hint aider prints after it).
    static func errorText(_ text: NSString, from location: Int) -> String {
        let rest = text.substring(from: location)
        var lines: [Substring] = []
        for line in rest.split(separator: "\n", omittingEmptySubsequences: false).prefix(6) {
            if line.isEmpty || line.hasPrefix("The API provider") || line.hasPrefix("Retrying in") || (!lines.isEmpty && line.hasPrefix("litellm.")) { break }
            lines.append(line)
        }
        let joined = lines.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return String(joined.prefix(500))
    }

    /// aider's own words: the output without its start-up noise, retry chatter and usage lines.
    static func reply(_ stdout: String) -> String {
        var text = stdout
        for regex in [TextUsageParser.tokens, TextUsageParser.cost] {
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "")
        }
        var kept: [Substring] = []
        var inError = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let s = String(line)
            let range = NSRange(s.startIndex..., in: s)
            if litellmError.firstMatch(in: s, range: range) != nil { inError = true; continue }
            if inError {
                if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("The API provider") || line.hasPrefix("Retrying in") {
                    inError = false
                }
                continue
            }
            if noise.contains(where: { $0.firstMatch(in: s, range: range) != nil }) { continue }
            // What is left of a usage line once its figures are cut out (`. ` between them).
            if line.contains("."), line.allSatisfy({ $0 == "." || $0 == " " }) { continue }
            kept.append(line)
        }
        // Blank runs left by the removed lines collapse to one.
        var out: [Substring] = []
        for line in kept where !(line.trimmingCharacters(in: .whitespaces).isEmpty && (out.last?.trimmingCharacters(in: .whitespaces).isEmpty ?? true)) {
            out.append(line)
        }
        return out.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
