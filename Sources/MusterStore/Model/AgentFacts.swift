import Foundation

/// A tool call the agent's CLI refused under its headless permissions (claude's
/// `system/permission_denied` events and the result's `permission_denials`).
public struct PermissionDenial: Codable, Sendable, Equatable, Hashable {
    /// The tool's name as the agent calls it (`Write`, `Bash`, …).
    public var tool: String
    /// Its input, shortened for people: a file path, a command line.
    public var input: String
    public init(tool: String, input: String) {
        self.tool = tool
        self.input = input
    }

    /// `Bash(muster spawn …)`: how lists show it.
    public var shown: String { input.isEmpty ? tool : "\(tool)(\(input))" }
}

/// What the agent itself reported about an attempt, beyond tokens and cost: typed, so views and
/// notifications never read it out of error text.
public struct AgentFacts: Codable, Sendable, Equatable {
    /// The model the agent says it used (what is priced); nil: it did not say.
    public var model: String?
    /// Tool calls it was refused (at most `maxDenials` kept).
    public var denials: [PermissionDenial]
    /// The task ended `denied`: it failed because tool calls were refused (`allow_denials` unset).
    public var denied: Bool
    /// The usage is the last one seen before the agent was stopped mid-stream, not a final count.
    public var usagePartial: Bool

    public static let maxDenials = 50

    public init(model: String? = nil, denials: [PermissionDenial] = [], denied: Bool = false, usagePartial: Bool = false) {
        self.model = model
        self.denials = denials
        self.denied = denied
        self.usagePartial = usagePartial
    }

    enum CodingKeys: String, CodingKey {
        case model, denials, denied, usagePartial = "usage_partial"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        denials = try c.decodeIfPresent([PermissionDenial].self, forKey: .denials) ?? []
        denied = try c.decodeIfPresent(Bool.self, forKey: .denied) ?? false
        usagePartial = try c.decodeIfPresent(Bool.self, forKey: .usagePartial) ?? false
    }

    public var isEmpty: Bool { model == nil && denials.isEmpty && !denied && !usagePartial }
}

extension TaskRecord {
    /// The state people see: `denied` for a task that failed because its tool calls were refused.
    public var shownState: String { state == .failed && agentFacts?.denied == true ? "denied" : state.rawValue }
}
