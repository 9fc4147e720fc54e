import Foundation
import MCP
import MusterRuntime

/// One MCP tool: its schema and the library call behind it. `run` returns a JSON value (sent both as
/// text and as structured content); a `RefusedRequest` becomes a tool error with its reason.
struct MusterTool: Sendable {
    let name: String
    let description: String
    let fields: [String: Value]
    let required: [String]
    let run: @Sendable (ToolArguments, MCPContext) async throws -> Value

    init(_ name: String, _ description: String, fields: [String: Value] = [:], required: [String] = [],
         run: @escaping @Sendable (ToolArguments, MCPContext) async throws -> Value) {
        self.name = name
        self.description = description
        self.fields = fields
        self.required = required
        self.run = run
    }

    var tool: Tool { Tool(name: name, description: description, inputSchema: Schema.object(fields, required: required)) }

    func call(_ arguments: [String: Value]?, context: MCPContext) async -> CallTool.Result {
        do {
            let checked = try ToolArguments(tool: name, values: arguments, allowed: fields.keys.sorted())
            for key in required where checked.values[key] == nil {
                throw RefusedRequest("\(name): `\(key)` is required")
            }
            let value = try await run(checked, context)
            return try CallTool.Result(content: [.text(text: Self.render(value), annotations: nil, _meta: nil)], structuredContent: Self.structured(value), isError: false)
        } catch let error as RefusedRequest {
            return Self.failure(error.description)
        } catch let error as CustomStringConvertible {
            return Self.failure("\(name): \(error.description)")
        } catch {
            return Self.failure("\(name): \(error)")
        }
    }

    static func failure(_ text: String) -> CallTool.Result {
        CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], isError: true)
    }

    /// Structured content must be an object: a list is wrapped.
    static func structured(_ value: Value) -> Value {
        if case .object = value { return value }
        return ["result": value]
    }

    static func render(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
    }
}

extension Value {
    /// Text or JSON null.
    static func optional(_ text: String?) -> Value { text.map { .string($0) } ?? .null }
    static func optional(_ number: Double?) -> Value { number.map { .double($0) } ?? .null }
}
