import Foundation
import Yams

/// Reading single values from the YAML tree: locations and errors, mappings with their allowed
/// keys, strings, bounded integers and numbers, durations and string lists, each failing with the
/// node's line:col and a fix.
extension NodeReader {
    func loc(_ node: Node) -> SourceLocation {
        node.mark.map { SourceLocation(line: $0.line, column: $0.column) } ?? SourceLocation(line: 1, column: 1)
    }

    func fail(_ node: Node, _ message: String, fix: String? = nil) -> SpecError {
        SpecError(file: file, location: loc(node), message: message, fix: fix)
    }

    func syntaxError(_ error: YamlError) -> SpecError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            let firstLine = problem.split(separator: "\n").first.map(String.init) ?? problem
            return SpecError(file: file, location: SourceLocation(line: mark.line, column: mark.column),
                             message: "malformed YAML: \(firstLine)", fix: "check indentation and quoting near this position")
        case .reader(let problem, let offset, let value, let yaml):
            // Bytes YAML may not hold (control characters, invalid UTF-8): name the first one's position.
            var location = SourceLocation(line: 1, column: 1)
            if let offset {
                for character in yaml.prefix(offset) {
                    if character.isNewline { location = SourceLocation(line: location.line + 1, column: 1) } else { location.column += 1 }
                }
            }
            let what = value >= 0 ? " (U+\(String(format: "%04X", value)))" : ""
            return SpecError(file: file, location: location, message: "malformed YAML: \(problem)\(what)",
                             fix: "remove the character, or write it escaped inside a double-quoted string")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            return SpecError(file: file, location: secondOccurrence(of: key, in: context.mark),
                             message: "duplicate key `\(key)` in the same mapping (task ids and keys must be unique)",
                             fix: "rename or remove one of them")
        default:
            return SpecError(file: file, location: SourceLocation(line: 1, column: 1), message: "malformed YAML: \(error)")
        }
    }

    /// Yams marks the mapping that holds a duplicate, not the duplicate: find the repeated key's line.
    func secondOccurrence(of key: String, in mark: Mark) -> SourceLocation {
        let indent = String(repeating: " ", count: max(0, mark.column - 1))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let hits = lines.indices.filter { index in
            index + 1 >= mark.line && lines[index].hasPrefix(indent + key + ":")
                && !lines[index].dropFirst(indent.count).hasPrefix(" ")
        }
        let line = hits.count > 1 ? hits[1] + 1 : mark.line
        return SourceLocation(line: line, column: mark.column)
    }

    mutating func record(_ path: String, _ node: Node) { locations[path] = loc(node) }

    /// Pairs of a mapping, refusing unknown keys (with the nearest known one) and duplicates.
    func pairs(_ node: Node, what: String, allowed: [String]?) throws(SpecError) -> [(String, Node, Node)] {
        guard case .mapping(let mapping) = node else {
            throw fail(node, "\(what) must be a mapping of `key: value` lines")
        }
        var seen = Set<String>()
        var out: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw fail(keyNode, "\(what) has a key that is not text") }
            if let allowed, !allowed.contains(key) {
                let hint = Suggest.nearest(key, among: allowed).map { "did you mean `\($0)`?" }
                    ?? "known keys: \(allowed.joined(separator: ", "))"
                throw fail(keyNode, "unknown key `\(key)` in \(what)", fix: hint)
            }
            guard seen.insert(key).inserted else {
                throw fail(keyNode, "duplicate key `\(key)` in \(what)", fix: "keep one `\(key)`")
            }
            out.append((key, keyNode, value))
        }
        return out
    }

    func string(_ node: Node, _ what: String) throws(SpecError) -> String {
        guard case .scalar(let scalar) = node else { throw fail(node, "\(what) must be text") }
        return scalar.string
    }

    /// Ceilings on numbers a spec may hold: far above any real use, far below where muster's
    /// arithmetic (sums of tokens, costs, minutes, slot counts) would overflow or lose meaning.
    enum Ceiling {
        static let count = 1_000_000
        static let tokens = 1_000_000_000_000
        static let minutes = 10_000_000.0
        static let dollars = 1_000_000_000.0
    }

    func int(_ node: Node, _ what: String, min: Int, max: Int = Ceiling.count) throws(SpecError) -> Int {
        guard case .scalar(let scalar) = node else { throw fail(node, "\(what) must be a whole number") }
        guard let value = node.int else {
            // Yams gives no Int for a whole number beyond Int64: say it is too large, not that it is not a number.
            let digits = scalar.string.trimmingCharacters(in: .whitespaces)
            let body = digits.drop(while: { $0 == "-" || $0 == "+" })
            if !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isNumber }) {
                throw fail(node, "\(what) is too large: \(digits.prefix(40))", fix: "use at most \(max)")
            }
            throw fail(node, "\(what) must be a whole number")
        }
        guard value >= min else { throw fail(node, "\(what) must be at least \(min), got \(value)") }
        guard value <= max else { throw fail(node, "\(what) is too large: \(value)", fix: "use at most \(max)") }
        return value
    }

    func number(_ node: Node, _ what: String, max: Double) throws(SpecError) -> Double {
        guard case .scalar = node, let value = node.float, value >= 0 else {
            throw fail(node, "\(what) must be a number of zero or more")
        }
        guard value.isFinite, value <= max else {
            throw fail(node, "\(what) is too large: \(value)", fix: "use a finite number of at most \(Int(max))")
        }
        return value
    }

    func duration(_ node: Node, _ what: String) throws(SpecError) -> Duration {
        guard case .scalar(let scalar) = node, let value = Duration.parseSpec(scalar.string), value > .zero else {
            throw fail(node, "\(what) must be a positive duration", fix: "write e.g. `90s`, `20m`, `1h30m`")
        }
        return value
    }

    /// A list of strings; a single string is accepted as a one-element list (`needs: scan`).
    mutating func strings(_ node: Node, _ what: String, path: String) throws(SpecError) -> [String] {
        switch node {
        case .scalar(let scalar):
            record("\(path).0", node)
            return [scalar.string]
        case .sequence(let sequence):
            var out: [String] = []
            for (index, element) in sequence.enumerated() {
                record("\(path).\(index)", element)
                out.append(try string(element, "each entry of \(what)"))
            }
            return out
        default:
            throw fail(node, "\(what) must be a list of text")
        }
    }
}
