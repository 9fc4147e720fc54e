import Foundation

/// An agent's scratch files (its profile's `scratchFiles`: caches, histories it writes into the
/// worktree for itself): never committed, never counted against `owns`. They are left out per
/// task, by pathspec, never through the shared `.git/info/exclude` (which every worktree and the
/// user's checkout read).
enum ScratchFiles {
    /// `git add` pathspecs that leave them out, at the top and in any folder. Without `glob` magic a
    /// pathspec's `*` also matches `/`, so `.aider*` covers `.aider.tags.cache.v4/cache.db`.
    static func excludingPathspecs(_ patterns: [String]) -> [String] {
        guard !patterns.isEmpty else { return [] }
        return ["."] + patterns.flatMap { [":(exclude)\($0)", ":(exclude)*/\($0)"] }
    }

    /// Whether `path` (relative to the worktree) is one of them: the same rule as the pathspecs.
    static func matches(_ path: String, _ patterns: [String]) -> Bool {
        patterns.contains { fnmatch($0, path, 0) == 0 || fnmatch("*/" + $0, path, 0) == 0 }
    }
}
