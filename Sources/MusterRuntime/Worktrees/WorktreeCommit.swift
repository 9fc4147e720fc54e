import Foundation
import MusterCore

/// Commits a worktree's files by plumbing: a private index built from the recorded start commit,
/// the worktree's files added to it, `write-tree`, `commit-tree -p <start>`, and a compare-and-swap
/// `update-ref` of the task's own branch. Nothing reads the worktree's own index (an agent can set
/// flags there that hide files), the shared `info/exclude` or `core.excludesFile` (an agent can put
/// `*` there and hide every later task's new files); only the worktree's own `.gitignore` files count.
struct WorktreeCommit: Sendable {
    let git: Git
    /// Paths the agent keeps for itself (its profile's scratch files): never committed, never checked.
    let scratch: [Glob]
    let scratchPatterns: [String]

    init(git: Git, scratch: [String]) {
        self.git = git
        self.scratch = scratch.compactMap { try? Glob($0) }
        scratchPatterns = scratch
    }

    /// A pattern without "/" also matches by file name anywhere (`.aider*` → `sub/.aider.tags`), as in
    /// `.gitignore`; and, as in the pathspecs that leave them out elsewhere, a `*` may cross folders
    /// (`.aider*` → `.aider.tags.cache.v4/cache.db`).
    func isScratch(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        return scratch.contains { $0.matches(path) || (!$0.pattern.contains("/") && $0.matchesExactly(name)) }
            || ScratchFiles.matches(path, scratchPatterns)
    }

    /// The tree of the worktree's files as they are now, staged on top of `start`; nil when they are
    /// exactly `start`'s (no tracked file differs, no new file): nothing to write or compare then.
    func changedTree(from start: String) async throws -> String? {
        let index = FileManager.default.temporaryDirectory.appendingPathComponent("muster-index-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: index) }
        let env = ["GIT_INDEX_FILE": index]
        try await git.run(["read-tree", start], environment: env)
        // Fills the fresh index's stat cache, so `diff-files` names only what really changed.
        try await git.run(["update-index", "-q", "--refresh"], allowFailure: true, environment: env)
        let tracked = try await git.run(["diff-files", "--name-only", "-z", "--no-renames"], environment: env).stdout
            .split(separator: "\0").map(String.init).filter { !isScratch($0) }
        if !tracked.isEmpty {
            try await git.run(["update-index", "--add", "--remove", "-z", "--stdin"], stdin: Self.list(tracked), environment: env)
        }
        // Untracked files, honouring only the worktree's own `.gitignore` files. A nested repository
        // ("dir/") is not the task's work: git would only record a pointer to it.
        let untracked = try await git.run(["ls-files", "--others", "-z", "--exclude-per-directory=.gitignore"], environment: env).stdout
            .split(separator: "\0").map(String.init).filter { !$0.hasSuffix("/") && !isScratch($0) }
        if !untracked.isEmpty {
            try await git.run(["update-index", "--add", "-z", "--stdin"], stdin: Self.list(untracked), environment: env)
        }
        if tracked.isEmpty && untracked.isEmpty { return nil }
        return try await git.output(["write-tree"], environment: env)
    }

    /// A commit of `tree` whose only parent is `parent`.
    func commit(tree: String, parent: String, message: String, identity: [String]) async throws -> String {
        try await git.output(identity + ["commit-tree", tree, "-p", parent], stdin: Data(message.utf8))
    }

    /// Moves `ref` to `new` only if it is still at `old` (nil: only if it does not exist).
    func move(_ ref: String, to new: String, from old: String?, reason: String) async throws {
        try await git.run(["update-ref", "-m", reason, ref, new, old ?? ""])
    }

    static func list(_ paths: [String]) -> Data { Data(paths.map { $0 + "\0" }.joined().utf8) }
}

extension Git {
    func output(_ arguments: [String], stdin: Data, environment extra: [String: String] = [:]) async throws -> String {
        try await run(arguments, stdin: stdin, environment: extra).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
