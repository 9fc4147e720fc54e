import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterRuntime

/// The parsers against what the real CLIs printed (Claude Code 2.1.332, aider 0.86.2), captured
/// against a local stub of their API: Fixtures/captured/ (see its README.md).
@Suite struct CapturedAgentOutputTests {
    static func captured(_ name: String) throws -> String { try AgentParserTests.fixture("captured/\(name)") }

    /// Every line of a capture as the live parser sees it.
    static func liveSignals(_ text: String, parser: LiveSignalParser) -> [LiveSignal] {
        text.split(separator: "\n").compactMap { parser.signal(in: ArraySlice(Array($0.utf8)), fromStdout: true, truncated: false) }
    }

    // MARK: Claude Code

    @Test func claudeWriteInsideIsASuccessWithTheReportedModelAndCost() throws {
        let r = ClaudeStreamJSONParser.parse(try Self.captured("claude-inside.jsonl"), succeeded: true)
        #expect(!r.isError && !r.rateLimited && r.error == nil)
        #expect(r.result.hasPrefix("STUB DONE. Tool results: File created successfully at: /tmp/work/src/a.txt"))
        #expect(r.usage == TokenUsage(input: 2100, output: 110, cacheRead: 4000, cacheWrite: 600))
        #expect(r.costUSD == 0.0144)
        #expect(r.model == "claude-opus-5-5", "the model the CLI reports (modelUsage), not the one muster would have passed")
        #expect(r.denials.isEmpty && !r.usagePartial)
    }

    @Test func claudeWriteOutsideIsOneDenialFromTheEventAndTheResult() throws {
        let r = ClaudeStreamJSONParser.parse(try Self.captured("claude-outside.jsonl"), succeeded: true)
        #expect(!r.isError, "the CLI says success; muster decides it is `denied`")
        #expect(r.denials == [PermissionDenial(tool: "Write", input: "/tmp/stub/outside-target.txt")])
    }

    @Test func claudeBashThatWasAcceptedIsNoDenial() throws {
        let r = ClaudeStreamJSONParser.parse(try Self.captured("claude-bash.jsonl"), succeeded: true)
        #expect(r.denials.isEmpty && !r.isError)
        #expect(r.result == "STUB DONE. Tool results: (Bash completed with no output)")
    }

    @Test func claudeRefusedBashFromTheResultListIsADenialWithItsCommand() throws {
        // The same capture with the Bash call refused, as the CLI lists it in `permission_denials`.
        let text = try Self.captured("claude-bash.jsonl").replacingOccurrences(
            of: #""permission_denials":[]"#,
            with: #""permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_stub4b4b2a5ecce800","tool_input":{"command":"muster spawn --prompt x","description":"spawn"}}]"#)
        let r = ClaudeStreamJSONParser.parse(text, succeeded: true)
        #expect(r.denials == [PermissionDenial(tool: "Bash", input: "muster spawn --prompt x")])
    }

    @Test func claudePermanent429IsARateLimitFromTheStructuredFields() throws {
        let r = ClaudeStreamJSONParser.parse(try Self.captured("claude-r429always.jsonl"), succeeded: false)
        #expect(r.isError && r.rateLimited)
        #expect(r.error == "API Error: Request rejected (429) · This request would exceed your organization's rate limit of 50 requests per minute. (stub)")
        #expect(r.model == "claude-opus-5-5", "`<synthetic>` is the CLI's stand-in, not a model")
        #expect(r.usage == TokenUsage())
    }

    @Test func claude429WhoseTextSaysOnlySlowDownIsStillARateLimit() throws {
        let r = ClaudeStreamJSONParser.parse(try Self.captured("claude-r429plain.jsonl"), succeeded: false)
        #expect(r.isError && r.rateLimited)
        #expect(r.error == "API Error: Request rejected (429) · Please slow down.")
        // Each signal alone is enough: the structured fields without the text…
        let structured = try Self.captured("claude-r429plain.jsonl").replacingOccurrences(of: "Request rejected (429) · Please slow down.", with: "Please slow down.")
        #expect(ClaudeStreamJSONParser.parse(structured, succeeded: false).rateLimited)
        // …and the text without the structured fields.
        #expect(RateLimit.mentioned(in: "API Error: Request rejected (429) · Please slow down."))
        #expect(!RateLimit.mentioned(in: "Please slow down."))
    }

    @Test func claudeAssistantErrorFieldsAloneMarkARateLimit() {
        for fields in [#""error":"rate_limit""#, #""api_error_type":"rate_limit_error""#, #""api_error_status":529"#,
                       #""error":"overloaded""#] {
            let out = """
                {"type":"assistant","message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error"}]},"is_api_error_message":true,\(fields)}
                {"type":"result","subtype":"success","is_error":true,"result":"API Error","usage":{"input_tokens":0,"output_tokens":0}}
                """
            #expect(ClaudeStreamJSONParser.parse(out, succeeded: false).rateLimited, "\(fields)")
        }
        // The old camelCase flag is still read.
        let camel = """
            {"type":"assistant","message":{"id":"x","content":[{"type":"text","text":"overloaded, try later"}]},"isApiErrorMessage":true}
            """
        #expect(ClaudeStreamJSONParser.parse(camel, succeeded: false).rateLimited)
    }

    @Test func claudeApiRetryLinesAreLiveRateLimitSignals() throws {
        let signals = Self.liveSignals(try Self.captured("claude-r429always.jsonl"), parser: ClaudeLiveSignals())
        #expect(signals.count == 10, "one per api_retry event")
        guard case .rateLimited(let status, let detail)? = signals.first else { Issue.record("no signal"); return }
        #expect(status == 429)
        #expect(detail.contains("attempt 1 of 10"))
        #expect(Self.liveSignals(try Self.captured("claude-inside.jsonl"), parser: ClaudeLiveSignals()).isEmpty)
        let overloaded = #"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":2,"retry_delay_ms":500,"error_status":529,"error":"overloaded"}"#
        #expect(Self.liveSignals(overloaded, parser: ClaudeLiveSignals()).first == .rateLimited(status: 529, detail: "the API answered 529 (overloaded); the CLI is on attempt 1 of 2"))
        let server = #"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":2,"retry_delay_ms":500,"error_status":500,"error":"api_error"}"#
        #expect(Self.liveSignals(server, parser: ClaudeLiveSignals()).isEmpty, "a 500 is not a rate limit")
    }

    @Test func claudeKilledMidStreamKeepsTheLastUsagePerMessageMarkedPartial() throws {
        let lines = try Self.captured("claude-inside.jsonl").split(separator: "\n")
        let cut = lines.prefix(5).joined(separator: "\n")  // init, 2 × message 1, tool result, message 2: no result
        let r = ClaudeStreamJSONParser.parse(cut, succeeded: false)
        #expect(r.isError && r.usagePartial)
        #expect(r.usage == TokenUsage(input: 2100, output: 2, cacheRead: 4000, cacheWrite: 600))
        #expect(r.model == "claude-opus-5-5")
    }

    // MARK: aider

    @Test func aiderSummaryIsItsReplyWithoutStartUpNoise() throws {
        let r = AiderOutputParser.parse(try Self.captured("aider-basic.out"), succeeded: true)
        #expect(!r.isError && !r.rateLimited)
        #expect(r.usage == TokenUsage(input: 1500, output: 75))
        #expect(r.costUSD == 0.0045)
        #expect(r.model == "gpt-4o")
        #expect(r.result.hasPrefix("Here are the changes (STUB-EDIT-DONE)."), "\(r.result)")
        #expect(r.result.hasSuffix("Applied edit to src/b.txt"))
        for noise in ["Aider v", "Main model:", "Weak model:", "Git repo:", "Repo-map:", "HTTPSConnectionPool", "Update git",
                      "Using gpt-4o", "HISTORY.html", "Tokens:", "Cost:"] {
            #expect(!r.result.contains(noise), "\(noise)")
        }
    }

    @Test func aiderCostLineWrappedAt80ColumnsStillCounts() throws {
        let r = AiderOutputParser.parse(try Self.captured("aider-big.out"), succeeded: true)
        #expect(r.usage == TokenUsage(input: 123_000, output: 7_900))
        #expect(r.costUSD == 0.26)
        let wrapped = try Self.captured("aider-big.out").replacingOccurrences(
            of: "Tokens: 123k sent, 7.9k received. Cost: $0.26 message, $0.26 session.",
            with: "Tokens: 123k sent, 2.1k cache write, 50k cache hit, 7.9k received. Cost:\n$0.26 message, $0.26 session.")
        let w = AiderOutputParser.parse(wrapped, succeeded: true)
        #expect(w.usage == TokenUsage(input: 70_900, output: 7_900, cacheRead: 50_000, cacheWrite: 2_100))
        #expect(w.costUSD == 0.26)
        #expect(!w.result.contains("session"))
    }

    @Test func aiderPermanent429ThatExits0IsARateLimitFailure() throws {
        let r = AiderOutputParser.parse(try Self.captured("aider-r429always.out"), succeeded: true)
        #expect(r.isError && r.rateLimited)
        #expect(r.error?.hasPrefix("litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o in organization org-stub") == true,
                "\(r.error ?? "nil")")
        #expect(r.usage == nil && r.model == "gpt-4o")
        #expect(!r.result.contains("litellm"), "retry chatter is not the summary")
    }

    @Test func aiderRateLimitBeforeASuccessfulReplyIsNoFailure() throws {
        let limited = try Self.captured("aider-r429always.out")
        let error = limited[limited.range(of: "litellm.RateLimitError")!.lowerBound...].prefix(300)
        let text = try Self.captured("aider-basic.out").replacingOccurrences(of: "Here are the changes", with: error + "\nRetrying in 0.2 seconds...\nHere are the changes")
        let r = AiderOutputParser.parse(text, succeeded: true)
        #expect(!r.isError && !r.rateLimited)
    }

    // MARK: Codex, Gemini, OpenCode (field names from their own sources)

    @Test func codexDeclinedCommandIsADenial() {
        let out = """
            {"type":"thread.started","thread_id":"t"}
            {"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"bash -lc 'muster spawn x'","aggregated_output":"","exit_code":null,"status":"declined"}}
            {"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"I could not run it."}}
            {"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}
            """
        let r = CodexJSONParser.parse(out, succeeded: true)
        #expect(r.denials == [PermissionDenial(tool: "command", input: "bash -lc 'muster spawn x'")])
        #expect(!r.isError)
    }

    @Test func geminiStringCodeAndInputTokens() throws {
        let r = GeminiJSONParser.parse(#"{"session_id":"s","error":{"type":"Error","message":"quota","code":"429"}}"#, succeeded: false)
        #expect(r.rateLimited && r.isError && r.error == "quota")
        let ok = try AgentParserTests.parse("gemini-ok.json", .geminiJSON)
        #expect(ok.usage?.input == 3676 + 800, "`tokens.input` is the uncached part")
    }

    @Test func openCodeRejectedPermissionsAreDenials() {
        let out = """
            {"type":"text","timestamp":1,"sessionID":"s","part":{"type":"text","text":"done"}}
            {"type":"done","timestamp":2,"sessionID":"s","reason":"idle","rejected":["bash","external_directory"]}
            """
        let r = OpenCodeJSONParser.parse(out, succeeded: true)
        #expect(r.denials.map(\.tool) == ["bash", "external_directory"])
    }
}
