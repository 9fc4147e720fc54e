import Foundation
import Yams

/// What the stub answers, per conversation: a list of steps (one per model request), the usage
/// each answer reports, failures before the first answer, and delays. Read from JSON or YAML:
///
///     steps:
///       - write: {path: "src/a.txt", content: "hello\n"}   # through the agent's own write tool
///       - tool: {name: Bash, input: {command: "muster spawn …", description: spawn}}
///       - text: "done"                                       # the final answer
///     usage: {input: 1000, output: 50, cache_read: 0, cache_write: 0}
///     fail: {status: 429, count: 2, retry_after: 1}
///     delay_ms: 0            # before every answer
///     chunk_delay_ms: 0      # between streamed events
///     tasks: {report: {steps: [...]}}   # per task id, over the rest
///
/// Strings may name `{{dir}}` (the task's working folder), `{{task}}`, `{{file}}` (the default
/// file to write: one inside the task's `owns`) and `{{last_result}}` (the text of the last tool
/// result the agent sent back, e.g. what `mcp__muster__wait` returned to a scripted lead).
public struct StubScript: Codable, Sendable, Equatable {
    public var steps: [StubStep]?
    public var usage: StubUsage?
    public var fail: StubFailure?
    public var delayMs: Int?
    public var chunkDelayMs: Int?
    /// The model named in answers (default: the one the request asked for).
    public var model: String?
    public var tasks: [String: StubScript]?

    enum CodingKeys: String, CodingKey {
        case steps, usage, fail, model, tasks
        case delayMs = "delay_ms"
        case chunkDelayMs = "chunk_delay_ms"
    }

    public init(steps: [StubStep]? = nil, usage: StubUsage? = nil, fail: StubFailure? = nil, delayMs: Int? = nil,
                chunkDelayMs: Int? = nil, model: String? = nil, tasks: [String: StubScript]? = nil) {
        self.steps = steps
        self.usage = usage
        self.fail = fail
        self.delayMs = delayMs
        self.chunkDelayMs = chunkDelayMs
        self.model = model
        self.tasks = tasks
    }

    /// The script for one task: its own entry laid over the shared settings.
    public func forTask(_ task: String?) -> StubScript {
        guard let task, let own = tasks?[task] else { return self }
        return StubScript(steps: own.steps ?? steps, usage: own.usage ?? usage, fail: own.fail ?? fail,
                          delayMs: own.delayMs ?? delayMs, chunkDelayMs: own.chunkDelayMs ?? chunkDelayMs,
                          model: own.model ?? model)
    }

    public static func load(path: String) throws -> StubScript {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelStubError.script("\(path): cannot read the stub script")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String = "script") throws -> StubScript {
        let script: StubScript
        do {
            script = try YAMLDecoder().decode(StubScript.self, from: text)
        } catch {
            throw ModelStubError.script("\(source): not a stub script (\(error)); see `muster stub-model --help` for its keys")
        }
        try script.validate(source: source)
        return script
    }

    func validate(source: String) throws {
        if let fail {
            guard fail.count >= 0, [429, 500, 503, 529].contains(fail.status) else {
                throw ModelStubError.script("\(source): fail.status must be 429, 500, 503 or 529 and fail.count 0 or more")
            }
        }
        if let delayMs, delayMs < 0 { throw ModelStubError.script("\(source): delay_ms must be 0 or more") }
        if let chunkDelayMs, chunkDelayMs < 0 { throw ModelStubError.script("\(source): chunk_delay_ms must be 0 or more") }
        for step in steps ?? [] where [step.write != nil, step.tool != nil, step.text != nil].filter({ $0 }).count != 1 {
            throw ModelStubError.script("\(source): each step is exactly one of write, tool or text")
        }
        for (_, own) in tasks ?? [:] { try own.validate(source: source) }
    }
}

public struct StubStep: Codable, Sendable, Equatable {
    public struct Write: Codable, Sendable, Equatable {
        public var path: String
        public var content: String
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var input: JSONValue
    }

    public var write: Write?
    public var tool: Tool?
    public var text: String?
    /// This answer's usage, over the script's.
    public var usage: StubUsage?

    public init(write: Write? = nil, tool: Tool? = nil, text: String? = nil, usage: StubUsage? = nil) {
        self.write = write
        self.tool = tool
        self.text = text
        self.usage = usage
    }

    public static func write(_ path: String, _ content: String) -> StubStep { StubStep(write: Write(path: path, content: content)) }
    public static func text(_ text: String) -> StubStep { StubStep(text: text) }
}

public struct StubUsage: Codable, Sendable, Equatable {
    public var input: Int
    public var output: Int
    public var cacheRead: Int
    public var cacheWrite: Int

    enum CodingKeys: String, CodingKey {
        case input, output
        case cacheRead = "cache_read"
        case cacheWrite = "cache_write"
    }

    public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        input = try c.decodeIfPresent(Int.self, forKey: .input) ?? 0
        output = try c.decodeIfPresent(Int.self, forKey: .output) ?? 0
        cacheRead = try c.decodeIfPresent(Int.self, forKey: .cacheRead) ?? 0
        cacheWrite = try c.decodeIfPresent(Int.self, forKey: .cacheWrite) ?? 0
    }

    public static let standard = StubUsage(input: 1000, output: 50)

    public static func + (a: StubUsage, b: StubUsage) -> StubUsage {
        StubUsage(input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead,
                  cacheWrite: a.cacheWrite + b.cacheWrite)
    }
}

public struct StubFailure: Codable, Sendable, Equatable {
    /// 429 (rate limit), 529 (overloaded), 500 or 503.
    public var status: Int
    /// The first `count` model requests of each conversation fail.
    public var count: Int
    /// Seconds, sent as `retry-after`.
    public var retryAfter: Int?
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case status, count, message
        case retryAfter = "retry_after"
    }

    public init(status: Int, count: Int, retryAfter: Int? = nil, message: String? = nil) {
        self.status = status
        self.count = count
        self.retryAfter = retryAfter
        self.message = message
    }
}

public enum ModelStubError: Error, CustomStringConvertible, Sendable {
    case script(String)
    case bind(String)

    public var description: String {
        switch self {
        case .script(let text): text
        case .bind(let text): "the model stub could not listen on 127.0.0.1: \(text)"
        }
    }
}
