import Foundation

/// What went wrong with a task, or what to warn about, as a case rather than text. Its `text` is
/// the form the Store keeps in a task's `error` (unchanged from before the cases existed, so older
/// stores read the same); `kind(of:)` reads a stored text back into its kind.
public enum TaskIssue: Sendable, Equatable {
    /// The task succeeded, with something to look at.
    case warning(Warning)
    /// Its agent's tool calls were refused (`what` lists them); a failure, not retried.
    case denied(String)
    /// It changed files outside its `owns`: a failure, not retried; its branch keeps the work.
    case ownershipViolation(owns: [String], paths: [String])
    /// It failed on a rate limit or an overload.
    case rateLimited(RateLimit)
    /// Its worktree was tampered with (see `WorktreeError`): a failure, not retried.
    case worktreeDamaged(WorktreeError)

    public enum Warning: Sendable, Equatable {
        /// The children it asked for in `spawn.json` were refused (why).
        case spawnRefused(String)
        /// It owns files and changed none (seed 000: background agents can fail silently on writes).
        case unchanged(owns: [String])
        /// Tool calls were refused and `allow_denials: true` let it succeed (`what` lists them).
        case deniedAllowed(String)
    }

    public enum RateLimit: Sendable, Equatable {
        /// On no shared limit: it retries on its own after `seconds`.
        case retrying(seconds: Double)
        /// It waits for the cool-down on these keys, until `until` (an ISO 8601 time).
        case coolingDown(keys: [String], until: String)
        /// It took every free retry: it fails as usual.
        case exhausted(retries: Int, error: String)
    }

    /// The stored kinds of a task's `error`, for readers that only have the text.
    public enum Kind: String, Sendable, Codable {
        case warning, denied, ownershipViolation, rateLimited, worktreeDamaged, other
    }

    static let warningPrefix = "warning: "

    /// The text stored in the task's `error`.
    public var text: String {
        switch self {
        case .warning(.spawnRefused(let why)): Self.warningPrefix + why
        case .warning(.unchanged(let owns)): Self.warningPrefix + "it owns \(owns.joined(separator: ", ")) but changed nothing"
        case .warning(.deniedAllowed(let what)): Self.warningPrefix + what
        case .denied(let what): "denied: \(what) (allow them in the agent's permissions, or set `allow_denials: true`)"
        case .ownershipViolation(let owns, let paths):
            "changed files outside its owns (\(owns.isEmpty ? "it owns nothing" : owns.joined(separator: ", "))): "
                + paths.prefix(10).joined(separator: ", ") + (paths.count > 10 ? ", …" : "")
        case .rateLimited(.retrying(let seconds)): String(format: "rate-limited: retrying in %.1f s", seconds)
        case .rateLimited(.coolingDown(let keys, let until)):
            "rate-limited: waiting for the cool-down on \(keys.joined(separator: ", ")) until \(until)"
        case .rateLimited(.exhausted(let retries, let error)): "rate-limited again after \(retries) free retries: \(error)"
        case .worktreeDamaged(let error): error.description
        }
    }

    /// Whether a failure with this issue may be retried: the same permissions refuse the same
    /// calls, the same owns the same files, and a damaged worktree stays damaged.
    public var retryable: Bool {
        switch self {
        case .denied, .ownershipViolation, .worktreeDamaged: false
        case .warning, .rateLimited: true
        }
    }

    /// The kind of a stored `error` text (a task record's), for views, the CLI and notifications.
    public static func kind(of stored: String?) -> Kind? {
        guard let stored else { return nil }
        if stored.hasPrefix(warningPrefix) { return .warning }
        if stored.hasPrefix("denied: ") { return .denied }
        if stored.hasPrefix("changed files outside its owns") { return .ownershipViolation }
        if stored.hasPrefix("rate-limited") { return .rateLimited }
        if stored.hasPrefix(WorktreeError.prefix) { return .worktreeDamaged }
        return .other
    }

    /// A succeeded task's stored `error` is a warning.
    public static func isWarning(_ stored: String?) -> Bool { kind(of: stored) == .warning }
}
