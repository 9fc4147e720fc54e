import Foundation
import MCP
import MusterCore
import MusterRuntime

/// A tool call's arguments, checked like any hostile input: an unknown field or a wrong type is a
/// `RefusedRequest` naming the field (returned to the agent as a tool error, never a crash).
struct ToolArguments: Sendable {
    let tool: String
    let values: [String: Value]

    init(tool: String, values: [String: Value]?, allowed: [String]) throws(RefusedRequest) {
        self.tool = tool
        self.values = values ?? [:]
        for key in self.values.keys.sorted() where !allowed.contains(key) {
            let hint = Suggest.nearest(key, among: allowed).map { "did you mean `\($0)`?" }
                ?? (allowed.isEmpty ? "it takes no fields" : "known fields: \(allowed.joined(separator: ", "))")
            throw RefusedRequest("\(tool): unknown field `\(key)`; \(hint)")
        }
    }

    func text(_ key: String) throws(RefusedRequest) -> String? {
        guard let value = values[key], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw RefusedRequest("\(tool): `\(key)` must be text") }
        return string
    }

    func requiredText(_ key: String) throws(RefusedRequest) -> String {
        guard let string = try text(key), !string.isEmpty else { throw RefusedRequest("\(tool): `\(key)` is required") }
        return string
    }

    func texts(_ key: String) throws(RefusedRequest) -> [String] {
        guard let value = values[key], !value.isNull else { return [] }
        if let single = value.stringValue { return [single] }
        guard let list = value.arrayValue, let strings = Optional(list.compactMap(\.stringValue)), strings.count == list.count else {
            throw RefusedRequest("\(tool): `\(key)` must be a list of text")
        }
        return strings
    }

    /// A number of seconds (or any non-negative number): an integer or a decimal, never text or a flag.
    func number(_ key: String) throws(RefusedRequest) -> Double? {
        guard let value = values[key], !value.isNull else { return nil }
        let number: Double? = switch value {
        case .int(let n): Double(n)
        case .double(let d): d
        default: nil
        }
        guard let number, number >= 0, number.isFinite else { throw RefusedRequest("\(tool): `\(key)` must be a number of zero or more") }
        return number
    }

    func integer(_ key: String) throws(RefusedRequest) -> Int? {
        guard let number = try number(key) else { return nil }
        guard number == number.rounded(), number <= Double(Int32.max) else { throw RefusedRequest("\(tool): `\(key)` must be a whole number") }
        return Int(number)
    }

    func flag(_ key: String) throws(RefusedRequest) -> Bool {
        guard let value = values[key], !value.isNull else { return false }
        guard let flag = value.boolValue else { throw RefusedRequest("\(tool): `\(key)` must be true or false") }
        return flag
    }

    /// The arguments as Foundation JSON objects (for parsers shared with files, like spawn.json).
    func foundationObject() throws(RefusedRequest) -> [String: Any] {
        do {
            let data = try JSONEncoder().encode(values)
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        } catch {
            throw RefusedRequest("\(tool): arguments are not JSON: \(error)")
        }
    }
}

/// Builds JSON schemas for tool inputs briefly.
enum Schema {
    static func object(_ properties: [String: Value], required: [String] = []) -> Value {
        var schema: [String: Value] = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !required.isEmpty { schema["required"] = .array(required.map { .string($0) }) }
        return .object(schema)
    }
    static func text(_ description: String) -> Value { ["type": "string", "description": .string(description)] }
    static func texts(_ description: String) -> Value {
        ["type": "array", "items": ["type": "string"], "description": .string(description)]
    }
    static func number(_ description: String) -> Value { ["type": "number", "minimum": 0, "description": .string(description)] }
    static func integer(_ description: String) -> Value { ["type": "integer", "minimum": 0, "description": .string(description)] }
    static func boolean(_ description: String) -> Value { ["type": "boolean", "description": .string(description)] }
}
