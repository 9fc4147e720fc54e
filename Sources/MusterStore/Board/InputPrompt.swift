import Foundation

/// Whether an agent's last output line asks a person something: a question, a yes/no choice, or
/// a request for approval or permission. The dashboard shows such a running task as `waiting`.
/// Kept in one place so adapters' prompts can be added as they are met.
public enum InputPrompt {
    public static func looksLikePrompt(_ line: String) -> Bool {
        let text = line.trimmingCharacters(in: .whitespaces).lowercased()
        guard !text.isEmpty else { return false }
        if text.hasSuffix("?") || text.hasSuffix("?:") || text.hasSuffix("? >") { return true }
        let choices = ["(y/n)", "[y/n]", "(yes/no)", "[yes/no]", "[y/n/a]", "(y)es", "[enter]", "press enter"]
        if choices.contains(where: text.contains) { return true }
        let asks = ["approve", "approval", "permission", "allow this", "do you want to", "waiting for input", "confirm"]
        return asks.contains(where: text.contains)
    }
}
