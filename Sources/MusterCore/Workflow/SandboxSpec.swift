/// How much of the machine a task may write to (`sandbox:` at workflow level or per task).
///
/// - `worktree`: the default where bubblewrap works. Everything is read-only except the task's own
///   worktree, its outbox, a private /tmp, the agent's state folders and `writable:` paths.
/// - `owned`: as `worktree`, but the worktree itself is read-only except the literal directory
///   prefixes of the task's `owns` (exact files for literal paths), so a write outside ownership
///   fails when it is made.
/// - `none`: no sandbox; ownership is checked on the diff after the task, as without bubblewrap.
public enum SandboxMode: String, Codable, Sendable, CaseIterable {
    case worktree, owned, none
}

/// Checks on `writable:` paths (a spec's workflow or task, or an agent profile). A path is relative
/// (inside the repository: the task's worktree when it has one), absolute, or `~/…` (under $HOME).
public enum WritablePath {
    /// Why `path` is refused, or nil when it is acceptable.
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.count > 4096 { return "is longer than 4096 bytes" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "contains a control character"
        }
        if path == "~" || path == "~/" { return "is the whole home folder" }
        var body = Substring(path)
        if body.hasPrefix("~/") { body = body.dropFirst(2) } else if body.hasPrefix("~") {
            return "names another user's home (`~name`); write `~/…` or an absolute path"
        }
        let parts = body.split(separator: "/")
        if parts.contains("..") { return "contains `..`; name the folder itself" }
        if path.hasPrefix("/") && parts.allSatisfy({ $0 == "." }) { return "is the whole filesystem" }
        if !path.hasPrefix("/") && !path.hasPrefix("~") {
            let first = parts.first { $0 != "." }
            if first == nil { return "is the whole repository; use `sandbox: worktree` instead" }
            if first == ".git" { return "is inside `.git`, which stays read-only" }
        }
        return nil
    }
}
