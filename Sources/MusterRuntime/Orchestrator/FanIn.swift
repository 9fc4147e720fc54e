import Foundation
import MusterCore
import MusterStore

/// What a fan-in task sees of the tasks it needs. Seed 000's stateful hand-off: full results stay
/// on disk; the prompt gets each child's result cut to a budget, with the path to the full text.
enum FanIn {
    /// Per-child characters when the spec sets none: 100 children fit in ~150k characters of prompt.
    static func defaultBudget(children: Int) -> Int {
        max(200, min(4000, 150_000 / max(1, children)))
    }

    static func summaries(_ members: [TaskRecord], budget: Int?, root: URL) -> String {
        let limit = budget ?? defaultBudget(children: members.count)
        return members.map { task in
            var text = (task.summary ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if text.count > limit { text = String(text.prefix(limit)) + " …[cut]" }
            let path = task.resultPath.map { "\n(full result: \($0))" } ?? ""
            return "### \(task.id) (\(task.state.rawValue))\n\(text)\(path)"
        }.joined(separator: "\n\n")
    }

    /// Result paths are stored relative to the repository root, so they stay valid if it moves.
    static func fullResult(_ task: TaskRecord, root: URL) -> String {
        task.resultPath.flatMap { try? String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) } ?? task.summary ?? ""
    }

    static func results(_ members: [TaskRecord], root: URL) -> String {
        members.map { task in
            let full = fullResult(task, root: root)
            return "### \(task.id)\n\(full.trimmingCharacters(in: .whitespacesAndNewlines))"
        }.joined(separator: "\n\n")
    }

    struct NotAList: Error, CustomStringConvertible {
        var task: String
        var description: String {
            "task \(task) did not print a JSON list as its result; `foreach: from: \(task)` needs one, e.g. [\"a\", \"b\"]"
        }
    }

    /// The items of a `foreach: from` source: the JSON array each source task printed (the whole
    /// output, or failing that its last line that is an array), concatenated in task order.
    static func items(from sources: [TaskRecord], root: URL) throws -> [ItemValue] {
        var items: [ItemValue] = []
        for task in sources {
            let text = fullResult(task, root: root)
            guard let array = jsonArray(text) else { throw NotAList(task: task.id) }
            items += array.map(item)
        }
        return items
    }

    static func jsonArray(_ text: String) -> [Any]? {
        if let whole = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? [Any] {
            return whole
        }
        for line in text.split(separator: "\n").reversed() {
            if let array = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any] { return array }
        }
        return nil
    }

    static func item(_ value: Any) -> ItemValue {
        switch value {
        case let text as String: return .string(text)
        case let object as [String: Any]: return .map(object.mapValues { scalarText($0) })
        default: return .string(scalarText(value))
        }
    }

    static func scalarText(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let number = value as? NSNumber { return number.stringValue }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}

extension PlannedTask {
    /// Whether dispatch must load needed groups' results to render this task.
    var mentionsNeeds: Bool {
        (prompt ?? "").contains("{{") || (command?.argv ?? []).contains { $0.contains("{{") } || env.values.contains { $0.contains("{{") }
    }
}
