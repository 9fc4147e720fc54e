/// `worktree:` in a spec: what makes a fresh task worktree ready to build.
/// - `copy`: untracked files of the user's checkout (`.env`, `config/local.*`) copied in; never committed.
/// - `link`: shared folders (`node_modules`, `.venv`) as a symlink to the checkout's; never committed.
/// - `setup`: shell commands run in each fresh worktree before the task; one failing ends it as `setup failed`.
/// - `inputs`: the files setup depends on (`package-lock.json`): a pooled worktree skips setup while
///   they and the commands are unchanged (without it: while the base tree and the copies are).
public struct WorktreeSpec: Codable, Sendable, Equatable {
    public var copy: [String]?
    public var link: [String]?
    public var setup: [String]?
    public var inputs: [String]?

    public init(copy: [String]? = nil, link: [String]? = nil, setup: [String]? = nil, inputs: [String]? = nil) {
        self.copy = copy
        self.link = link
        self.setup = setup
        self.inputs = inputs
    }

    public static let keys = ["copy", "link", "setup", "inputs"]

    /// The paths muster puts into a worktree that are never committed nor counted against `owns`.
    public var placed: [String] { (copy ?? []) + (link ?? []) }

    /// Why `path` is refused as a `copy:` or `link:` entry, or nil. Paths are relative to the
    /// repository's top folder and stay inside it; `*`, `?` and `[…]` may appear in the last part only.
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.count > 1024 { return "is longer than 1024 bytes" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "contains a control character" }
        if path.hasPrefix("/") || path.hasPrefix("~") { return "is not relative to the repository" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return "must be a plain relative path (no `..`, `.`, or empty parts)" }
        if parts[0] == ".git" || parts[0] == ".muster" { return "is inside `\(parts[0])`" }
        if parts.dropLast().contains(where: { $0.contains(where: { "*?[".contains($0) }) }) {
            return "may have a wildcard in its last part only"
        }
        if path.hasPrefix(":") || path.hasPrefix("-") { return "must not start with `:` or `-`" }
        return nil
    }
}
