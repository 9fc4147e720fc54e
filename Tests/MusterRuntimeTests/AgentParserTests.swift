import Foundation
import MusterCore
import Testing
@testable import MusterRuntime

/// Each agent's real output format, from fixtures written in it: a full run, a run cut off
/// mid-line with garbage between events, and a rate-limit or overload error.
@Suite struct AgentParserTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)
            ?? Bundle.module.url(forResource: name, withExtension: nil), "missing fixture \(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func parse(_ name: String, _ format: AgentOutputFormat, succeeded: Bool = true) throws -> AgentReport {
        Agents.parse(try fixture(name), format: format, succeeded: succeeded)
    }

    // MARK: Claude Code stream-json

    @Test func claudeResultCarriesUsageCostAndModel() throws {
        let r = try Self.parse("claude-ok.jsonl", .claudeStreamJSON)
        #expect(r.result == "Done: renamed the helper.")
        #expect(r.usage == TokenUsage(input: 16, output: 120, cacheRead: 32000, cacheWrite: 2300))
        #expect(r.costUSD == 0.0412)
        #expect(r.model == "claude-opus-4-8", "init's `claude-opus-4-8[1m]` loses its context suffix")
        #expect(!r.isError && !r.rateLimited)
    }

    @Test func claudeCutOffKeepsWhatTheMessagesSaid() throws {
        let r = try Self.parse("claude-truncated.jsonl", .claudeStreamJSON)
        #expect(r.result == "Looking at the code")
        #expect(r.usage == TokenUsage(input: 10, output: 50, cacheRead: 5000, cacheWrite: 1000))
        #expect(r.costUSD == nil)
        #expect(r.isError, "no result event: the run did not finish")
        #expect(!r.rateLimited)
    }

    @Test func claudeOverloadIsARateLimitError() throws {
        let r = try Self.parse("claude-ratelimit.jsonl", .claudeStreamJSON)
        #expect(r.isError && r.rateLimited)
        #expect(r.result.contains("overloaded_error"))
        #expect(r.usage == TokenUsage())
    }

    @Test func claudeRejectedRateLimitEventAndDuplicateMessagesCountOnce() {
        let out = """
            {"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-6","content":[{"type":"text","text":"a"}],"usage":{"input_tokens":5,"output_tokens":7}}}
            {"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-6","content":[{"type":"text","text":"b"}],"usage":{"input_tokens":5,"output_tokens":7}}}
            {"type":"rate_limit_event","rate_limit_info":{"status":"rejected","rateLimitType":"five_hour"}}
            """
        let r = ClaudeStreamJSONParser.parse(out, succeeded: false)
        #expect(r.rateLimited && r.isError)
        #expect(r.usage == TokenUsage(input: 5, output: 7))
        #expect(r.model == "claude-sonnet-4-6")
        #expect(r.result == "b")
    }

    @Test func claudeSingleJSONResultReadsTheSame() {
        let out = #"{"type":"result","subtype":"error_max_turns","is_error":false,"result":"","total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":2}}"#
        let r = ClaudeStreamJSONParser.parse(out, succeeded: true)
        #expect(r.isError, "an error subtype fails the task")
        #expect(r.costUSD == 0.5)
        #expect(r.usage == TokenUsage(input: 1, output: 2))
    }

    // MARK: Codex exec --json

    @Test func codexTurnUsageSplitsCachedInput() throws {
        let r = try Self.parse("codex-ok.jsonl", .codexJSON)
        #expect(r.result == "Renamed `parse` to `parse_line` in src/lib.rs.")
        #expect(r.usage == TokenUsage(input: 315, output: 122, cacheRead: 24448))
        #expect(r.costUSD == nil, "codex reports no cost: the price table prices it")
        #expect(!r.isError && !r.rateLimited)
    }

    @Test func codexCutOffHasUnknownUsage() throws {
        let r = try Self.parse("codex-truncated.jsonl", .codexJSON)
        #expect(r.result == "Partial answer")
        #expect(r.usage == nil)
        #expect(r.isError, "no turn.completed")
    }

    @Test func codex429IsARateLimitError() throws {
        let r = try Self.parse("codex-ratelimit.jsonl", .codexJSON, succeeded: false)
        #expect(r.isError && r.rateLimited)
        #expect(r.usage == nil)
        #expect(r.result.contains("429 Too Many Requests"))
    }

    // MARK: Gemini CLI --output-format json

    @Test func geminiSumsModelsAndNamesTheMainOne() throws {
        let r = try Self.parse("gemini-ok.json", .geminiJSON)
        #expect(r.result == "The config loader now validates ports.")
        // pro: 24939 prompt of which 21263 cached, 20 + 154 out; flash-lite: 800 in, 12 + 18 out.
        #expect(r.usage == TokenUsage(input: 3676 + 800, output: 174 + 30, cacheRead: 21263))
        #expect(r.model == "gemini-2.5-pro")
        #expect(!r.isError && !r.rateLimited)
    }

    @Test func geminiCutOffKeepsTheRawTextAndUnknownUsage() throws {
        let text = try Self.fixture("gemini-truncated.json")
        let r = GeminiJSONParser.parse(text, succeeded: false)
        #expect(r.usage == nil && r.model == nil)
        #expect(r.result == text, "the raw output is kept")
        #expect(r.isError && !r.rateLimited)
    }

    @Test func gemini429IsARateLimitError() throws {
        let r = try Self.parse("gemini-ratelimit.json", .geminiJSON, succeeded: false)
        #expect(r.isError && r.rateLimited)
        #expect(r.usage == nil)
        #expect(r.result.contains("RESOURCE_EXHAUSTED"))
    }

    // MARK: OpenCode run --format json

    @Test func openCodeSumsStepsAndCost() throws {
        let r = try Self.parse("opencode-ok.jsonl", .openCodeJSON)
        #expect(r.result == "Updated src/a.ts to handle empty input.")
        #expect(r.usage == TokenUsage(input: 5800, output: 445, cacheRead: 27000, cacheWrite: 900))
        #expect(abs((r.costUSD ?? 0) - 0.0155) < 1e-12)
        #expect(!r.isError && !r.rateLimited)
    }

    @Test func openCodeCutOffHasUnknownUsage() throws {
        let r = try Self.parse("opencode-truncated.jsonl", .openCodeJSON, succeeded: false)
        #expect(r.result == "Working on it")
        #expect(r.usage == nil && r.costUSD == nil)
        #expect(r.isError)
    }

    @Test func openCode429IsARateLimitError() throws {
        let r = try Self.parse("opencode-ratelimit.jsonl", .openCodeJSON)
        #expect(r.isError && r.rateLimited)
        #expect(r.usage == nil)
    }

    @Test func openCodeZeroCostWithTokensIsUnknownNotFree() {
        let out = #"{"type":"step_finish","part":{"cost":0,"tokens":{"input":10,"output":5,"reasoning":0,"cache":{"read":0,"write":0}}}}"#
        let r = OpenCodeJSONParser.parse(out, succeeded: true)
        #expect(r.usage == TokenUsage(input: 10, output: 5))
        #expect(r.costUSD == nil)
    }

    // MARK: Text (Aider)

    @Test func aiderTokenAndCostLinesAddUp() throws {
        let r = try Self.parse("aider-ok.txt", .text)
        // 12k sent = 1.9k new + 2.1k cache write + 8.0k cache hit; then 1.5k more.
        #expect(r.usage == TokenUsage(input: 1900 + 1500, output: 345 + 120, cacheRead: 8000, cacheWrite: 2100))
        #expect(r.costUSD == 0.05, "the session figure is the running total")
        #expect(r.model == "claude-sonnet-4-6")
        #expect(r.result.contains("parse_port"))
        #expect(!r.isError && !r.rateLimited)
    }

    @Test func aiderCutOffTokenLineIsUnknownUsage() throws {
        let r = try Self.parse("aider-truncated.txt", .text)
        #expect(r.usage == nil && r.costUSD == nil)
        #expect(r.result.contains("Working on the change."))
    }

    @Test func aiderRateLimitErrorIsRecognised() throws {
        let r = try Self.parse("aider-ratelimit.txt", .text)
        #expect(r.rateLimited && r.isError)
        #expect(r.usage == nil)
    }

    @Test func plainTextMentioningRateLimitsIsNotAnError() {
        let r = TextUsageParser.parse("The docs explain how a rate limit protects the API.\n", succeeded: true)
        #expect(!r.rateLimited && !r.isError)
        #expect(r.usage == nil)
    }

    // MARK: Every format

    @Test(arguments: AgentOutputFormat.allCases)
    func garbageNeverCrashesAndLeavesUsageUnknown(_ format: AgentOutputFormat) {
        let junk = ["", "\u{0}\u{1}\u{7f}", "{", "}", "{\"type\":", "[1,2", "{\"type\":\"result\",\"usage\":{\"input_tokens\":\"many\"}}",
                    String(repeating: "{", count: 5000), "null", "{\"type\":\"turn.completed\",\"usage\":[]}", "Tokens: k sent, k received."]
        for text in junk {
            let r = Agents.parse(text, format: format, succeeded: false)
            #expect(r.isError, "\(format) on \(text.prefix(20).debugDescription)")
            #expect(r.usage == nil, "\(format) on \(text.prefix(20).debugDescription)")
        }
    }

    @Test(arguments: AgentOutputFormat.allCases)
    func simSpeaksEveryFormatAndItsParserReadsItBack(_ format: AgentOutputFormat) throws {
        let usage = TokenUsage(input: 1500, output: 340, cacheRead: 0, cacheWrite: 0)
        let text = try SimOutput.render(format, result: "simulated t", usage: usage, model: "gpt-5-codex", milliseconds: 10)
        let r = Agents.parse(text, format: format, succeeded: true)
        #expect(r.usage == usage)
        #expect(r.result.contains("simulated t"))
        #expect(r.costUSD == nil, "sim reports no cost: the price table prices its tokens")
        #expect(!r.isError && !r.rateLimited)
        if format != .openCodeJSON && format != .codexJSON { #expect(r.model == "gpt-5-codex") }
    }

    @Test func modelNamesLoseProviderAndContextSuffix() {
        #expect(ModelName.normalize("anthropic/claude-sonnet-4-6") == "claude-sonnet-4-6")
        #expect(ModelName.normalize("claude-opus-4-8[1m]") == "claude-opus-4-8")
        #expect(ModelName.normalize("  ") == nil)
    }
}
