import Foundation
import MusterRehearsal
import Testing

/// The model stub over real HTTP on 127.0.0.1: both APIs, streamed and not, scripted steps,
/// failures with the right bodies and headers, usage as scripted, and the default script's file.
@Suite struct ModelStubTests {
    static var writeTool: [String: Any] { [
        "name": "Write", "description": "Write a file",
        "input_schema": ["type": "object", "properties": ["file_path": ["type": "string"], "content": ["type": "string"]]],
    ] }

    static func anthropicBody(stream: Bool, assistantTurns: Int = 0) -> [String: Any] {
        var messages: [[String: Any]] = [["role": "user", "content": "go"]]
        for _ in 0..<assistantTurns {
            messages.append(["role": "assistant", "content": [["type": "text", "text": "x"]]])
            messages.append(["role": "user", "content": [["type": "tool_result", "tool_use_id": "t", "content": "ok"]]])
        }
        return ["model": "claude-opus-4-8", "max_tokens": 1000, "stream": stream, "tools": [writeTool], "messages": messages,
                "system": [["type": "text", "text": "You are Claude Code.\nPrimary working directory: /tmp/work\n"]]]
    }

    @Test func anthropicStreamWritesTheDefaultFileThroughTheWriteToolThenAnswers() async throws {
        let stub = try await ModelStub.start(script: StubScript(usage: StubUsage(input: 111, output: 22, cacheRead: 33, cacheWrite: 44)))
        defer { Task { await stub.stop() } }
        let url = stub.register("t1", StubConversation(task: "scan.A", directory: "/tmp/wt", owns: ["Sources/A/**"]))
        #expect(url == stub.baseURL + "/c/t1")
        let first = try await RawHTTP.request(port: stub.port, "POST", "/c/t1/v1/messages?beta=true", json: Self.anthropicBody(stream: true))
        #expect(first.status == 200 && first.headers["content-type"] == "text/event-stream")
        let events = RawHTTP.events(first.body)
        #expect(events.first?["type"] as? String == "message_start")
        #expect(events.last?["type"] as? String == "message_stop")
        let start = try #require(events.first?["message"] as? [String: Any])
        #expect((start["usage"] as? [String: Any])?["input_tokens"] as? Int == 111)
        #expect((start["usage"] as? [String: Any])?["cache_read_input_tokens"] as? Int == 33)
        let tool = try #require(events.first { ($0["content_block"] as? [String: Any])?["type"] as? String == "tool_use" })
        #expect((tool["content_block"] as? [String: Any])?["name"] as? String == "Write")
        let json = events.compactMap { ($0["delta"] as? [String: Any])?["partial_json"] as? String }.joined()
        let input = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(input["file_path"] as? String == "/tmp/wt/Sources/A/MUSTER-REHEARSAL.md")
        let delta = try #require(events.first { $0["type"] as? String == "message_delta" })
        #expect((delta["delta"] as? [String: Any])?["stop_reason"] as? String == "tool_use")
        #expect((delta["usage"] as? [String: Any])?["output_tokens"] as? Int == 22)

        let second = try await RawHTTP.request(port: stub.port, "POST", "/c/t1/v1/messages", json: Self.anthropicBody(stream: false, assistantTurns: 1))
        let message = try #require(second.json)
        #expect(message["stop_reason"] as? String == "end_turn")
        let text = ((message["content"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(text.contains("scan.A"))
        let ledger = try #require(stub.ledger()["t1"])
        #expect(ledger.requests == 2 && ledger.answers == 2)
        #expect(ledger.usage == StubUsage(input: 222, output: 44, cacheRead: 66, cacheWrite: 88))
    }

    @Test func theFirstRequestsFailWithTheAPIsOwnErrorBodyAndHeaders() async throws {
        let stub = try await ModelStub.start(script: StubScript(fail: StubFailure(status: 429, count: 2, retryAfter: 3)))
        defer { Task { await stub.stop() } }
        stub.register("a", StubConversation())
        for _ in 0..<2 {
            let r = try await RawHTTP.request(port: stub.port, "POST", "/c/a/v1/messages", json: Self.anthropicBody(stream: true))
            #expect(r.status == 429 && r.headers["retry-after"] == "3")
            #expect((r.json?["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
        }
        let ok = try await RawHTTP.request(port: stub.port, "POST", "/c/a/v1/messages", json: Self.anthropicBody(stream: false))
        #expect(ok.status == 200)
        #expect(stub.ledger()["a"]?.failures == 2)

        let overloaded = try await ModelStub.start(script: StubScript(fail: StubFailure(status: 529, count: 1)))
        defer { Task { await overloaded.stop() } }
        let r = try await RawHTTP.request(port: overloaded.port, "POST", "/v1/messages", json: Self.anthropicBody(stream: false))
        #expect(r.status == 529 && (r.json?["error"] as? [String: Any])?["type"] as? String == "overloaded_error")
        let o = try await RawHTTP.request(port: overloaded.port, "POST", "/v1/chat/completions",
                                          json: ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]]])
        #expect(o.status == 200, "only the first request of the conversation fails")
    }

    @Test func openAIChatCompletionsAnswerWithAnEditBlockAndTheUsageChunk() async throws {
        let stub = try await ModelStub.start(script: StubScript(usage: StubUsage(input: 800, output: 60)))
        defer { Task { await stub.stop() } }
        stub.register("aider", StubConversation(task: "edit", directory: "/tmp/wt", owns: ["docs/one.md"]))
        let system = "Act as an expert software developer. Describe each change with a *SEARCH/REPLACE block*."
        let body: [String: Any] = ["model": "gpt-4o", "messages": [["role": "system", "content": system], ["role": "user", "content": "go"]]]
        let whole = try await RawHTTP.request(port: stub.port, "POST", "/c/aider/v1/chat/completions", json: body)
        let json = try #require(whole.json)
        let content = try #require(((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
        #expect(content.contains("docs/one.md\n```\n<<<<<<< SEARCH\n=======\n"))
        #expect((json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 800)
        #expect((json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 60)

        var streamed = body
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let s = try await RawHTTP.request(port: stub.port, "POST", "/chat/completions", json: streamed)
        #expect(s.body.contains("data: [DONE]"))
        let chunks = RawHTTP.events(s.body)
        let last = try #require(chunks.last)
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        #expect((last["usage"] as? [String: Any])?["completion_tokens"] as? Int == 60)
        #expect(chunks.contains { (($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) == "stop" })
    }

    @Test func claudesStartUpCallsAndUnknownRoutesAreAnswered() async throws {
        let stub = try await ModelStub.start()
        defer { Task { await stub.stop() } }
        #expect(try await RawHTTP.request(port: stub.port, "HEAD", "/api/hello").status == 200)
        #expect(try await RawHTTP.request(port: stub.port, "GET", "/api/claude_cli/bootstrap").status == 200)
        #expect(try await RawHTTP.request(port: stub.port, "POST", "/v1/messages/count_tokens", json: ["model": "x"]).json?["input_tokens"] != nil)
        #expect(try await RawHTTP.request(port: stub.port, "GET", "/nowhere").status == 404)
        // A side request without tools costs nothing and moves no script step.
        let side = try await RawHTTP.request(port: stub.port, "POST", "/v1/messages",
                                             json: ["model": "claude-haiku-4-5", "max_tokens": 1, "messages": [["role": "user", "content": "quota"]]])
        #expect(side.status == 200 && (side.json?["usage"] as? [String: Any])?["input_tokens"] as? Int == 0)
        #expect(stub.ledger().isEmpty)
    }

    @Test func scriptsAreCheckedAndTheDefaultFileLiesInsideOwns() throws {
        #expect(throws: ModelStubError.self) { try StubScript.parse("fail: {status: 200, count: 1}") }
        #expect(throws: ModelStubError.self) { try StubScript.parse("steps: [{text: a, write: {path: b, content: c}}]") }
        #expect(throws: ModelStubError.self) { try StubScript.parse("nonsense: [") }
        let script = try StubScript.parse("""
            steps:
              - tool: {name: Bash, input: {command: "muster spawn --owns a", timeout: 5}}
            tasks: {lead: {usage: {input: 5}}}
            """)
        #expect(script.forTask("lead").usage == StubUsage(input: 5))
        #expect(script.forTask("other").usage == nil)
        #expect(RehearsalTarget.file(owns: ["Sources/A/**"], task: nil) == "Sources/A/MUSTER-REHEARSAL.md")
        #expect(RehearsalTarget.file(owns: ["docs/*.md"], task: nil) == "docs/muster-rehearsal.md")
        #expect(RehearsalTarget.file(owns: ["AUDIT.md"], task: nil) == "AUDIT.md")
        #expect(RehearsalTarget.file(owns: ["docs/"], task: nil) == "docs/MUSTER-REHEARSAL.md")
        #expect(RehearsalTarget.file(owns: [], task: nil) == nil)
    }

    @Test func eachAgentIsPointedAtTheStubByItsOwnVariables() {
        let claude = RehearsalEnvironment.overlay(base: "claude", url: "http://127.0.0.1:1/c/k")
        #expect(claude["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1/c/k" && claude["ANTHROPIC_API_KEY"] == "stub")
        #expect(claude["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1")
        let aider = RehearsalEnvironment.overlay(base: "aider", url: "http://127.0.0.1:1/c/k")
        #expect(aider["OPENAI_API_BASE"] == "http://127.0.0.1:1/c/k/v1")
        // An Anthropic key would make aider pick Claude Sonnet over its default gpt-4o.
        #expect(aider["ANTHROPIC_API_KEY"] == nil)
        #expect(RehearsalEnvironment.overlay(base: "aider", url: "u", model: "claude-sonnet-4-6")["ANTHROPIC_BASE_URL"] == "u")
        #expect(RehearsalEnvironment.overlay(base: "shell", url: "u").keys.sorted() == ["MUSTER_REHEARSAL", "MUSTER_STUB_URL"])
    }
}
