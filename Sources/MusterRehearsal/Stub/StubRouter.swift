import Foundation

/// Decides every answer: which API a request speaks, which conversation it belongs to, whether
/// it fails (the script's first N), and what the script says next.
final class StubRouter: Sendable {
    let book: ConversationBook
    let script: StubScript
    /// `MUSTER_STUB_LOG`: one line per request, for finding out what a CLI asks.
    let logPath: String?

    init(book: ConversationBook, script: StubScript, logPath: String?) {
        self.book = book
        self.script = script
        self.logPath = logPath
    }

    func respond(to request: StubRequest) -> StubResponse {
        let json = request.json
        log(request, json)
        switch (request.method, request.path) {
        case ("HEAD", _), ("GET", "/api/hello"), ("GET", "/"):
            return .json([:])
        case ("GET", "/_stub/ledger"):
            let ledger = book.ledger()
            let data = (try? JSONEncoder().encode(ledger)).flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [:]
            return .json(data)
        case ("POST", "/v1/messages"):
            return anthropic(request, json ?? [:])
        case ("POST", "/v1/messages/count_tokens"):
            return .json(["input_tokens": (script.usage ?? .standard).input])
        case ("POST", "/v1/chat/completions"), ("POST", "/chat/completions"):
            return openAI(request, json ?? [:])
        case ("GET", "/v1/models"), ("GET", "/models"):
            return .json(["object": "list", "data": [["id": script.model ?? "claude-opus-4-8", "object": "model", "owned_by": "muster-stub"]]])
        case (_, let path) where path.hasPrefix("/api/"):
            // Claude Code's own start-up calls (feature flags, profile…): nothing to report.
            return .json([:])
        default:
            return .json(["type": "error", "error": ["type": "not_found_error", "message": "muster stub: no route \(request.method) \(request.path)"]],
                         status: 404)
        }
    }

    /// The conversation's model: its registration, its script, and its working folder.
    func model(for request: StubRequest, system: String) -> (String, ScriptModel) {
        let key = request.conversation ?? ""
        let conversation = book.conversation(request.conversation) ?? StubConversation()
        let script = (conversation.script ?? self.script).forTask(conversation.task)
        let directory = conversation.directory ?? Self.workingDirectory(in: system)
        return (key, ScriptModel(conversation: conversation, script: script, directory: directory))
    }

    func delays(_ script: StubScript) -> (Duration, Duration) {
        (.milliseconds(script.delayMs ?? 0), .milliseconds(script.chunkDelayMs ?? 0))
    }

    /// The script's first `fail.count` model requests of a conversation fail.
    func failure(key: String, script: StubScript) -> StubFailure? {
        let count = book.countRequest(key)
        guard let fail = script.fail, count <= fail.count else { return nil }
        book.recordFailure(key)
        return fail
    }

    func anthropic(_ request: StubRequest, _ body: [String: Any]) -> StubResponse {
        let tools = (body["tools"] as? [[String: Any]] ?? []).compactMap(Self.offeredTool)
        let asked = body["model"] as? String ?? "claude-opus-4-8"
        let stream = body["stream"] as? Bool ?? false
        let system = Self.systemText(body["system"])
        // aider through litellm: no tools, its edit format in the system prompt.
        if tools.isEmpty && (system.contains("SEARCH/REPLACE") || system.contains("*file listing*")) {
            let (key, model) = self.model(for: request, system: system)
            let (delay, gap) = delays(model.script)
            if let fail = failure(key: key, script: model.script) { return AnthropicEncoder.error(fail, delay: delay) }
            let messages = body["messages"] as? [[String: Any]] ?? []
            let answer = Self.editsOrEnd(model, messages: messages, searchReplace: system.contains("SEARCH/REPLACE"),
                                         name: model.script.model ?? asked)
            book.recordAnswer(key, usage: answer.usage, model: answer.model)
            return stream ? AnthropicEncoder.stream(answer, delay: delay, gap: gap) : AnthropicEncoder.message(answer, delay: delay)
        }
        // A side request (no tools: a title, a quota check…) gets a short answer that costs nothing.
        guard !tools.isEmpty else {
            let answer = ModelAnswer(blocks: [.text("ok")], usage: StubUsage(), model: asked)
            return stream ? AnthropicEncoder.stream(answer, delay: .zero, gap: .zero) : AnthropicEncoder.message(answer, delay: .zero)
        }
        let (key, scripted) = self.model(for: request, system: system)
        var model = scripted
        let (delay, gap) = delays(model.script)
        if let fail = failure(key: key, script: model.script) { return AnthropicEncoder.error(fail, delay: delay) }
        let messages = body["messages"] as? [[String: Any]] ?? []
        model.lastResult = Self.lastToolResult(messages)
        let turn = messages.filter { $0["role"] as? String == "assistant" }.count
        let answer = model.answer(turn: turn, tools: tools, model: model.script.model ?? asked)
        book.recordAnswer(key, usage: answer.usage, model: answer.model)
        return stream ? AnthropicEncoder.stream(answer, delay: delay, gap: gap) : AnthropicEncoder.message(answer, delay: delay)
    }

    func openAI(_ request: StubRequest, _ body: [String: Any]) -> StubResponse {
        let messages = body["messages"] as? [[String: Any]] ?? []
        let system = messages.filter { $0["role"] as? String == "system" }.map { Self.systemText($0["content"]) }.joined(separator: "\n")
        let (key, model) = self.model(for: request, system: system)
        let asked = body["model"] as? String ?? "gpt-4o"
        let (delay, gap) = delays(model.script)
        if let fail = failure(key: key, script: model.script) { return OpenAIEncoder.error(fail, model: asked, delay: delay) }
        let tools = (body["tools"] as? [[String: Any]] ?? []).compactMap { ($0["function"] as? [String: Any]).flatMap(Self.offeredTool) }
        let name = model.script.model ?? asked
        let answer: ModelAnswer
        if !tools.isEmpty {
            let turn = messages.filter { $0["role"] as? String == "assistant" && $0["tool_calls"] != nil }.count
            answer = model.answer(turn: turn, tools: tools, model: name)
        } else {
            answer = Self.editsOrEnd(model, messages: messages, searchReplace: system.contains("SEARCH/REPLACE"), name: name)
        }
        book.recordAnswer(key, usage: answer.usage, model: answer.model)
        if body["stream"] as? Bool ?? false {
            let includeUsage = (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
            return OpenAIEncoder.stream(answer, includeUsage: includeUsage, delay: delay, gap: gap)
        }
        return OpenAIEncoder.completion(answer, delay: delay)
    }

    /// The text of the newest `tool_result` block in an Anthropic conversation (nil: none yet).
    static func lastToolResult(_ messages: [[String: Any]]) -> String? {
        for message in messages.reversed() where message["role"] as? String == "user" {
            guard let blocks = message["content"] as? [[String: Any]] else { continue }
            for block in blocks.reversed() where block["type"] as? String == "tool_result" {
                if let text = block["content"] as? String { return text }
                if let parts = block["content"] as? [[String: Any]] {
                    return parts.compactMap { $0["text"] as? String }.joined(separator: "\n")
                }
            }
        }
        return nil
    }

    /// For an agent without tools: every step at once as edit blocks, or, when it comes back after
    /// our edits (aider reflecting on them), the final text alone.
    static func editsOrEnd(_ model: ScriptModel, messages: [[String: Any]], searchReplace: Bool, name: String) -> ModelAnswer {
        let answered = messages.contains { $0["role"] as? String == "assistant" && systemText($0["content"]).contains(ScriptModel.sentinel) }
        guard answered else { return model.editAnswer(searchReplace: searchReplace, model: name) }
        return ModelAnswer(blocks: [.text(model.fill(model.lastText(model.steps) ?? "Done."))], usage: model.usage(for: nil), model: name)
    }

    static func offeredTool(_ tool: [String: Any]) -> OfferedTool? {
        guard let name = tool["name"] as? String else { return nil }
        let schema = tool["input_schema"] as? [String: Any] ?? tool["parameters"] as? [String: Any] ?? [:]
        return OfferedTool(name: name, properties: Set((schema["properties"] as? [String: Any] ?? [:]).keys))
    }

    /// A system prompt or message content: a string, or a list of text blocks.
    static func systemText(_ value: Any?) -> String {
        if let text = value as? String { return text }
        if let blocks = value as? [[String: Any]] { return blocks.compactMap { $0["text"] as? String }.joined(separator: "\n") }
        return ""
    }

    /// The folder an agent says it works in ("Working directory: /path" in Claude Code's prompt).
    static func workingDirectory(in system: String) -> String? {
        for marker in ["Primary working directory: ", "Working directory: ", "working directory: "] {
            guard let range = system.range(of: marker) else { continue }
            let rest = system[range.upperBound...]
            let path = rest.prefix { !$0.isNewline && $0 != " " && $0 != "\t" }
            if path.hasPrefix("/") { return String(path) }
        }
        return nil
    }

    func log(_ request: StubRequest, _ json: [String: Any]?) {
        guard let logPath else { return }
        var fields: [String: Any] = ["method": request.method, "path": request.path, "conversation": request.conversation ?? ""]
        if let json {
            fields["model"] = json["model"] ?? NSNull()
            fields["stream"] = json["stream"] ?? false
            fields["tools"] = (json["tools"] as? [Any])?.count ?? 0
            fields["messages"] = (json["messages"] as? [Any])?.count ?? 0
        }
        let line = JSONText.encode(fields) + "\n"
        if let handle = FileHandle(forWritingAtPath: logPath) ?? {
            FileManager.default.createFile(atPath: logPath, contents: nil)
            return FileHandle(forWritingAtPath: logPath)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        }
    }
}
