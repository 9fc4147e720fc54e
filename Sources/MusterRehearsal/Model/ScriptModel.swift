import Foundation
import MusterCore

/// One answer of the model: text and tool calls, why it stopped, and the usage it reports.
struct ModelAnswer {
    enum Block {
        case text(String)
        case toolUse(id: String, name: String, input: [String: Any])
    }

    var blocks: [Block]
    var usage: StubUsage
    var model: String
    var toolUse: Bool { blocks.contains { if case .toolUse = $0 { true } else { false } } }
}

/// A tool the agent offered in its request: its name and the properties its input takes.
struct OfferedTool {
    var name: String
    var properties: Set<String>
}

/// Turns a script step into an answer for the agent at hand: a `write` goes through the agent's
/// own file-writing tool, found by name (`Write`) or by its input schema (a path and a content).
struct ScriptModel {
    var conversation: StubConversation
    var script: StubScript
    /// The agent's working folder: registered, or learnt from its system prompt.
    var directory: String?
    /// The text of the last tool result the agent sent back (`{{last_result}}`): a scripted lead
    /// answers with what its `wait` returned.
    var lastResult: String?

    /// The steps to play: the script's, or the default (one small file inside `owns`, then a final text).
    var steps: [StubStep] {
        if let steps = script.steps, !steps.isEmpty { return steps }
        let task = conversation.task ?? "the task"
        guard let file = RehearsalTarget.file(owns: conversation.owns, task: conversation.task) else {
            return [.text("muster rehearsal: \(task) owns no file, so nothing was written.")]
        }
        return [.write(file, "Written by muster's model stub for \(task) (a rehearsal: no model was called).\n"),
                .text("muster rehearsal: \(task) wrote \(file).")]
    }

    func usage(for step: StubStep?) -> StubUsage { step?.usage ?? script.usage ?? .standard }

    /// `{{dir}}`, `{{task}}`, `{{file}}` filled in.
    func fill(_ text: String) -> String {
        var out = text
        if out.contains("{{") {
            out = out.replacingOccurrences(of: "{{dir}}", with: directory ?? ".")
            out = out.replacingOccurrences(of: "{{task}}", with: conversation.task ?? "")
            out = out.replacingOccurrences(of: "{{last_result}}", with: lastResult ?? "")
            out = out.replacingOccurrences(of: "{{file}}",
                                           with: RehearsalTarget.file(owns: conversation.owns, task: conversation.task) ?? "MUSTER-REHEARSAL.md")
        }
        return out
    }

    /// A path as the agent's tools want it: absolute, under the working folder when relative.
    func absolute(_ path: String) -> String {
        let filled = fill(path)
        if filled.hasPrefix("/") { return filled }
        guard let directory else { return filled }
        return URL(fileURLWithPath: directory).appendingPathComponent(filled).standardizedFileURL.path
    }

    /// A path relative to the working folder when inside it (aider names files that way).
    func relative(_ path: String) -> String {
        let filled = fill(path)
        guard filled.hasPrefix("/"), let directory else { return filled }
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path + "/"
        return filled.hasPrefix(base) ? String(filled.dropFirst(base.count)) : filled
    }

    /// The answer to a tool-using agent's `turn`-th request (0-based: how many answers it already had).
    func answer(turn: Int, tools: [OfferedTool], model: String) -> ModelAnswer {
        let all = steps
        guard turn < all.count else {
            return ModelAnswer(blocks: [.text(fill(lastText(all) ?? "Done."))], usage: usage(for: nil), model: model)
        }
        let step = all[turn]
        let id = "toolu_stub" + String(UInt64.random(in: 0..<UInt64.max), radix: 16)
        if let write = step.write {
            let path = absolute(write.path)
            guard let tool = Self.writeTool(in: tools) else {
                return ModelAnswer(blocks: [.text("muster stub: the agent offered no tool that writes a file; \(path) was not written.")],
                                   usage: usage(for: step), model: model)
            }
            var input: [String: Any] = [:]
            input[tool.pathKey] = path
            input[tool.contentKey] = fill(write.content)
            return ModelAnswer(blocks: [.text("I will write \(path)."), .toolUse(id: id, name: tool.name, input: input)],
                               usage: usage(for: step), model: model)
        }
        if let call = step.tool {
            let input = call.input.foundation(fill) as? [String: Any] ?? [:]
            return ModelAnswer(blocks: [.text("I will call \(call.name)."), .toolUse(id: id, name: call.name, input: input)],
                               usage: usage(for: step), model: model)
        }
        return ModelAnswer(blocks: [.text(fill(step.text ?? "Done."))], usage: usage(for: step), model: model)
    }

    func lastText(_ steps: [StubStep]) -> String? { steps.last { $0.text != nil }?.text }

    static func writeTool(in tools: [OfferedTool]) -> (name: String, pathKey: String, contentKey: String)? {
        let pathKeys = ["file_path", "path", "filePath", "absolute_path", "filename"]
        let contentKeys = ["content", "contents", "text"]
        let ordered = tools.filter { $0.name == "Write" } + tools.filter { $0.name != "Write" }
        for tool in ordered {
            if let p = pathKeys.first(where: tool.properties.contains), let c = contentKeys.first(where: tool.properties.contains) {
                return (tool.name, p, c)
            }
        }
        return nil
    }

    /// Everything at once for an agent without tools (aider): the texts, and each write as an edit
    /// block in the agent's edit format (`diff`: SEARCH/REPLACE, else the whole file).
    func editAnswer(searchReplace: Bool, model: String) -> ModelAnswer {
        var lines: [String] = ["Here are the changes (muster stub)."]
        for step in steps {
            if let write = step.write {
                let path = relative(write.path)
                let content = fill(write.content)
                let body = content.hasSuffix("\n") ? String(content.dropLast()) : content
                if searchReplace {
                    lines += ["", path, "```", "<<<<<<< SEARCH", "=======", body, ">>>>>>> REPLACE", "```"]
                } else {
                    lines += ["", path, "```", body, "```"]
                }
            } else if let text = step.text {
                lines += ["", fill(text)]
            } else if let call = step.tool {
                lines += ["", "(muster stub: \(call.name) is a tool this agent does not have)"]
            }
        }
        // One request, one answer: the usage of one answer.
        return ModelAnswer(blocks: [.text(lines.joined(separator: "\n"))], usage: usage(for: steps.first), model: model)
    }

    static let sentinel = "(muster stub)"
}

/// The file a rehearsal writes by default: a path inside the task's first `owns` glob that can
/// hold a file (`Sources/A/**` → `Sources/A/MUSTER-REHEARSAL.md`, `docs/*.md` → `docs/muster-rehearsal.md`).
public enum RehearsalTarget {
    public static func file(owns: [String], task: String?) -> String? {
        for pattern in owns {
            guard let glob = try? Glob(pattern) else { continue }
            let (named, inside) = candidates(pattern)
            if let named, glob.matchesExactly(named) { return named }
            if glob.matches(inside) { return inside }
        }
        return nil
    }

    /// The pattern with its wildcards made concrete (unless it ends in a folder), and a file inside it.
    static func candidates(_ pattern: String) -> (named: String?, inside: String) {
        var segments = pattern.split(separator: "/").map(String.init)
        let folder = pattern.hasSuffix("/") || segments.last == "**"
        if segments.last == "**" { segments.removeLast() }
        let concrete = segments.map { segment -> String in
            if segment == "**" { return "rehearsal" }
            var s = segment.replacingOccurrences(of: "*", with: "muster-rehearsal").replacingOccurrences(of: "?", with: "x")
            // A character class: its first character.
            while let open = s.firstIndex(of: "["), let close = s[open...].firstIndex(of: "]") {
                let inner = s[s.index(after: open)..<close].drop { $0 == "!" || $0 == "^" }
                s.replaceSubrange(open...close, with: String(inner.first ?? "x"))
            }
            return s
        }
        let joined = concrete.joined(separator: "/")
        return (folder || joined.isEmpty ? nil : joined, (joined.isEmpty ? "" : joined + "/") + "MUSTER-REHEARSAL.md")
    }
}
