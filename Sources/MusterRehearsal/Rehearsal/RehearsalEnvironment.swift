import Foundation

/// The variables that point each agent CLI's model API at a base URL of the stub. Where a CLI
/// speaks an API the stub does not (codex's Responses API, gemini's own), the variables are still
/// set, so a rehearsal never reaches a real model: the task fails instead of spending money.
public enum RehearsalEnvironment {
    /// `model`: the task's, when it names one (aider picks its API by it).
    public static func overlay(base agent: String, url: String, model: String? = nil) -> [String: String] {
        var env = ["MUSTER_REHEARSAL": "1", "MUSTER_STUB_URL": url]
        switch agent {
        case "claude":
            env["ANTHROPIC_BASE_URL"] = url
            env["ANTHROPIC_API_KEY"] = "stub"
            env["ANTHROPIC_AUTH_TOKEN"] = ""
            env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        case "aider":
            // aider talks to OpenAI (gpt-4o, its default) or, through litellm, to Anthropic for a
            // Claude model. An Anthropic key alone would make it pick Claude Sonnet over its default.
            env["OPENAI_API_BASE"] = url + "/v1"
            env["OPENAI_API_KEY"] = "stub"
            if let model, ["claude", "sonnet", "opus", "haiku", "anthropic"].contains(where: model.lowercased().contains) {
                env["ANTHROPIC_API_BASE"] = url
                env["ANTHROPIC_BASE_URL"] = url
                env["ANTHROPIC_API_KEY"] = "stub"
            }
            // litellm fetches its price list from the internet at start-up unless told not to.
            env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        case "codex":
            env["OPENAI_BASE_URL"] = url + "/v1"
            env["OPENAI_API_KEY"] = "stub"
        case "gemini":
            env["GOOGLE_GEMINI_BASE_URL"] = url
            env["GEMINI_API_KEY"] = "stub"
        case "opencode":
            env["ANTHROPIC_BASE_URL"] = url + "/v1"
            env["ANTHROPIC_API_KEY"] = "stub"
            env["OPENAI_BASE_URL"] = url + "/v1"
            env["OPENAI_API_KEY"] = "stub"
        default:
            break
        }
        return env
    }
}
