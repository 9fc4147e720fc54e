import Foundation
import MusterCore

/// Reads Gemini CLI's `--output-format json` output: one (pretty-printed) object with `session_id`,
/// `response`, `stats.models.<model>.tokens` (`input` = `prompt` − `cached`, `prompt`, `candidates`,
/// `thoughts`, `tool`, `total`) and, when the request failed, `error` (`type`, `message`, `code`:
/// a number or a string). Lines the CLI prints before the object (notices, warnings) are skipped.
/// Field names checked against google-gemini/gemini-cli `packages/core/src/output/types.ts`
/// (`JsonOutput`, `JsonError`) and `packages/core/src/telemetry/uiTelemetry.ts` (`ModelMetrics`).
public enum GeminiJSONParser {
    public static func parse(_ stdout: String, succeeded: Bool) -> AgentReport {
        guard let object = document(in: stdout) else {
            return AgentReport(result: stdout, usage: nil, costUSD: nil, model: nil, isError: true,
                               rateLimited: !succeeded && RateLimit.mentioned(in: stdout))
        }
        var usage: TokenUsage?
        var model: String?
        var biggest = -1
        if let models = JSONValue.path(object, "stats", "models") as? [String: Any] {
            var parts: [TokenUsage] = []
            for (name, value) in models.sorted(by: { $0.key < $1.key }) {
                guard let tokens = JSONValue.path(value as? [String: Any], "tokens") as? [String: Any] else { continue }
                let prompt = JSONValue.int(tokens["prompt"]) ?? 0
                let cached = min(JSONValue.int(tokens["cached"]) ?? 0, prompt)
                let output = (JSONValue.int(tokens["candidates"]) ?? 0) + (JSONValue.int(tokens["thoughts"]) ?? 0)
                // `input` is the uncached part when the CLI gives it; older versions only give `prompt`.
                parts.append(TokenUsage(input: JSONValue.int(tokens["input"]) ?? (prompt - cached), output: output, cacheRead: cached))
                // The model that read the most is the one the task ran on (others route or summarise).
                if prompt > biggest {
                    biggest = prompt
                    model = ModelName.normalize(name)
                }
            }
            usage = TokenUsage.sum(parts)
        }
        var errorText: String?
        var rateLimited = false
        if let error = object["error"] {
            if let e = error as? [String: Any] {
                errorText = e["message"] as? String ?? e["type"] as? String ?? "error"
                let code = JSONValue.int(e["code"])
                rateLimited = RateLimit.status(code, kind: e["type"] as? String ?? e["code"] as? String) != nil
                    || RateLimit.mentioned(in: (errorText ?? "") + " " + (e["type"] as? String ?? ""))
            } else if let text = error as? String {
                errorText = text
                rateLimited = RateLimit.mentioned(in: text)
            }
        }
        let response = object["response"] as? String ?? errorText ?? ""
        return AgentReport(result: response, usage: usage, costUSD: nil, model: model,
                           isError: errorText != nil || !succeeded, rateLimited: rateLimited, error: errorText)
    }

    /// The JSON object in `text`: all of it, or from the first line that opens one to the last `}`.
    static func document(in text: String) -> [String: Any]? {
        if let whole = parseObject(Substring(text)) { return whole }
        guard let last = text.lastIndex(of: "}") else { return nil }
        var start = text.startIndex
        while start < last {
            if text[start] == "{", let object = parseObject(text[start...last]) { return object }
            guard let newline = text[start...].firstIndex(of: "\n") else { break }
            start = text.index(after: newline)
        }
        return nil
    }

    static func parseObject(_ text: Substring) -> [String: Any]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.first == "{" else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any]
    }
}
