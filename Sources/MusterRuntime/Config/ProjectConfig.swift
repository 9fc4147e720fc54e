import Foundation
import MusterCore
import TOMLKit

/// `muster.toml` at the repository root (optional): custom agent profiles shared by every workflow,
/// price overrides, and shared limits (see `ProjectConfig+Limits.swift`).
///
/// ```toml
/// [agents.careful-claude]
/// base = "claude"
/// permissions = "plan"
///
/// [agents.my-agent]
/// command = ["my-agent", "--json"]
/// output = "codex-json"
/// prompt = "stdin"
///
/// [prices."claude-opus-4-8"]
/// input = 5.0
/// output = 25.0
/// cache_write = 6.25
/// cache_read = 0.5
/// ```
public struct ProjectConfig: Sendable {
    public static let fileName = "muster.toml"
    static let topKeys = ["agents", "prices", "limits", "resources", "worktree"]
    static let priceKeys = ["input", "output", "cache_write", "cache_read"]

    /// nil when the repository has no muster.toml.
    public var path: String?
    public var profiles: [String: AgentProfile] = [:]
    /// The shipped defaults with the file's `[prices.*]` laid over them.
    public var prices: PriceTable = .defaults
    public var overriddenModels: [String] = []
    /// `[limits.*]` and `[resources]`: under every workflow's own (the spec wins key by key).
    public var limits: [String: LimitSpec] = [:]
    /// `[worktree]`: parallelism and the pool (see `ProjectConfig+Worktree.swift`).
    public var worktree = WorktreeSettings()
    /// `[worktree]`'s copy/link/setup/inputs: under each workflow's own `worktree:`.
    public var worktreeDefaults: WorktreeSpec?

    public init(path: String? = nil) { self.path = path }

    public static func load(root: URL) throws(SpecError) -> ProjectConfig {
        let path = root.appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else { return ProjectConfig() }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpecError(file: path, location: SourceLocation(line: 0, column: 0), message: "cannot read \(fileName)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(SpecError) -> ProjectConfig {
        var config = ProjectConfig(path: file)
        let locator = TOMLLocator(text: text)
        func fail(_ path: [String], atValue: Bool = false, _ message: String, fix: String? = nil) -> SpecError {
            SpecError(file: file, location: locator.location(path, atValue: atValue), message: message, fix: fix)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SpecError(file: file, location: SourceLocation(line: error.source.begin.line, column: error.source.begin.column),
                            message: "malformed TOML: \(error.description)", fix: "check the quoting and brackets near this position")
        } catch {
            throw SpecError(file: file, location: SourceLocation(line: 1, column: 1), message: "malformed TOML: \(error)")
        }
        for key in table.keys.sorted() where !topKeys.contains(key) {
            let hint = Suggest.nearest(key, among: topKeys).map { "did you mean `\($0)`?" } ?? "known keys: \(topKeys.joined(separator: ", "))"
            throw fail([key], "unknown key `\(key)` in \(fileName)", fix: hint)
        }
        if let agents = table["agents"] {
            guard let agentsTable = agents.table else { throw fail(["agents"], atValue: true, "`agents` must be a table of profiles") }
            for name in agentsTable.keys.sorted() {
                guard let body = agentsTable[name]?.table else {
                    throw fail(["agents", name], atValue: true, "agent `\(name)` must be a table",
                               fix: "write `[agents.\(name)]` with `command = [...]` and `output = \"text\"`, or `base = \"claude\"`")
                }
                let fields: [(String, ProfileValue)] = body.keys.sorted().map { key in
                    (key, profileValue(body[key]!, flag: AgentProfileBuilder.flagKeys.contains(key)))
                }
                let profile = try AgentProfileBuilder.build(name: name, fields: fields, source: fileName) { key, atKey, message, fix in
                    fail(["agents", name] + (key.map { [$0] } ?? []), atValue: !atKey && key != nil, message, fix: fix)
                }
                config.profiles[name] = profile
            }
        }
        config.limits = try limits(table) { path, atValue, message, fix in fail(path, atValue: atValue, message, fix: fix) }
        // [worktree]: its own block (ProjectConfig+Worktree.swift).
        (config.worktree, config.worktreeDefaults) = try worktreeTable(table) { path, atValue, message, fix in
            fail(path, atValue: atValue, message, fix: fix)
        }
        if let prices = table["prices"] {
            guard let pricesTable = prices.table else { throw fail(["prices"], atValue: true, "`prices` must be a table of models") }
            for model in pricesTable.keys.sorted() {
                guard let entry = pricesTable[model]?.table else {
                    throw fail(["prices", model], atValue: true, "the price of `\(model)` must be a table",
                               fix: "write `[prices.\"\(model)\"]` with `input = …` and `output = …` (dollars per million tokens)")
                }
                var values: [String: Double] = [:]
                for key in entry.keys.sorted() {
                    guard priceKeys.contains(key) else {
                        let hint = Suggest.nearest(key, among: priceKeys).map { "did you mean `\($0)`?" } ?? "known keys: \(priceKeys.joined(separator: ", "))"
                        throw fail(["prices", model, key], "unknown key `\(key)` in the price of `\(model)`", fix: hint)
                    }
                    let value = entry[key]!
                    guard let number = value.double ?? value.int.map(Double.init), number.isFinite, number >= 0 else {
                        throw fail(["prices", model, key], atValue: true, "`\(key)` of `\(model)` must be a number of dollars per million tokens, zero or more")
                    }
                    values[key] = number
                }
                guard let input = values["input"], let output = values["output"] else {
                    throw fail(["prices", model], "the price of `\(model)` needs both `input` and `output`",
                               fix: "add the missing one (dollars per million tokens)")
                }
                config.prices.models[model] = ModelPrice(input: input, output: output, cacheWrite: values["cache_write"], cacheRead: values["cache_read"])
                config.overriddenModels.append(model)
            }
        }
        return config
    }

    /// `flag`: the key takes true or false, so text there (`mcp = "false"`) is the wrong type.
    static func profileValue(_ value: any TOMLValueConvertible, flag: Bool = false) -> ProfileValue {
        if value.type == .bool, let bool = value.bool { return .flag(bool) }
        if let text = value.string { return flag ? .other("text") : .text(text) }
        if let array = value.array {
            var items: [String] = []
            for element in array {
                guard let text = element.string else { return .other("a list of non-text values") }
                items.append(text)
            }
            return .list(items)
        }
        return .other("\(value.type)")
    }

}

/// Finds where a key of a TOML document was written (TOMLKit keeps no positions): its table
/// header (`[agents.foo]`, `[prices."model"]`), then the `key = value` line inside it, or the key
/// inside an inline table on that line.
struct TOMLLocator {
    let lines: [String]

    init(text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func location(_ path: [String], atValue: Bool) -> SourceLocation {
        // The deepest table header that the path starts with.
        var headerLine: Int?
        var depth = 0
        for (index, line) in lines.enumerated() {
            guard let header = Self.header(line), header.count <= path.count, Array(path.prefix(header.count)) == header,
                  header.count > depth else { continue }
            headerLine = index
            depth = header.count
        }
        let rest = Array(path.dropFirst(depth))
        guard let first = rest.first else {
            guard let headerLine else { return SourceLocation(line: 1, column: 1) }
            let line = lines[headerLine]
            let column = line.range(of: path.last ?? "").map { line.distance(from: line.startIndex, to: $0.lowerBound) + 1 } ?? 1
            return SourceLocation(line: headerLine + 1, column: column)
        }
        var index = (headerLine ?? -1) + 1
        while index < lines.count {
            let line = lines[index]
            if index != headerLine, Self.header(line) != nil { break }
            if let (keys, keyColumn, valueColumn) = Self.assignment(line) {
                if keys == rest { return SourceLocation(line: index + 1, column: atValue ? valueColumn : keyColumn) }
                if keys == [first] || Array(rest.prefix(keys.count)) == keys, rest.count > keys.count {
                    // An inline table: `foo = { output = "x" }`.
                    let inner = rest[keys.count...].joined(separator: ".")
                    if let found = Self.find(key: inner, in: line, after: valueColumn - 1, atValue: atValue) {
                        return SourceLocation(line: index + 1, column: found)
                    }
                    return SourceLocation(line: index + 1, column: keyColumn)
                }
            }
            index += 1
        }
        if let headerLine { return SourceLocation(line: headerLine + 1, column: 1) }
        return SourceLocation(line: 1, column: 1)
    }

    /// `[a."b.c"]` → ["a", "b.c"]; nil when the line is not a table header.
    static func header(_ line: String) -> [String]? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("["), let close = trimmed.lastIndex(of: "]") else { return nil }
        var inner = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
        if inner.hasPrefix("[") { inner.removeFirst() }
        if inner.hasSuffix("]") { inner.removeLast() }
        return splitKeys(inner)
    }

    /// `key = value` → (keys, key column, value column), 1-based.
    static func assignment(_ line: String) -> ([String], Int, Int)? {
        var quote: Character?
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == "\"" || c == "'" { quote = c; continue }
            if c == "#" { return nil }
            if c == "=" {
                let keyPart = String(line.prefix(offset))
                guard let keys = splitKeys(keyPart), !keys.isEmpty else { return nil }
                let keyColumn = (keyPart.firstIndex { !$0.isWhitespace }.map { keyPart.distance(from: keyPart.startIndex, to: $0) } ?? 0) + 1
                let after = line.dropFirst(offset + 1)
                let valueColumn = offset + 2 + (after.firstIndex { !$0.isWhitespace }.map { after.distance(from: after.startIndex, to: $0) } ?? 0)
                return (keys, keyColumn, valueColumn)
            }
        }
        return nil
    }

    /// Dotted keys with quoted parts unquoted; nil when empty.
    static func splitKeys(_ text: String) -> [String]? {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "." {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts.contains(where: \.isEmpty) ? nil : parts
    }

    /// The column of `key` (or of its value) written as `key =` inside `line`, searching from `offset`.
    static func find(key: String, in line: String, after offset: Int, atValue: Bool) -> Int? {
        let tail = String(line.dropFirst(offset))
        guard let regex = try? NSRegularExpression(pattern: "[{,]\\s*[\"']?" + NSRegularExpression.escapedPattern(for: key) + "[\"']?\\s*=\\s*") else { return nil }
        guard let match = regex.firstMatch(in: tail, range: NSRange(tail.startIndex..., in: tail)),
              let range = Range(match.range, in: tail) else { return nil }
        if atValue { return offset + tail.distance(from: tail.startIndex, to: range.upperBound) + 1 }
        let keyStart = tail[range].firstIndex { $0 != "{" && $0 != "," && !$0.isWhitespace } ?? range.lowerBound
        return offset + tail.distance(from: tail.startIndex, to: keyStart) + 1
    }
}
