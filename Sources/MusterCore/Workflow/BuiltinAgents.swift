/// Agent profile names a spec may use. The runtime owns the adapters; the spec loader only needs the names.
public enum BuiltinAgents {
    public static let names: Set<String> = ["shell", "sim"]

    /// The model an agent bills against when the spec names none (nil: the agent spends no tokens).
    public static func defaultModel(for agent: String) -> String? {
        switch agent {
        case "sim", "claude": "claude-opus-4-8"
        default: nil
        }
    }
}
