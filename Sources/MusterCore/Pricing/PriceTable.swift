import Foundation

/// Tokens one agent run spent. Any field may be unknown when the agent did not report it.
public struct TokenUsage: Codable, Sendable, Equatable {
    public var input: Int
    public var output: Int
    public var cacheRead: Int
    public var cacheWrite: Int
    public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }
    public var total: Int { input + output + cacheRead + cacheWrite }
    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(input: a.input + b.input, output: a.output + b.output,
                   cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite)
    }
}

/// US dollars per million tokens.
public struct ModelPrice: Codable, Sendable, Equatable {
    public var input: Double
    public var output: Double
    public var cacheWrite: Double
    public var cacheRead: Double
    public init(input: Double, output: Double, cacheWrite: Double? = nil, cacheRead: Double? = nil) {
        self.input = input
        self.output = output
        // Anthropic's published ratios when a table gives none: writes 1.25× input, reads 0.1× input.
        self.cacheWrite = cacheWrite ?? input * 1.25
        self.cacheRead = cacheRead ?? input * 0.1
    }
}

public struct PriceTable: Codable, Sendable, Equatable {
    public var models: [String: ModelPrice]
    public init(models: [String: ModelPrice]) { self.models = models }

    /// Shipped defaults (list prices, November 2026); `muster.toml` overrides them.
    public static let defaults = PriceTable(models: [
        "claude-opus-4-8": ModelPrice(input: 5, output: 25),
        "claude-opus-4-8-fast": ModelPrice(input: 10, output: 50),
        "claude-sonnet-4-6": ModelPrice(input: 3, output: 15),
        "claude-haiku-4-5": ModelPrice(input: 1, output: 5),
        "gpt-5.5": ModelPrice(input: 1.25, output: 10, cacheWrite: 1.25, cacheRead: 0.125),
        "gpt-5-codex": ModelPrice(input: 1.25, output: 10, cacheWrite: 1.25, cacheRead: 0.125),
        "gemini-2.5-pro": ModelPrice(input: 1.25, output: 10, cacheWrite: 1.25, cacheRead: 0.31),
        "gemini-2.5-flash": ModelPrice(input: 0.30, output: 2.50, cacheWrite: 0.30, cacheRead: 0.075),
    ])

    /// Dollars for `usage` on `model`; nil when the model has no price (shown as unknown, never as 0).
    public func cost(model: String?, usage: TokenUsage) -> Double? {
        if usage.total == 0 { return 0 }
        guard let model, let price = models[model] else { return nil }
        let perToken = 1.0 / 1_000_000
        return (Double(usage.input) * price.input + Double(usage.output) * price.output
                + Double(usage.cacheRead) * price.cacheRead + Double(usage.cacheWrite) * price.cacheWrite) * perToken
    }
}
