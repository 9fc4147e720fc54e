import Foundation
import MusterCore

/// Reads a JSON list of children (`$MUSTER_OUTBOX/spawn.json`, or `muster spawn --file`):
///
///     [{"prompt": "…", "owns": ["Sources/A/**"], "agent": "claude", "needs": ["scan.A"]},
///      {"id": "lint-a", "command": ["swiftlint", "Sources/A"]}]
///
/// Keys: id, prompt, command (argv list, or a string split into words; `"shell": true` runs it
/// through /bin/sh), agent, model, owns, needs, env, retries, timeout ("10m"), estimate
/// ({minutes, input_tokens, output_tokens}), uses (limit keys; default: the parent's), runs_on (labels
/// a claimer must have; default: the parent's). Anything else is refused with the entry's number.
public enum SpawnFile {
    public static let fileName = "spawn.json"
    /// Bigger than any sane list of children; a runaway writer is refused, not parsed.
    public static let maxBytes = 1 << 20
    public static let maxEntries = 1000
    static let keys = ["id", "prompt", "command", "shell", "agent", "model", "owns", "needs", "env", "retries", "timeout", "estimate", "uses", "runs_on"]
    static let estimateKeys = ["minutes", "input_tokens", "output_tokens"]

    public static func read(path: String) throws(SpawnRequestError) -> [SpawnRequest] {
        let name = (path as NSString).lastPathComponent
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? NSNumber else {
            throw .invalid("\(name): cannot read \(path)")
        }
        guard size.intValue <= maxBytes else {
            throw .invalid("\(name) is \(size.intValue) bytes, over the \(maxBytes)-byte limit: spawn fewer or shorter children")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw .invalid("\(name): cannot read \(path)") }
        return try parse(data, name: name)
    }

    public static func parse(_ data: Data, name: String = fileName) throws(SpawnRequestError) -> [SpawnRequest] {
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch {
            throw .invalid("\(name) is not valid JSON (\(error.localizedDescription)): write a list of objects, e.g. [{\"prompt\": \"…\", \"owns\": [\"src/a/**\"]}]")
        }
        guard let list = value as? [Any] else {
            throw .invalid("\(name) must hold a JSON list of children, e.g. [{\"prompt\": \"…\"}]")
        }
        guard list.count <= maxEntries else { throw .invalid("\(name) lists \(list.count) children, over the limit of \(maxEntries)") }
        var requests: [SpawnRequest] = []
        for (index, element) in list.enumerated() {
            let at = "\(name) entry \(index + 1)"
            guard let object = element as? [String: Any] else { throw .invalid("\(at) is not an object") }
            requests.append(try request(object, at: at))
        }
        return requests
    }

    public static func request(_ object: [String: Any], at: String) throws(SpawnRequestError) -> SpawnRequest {
        for key in object.keys where !keys.contains(key) {
            let hint = Suggest.nearest(key, among: keys).map { "did you mean `\($0)`?" } ?? "known keys: \(keys.joined(separator: ", "))"
            throw .invalid("\(at): unknown key `\(key)`; \(hint)")
        }
        func text(_ key: String) throws(SpawnRequestError) -> String? {
            guard let value = object[key] else { return nil }
            guard let string = value as? String else { throw .invalid("\(at): `\(key)` must be text") }
            return string
        }
        func list(_ key: String) throws(SpawnRequestError) -> [String] {
            guard let value = object[key] else { return [] }
            if let single = value as? String { return [single] }
            guard let strings = value as? [String] else { throw .invalid("\(at): `\(key)` must be a list of text") }
            return strings
        }
        var request = SpawnRequest(id: try text("id"), prompt: try text("prompt"), agent: try text("agent"), model: try text("model"),
                                   owns: try list("owns"), needs: try list("needs"))
        if object["uses"] != nil { request.uses = try list("uses") }
        if object["runs_on"] != nil {
            let labels = try list("runs_on")
            for label in labels {
                if let problem = Labels.problem(label) {
                    throw .invalid("\(at): `runs_on` label `\(Labels.shown(label))` \(problem): use \(Labels.rule)")
                }
            }
            request.runsOn = labels
        }
        let shell = object["shell"] as? Bool ?? false
        if let command = object["command"] {
            if let line = command as? String {
                if shell {
                    request.command = Command(argv: [line], viaShell: true)
                } else {
                    guard let words = ShellWords.split(line), !words.isEmpty else { throw .invalid("\(at): `command` is empty or has an unclosed quote") }
                    request.command = Command(argv: words)
                }
            } else if let argv = command as? [String], !argv.isEmpty, !shell {
                request.command = Command(argv: argv)
            } else {
                throw .invalid("\(at): `command` must be a non-empty argv list, or one string (with \"shell\": true for /bin/sh)")
            }
        }
        if let env = object["env"] {
            guard let pairs = env as? [String: String] else { throw .invalid("\(at): `env` must map names to text") }
            request.env = pairs
        }
        if let retries = object["retries"] {
            guard let n = retries as? Int, n >= 0, !(retries is Bool) else { throw .invalid("\(at): `retries` must be a whole number of zero or more") }
            request.retries = n
        }
        if let timeout = try text("timeout") {
            guard let d = Duration.parseSpec(timeout), d > .zero else { throw .invalid("\(at): `timeout` must be a duration like \"90s\" or \"20m\"") }
            request.timeout = d
        }
        if let estimate = object["estimate"] {
            guard let fields = estimate as? [String: Any] else { throw .invalid("\(at): `estimate` must be an object") }
            var e = Estimate()
            for (key, value) in fields {
                guard estimateKeys.contains(key), let number = value as? Double, number >= 0 else {
                    throw .invalid("\(at): `estimate` takes minutes, input_tokens and output_tokens, each a number of zero or more")
                }
                switch key {
                case "minutes": e.minutes = number
                case "input_tokens": e.inputTokens = Int(number)
                default: e.outputTokens = Int(number)
                }
            }
            request.estimate = e
        }
        return request
    }
}
