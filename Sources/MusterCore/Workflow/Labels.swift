import Foundation

/// Task labels: a task's `runs_on: [gpu, big]` names labels a claimer must all have (`muster worker
/// --labels gpu,big`, `muster run --labels`). A label is a short name of ASCII letters, digits and
/// `-_.`, so it reads the same in a spec, on a command line and in the store.
public enum Labels {
    public static let maxLength = 64

    /// Why `name` is not a label, or nil when it is one.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.count > maxLength { return "is longer than \(maxLength) characters" }
        if let bad = name.unicodeScalars.first(where: { !isAllowed($0) }) {
            let shown = bad.value < 0x20 || bad.value == 0x7F ? "\\u{\(String(bad.value, radix: 16))}" : String(bad)
            return "contains `\(shown)`"
        }
        return nil
    }

    static func isAllowed(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_" || c == "."
    }

    /// A label as a one-line message may quote it (control characters escaped).
    public static func shown(_ text: String) -> String { SpecError.oneLine(text) }

    /// What every label message ends with.
    public static let rule = "letters, digits, `-`, `_` and `.`"

    /// `gpu,big` (a command line): the labels, or the first bad one's message.
    public static func parse(commaSeparated text: String) -> Result<Set<String>, LabelError> {
        var out = Set<String>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            if let problem = problem(name) { return .failure(LabelError(label: name, problem: problem)) }
            out.insert(name)
        }
        return .success(out)
    }

    /// The labels of `required` that `have` lacks, sorted.
    public static func missing(_ required: [String], have: Set<String>) -> [String] {
        required.filter { !have.contains($0) }.sorted()
    }
}

public struct LabelError: Error, Sendable, Equatable, CustomStringConvertible {
    public var label: String
    public var problem: String
    public var description: String { "'\(SpecError.oneLine(label))' is not a label: it \(problem) (use \(Labels.rule))" }
}
