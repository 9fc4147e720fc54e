import Foundation

/// Making a pooled worktree a fresh one for its next task: nothing of the task before may reach it.
extension WorktreePool {
    /// Settings for the reset: a changed file must never pass for unchanged by its size and times
    /// (an agent can set mtime; ctime it cannot), whatever the repository's config says.
    static let strictStat = ["-c", "core.trustctime=true", "-c", "core.checkStat=default", "-c", "core.ignoreStat=false",
                             "-c", "core.untrackedCache=false", "-c", "core.splitIndex=false"]

    /// State a git command leaves in a worktree's admin folder (an unfinished merge, rebase or
    /// bisect, its per-worktree refs): none of it follows the worktree to its next task.
    static let adminLeftovers = ["MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "MERGE_RR", "AUTO_MERGE", "CHERRY_PICK_HEAD",
                                 "REVERT_HEAD", "ORIG_HEAD", "FETCH_HEAD", "BISECT_LOG", "BISECT_START", "BISECT_TERMS",
                                 "BISECT_EXPECTED_REV", "BISECT_ANCESTORS_OK", "BISECT_NAMES", "rebase-merge", "rebase-apply",
                                 "sequencer", "refs/bisect", "refs/worktree", "logs", "locked"]

    /// Puts `git` (a checked pooled worktree, now at its task's path) on a new `branch` at `base`,
    /// with exactly `base`'s files: tracked files reset, every untracked and ignored file removed
    /// except `keep` (what setup made, while its inputs hold). Throws when any of it fails: the
    /// caller then discards the worktree.
    static func recycle(_ git: Git, branch: String, base: String, keep: [String]) async throws {
        guard let admin = git.gitDirectory else { throw GitError(command: "worktree pool", message: "no admin folder") }
        for name in adminLeftovers { try? FileManager.default.removeItem(atPath: admin + "/" + name) }
        // Index flags hide a changed file from the reset (assume-unchanged, skip-worktree): with any
        // set, the index goes and the reset writes every file.
        let listed = try await git.run(["ls-files", "-v", "-z"]).stdout
        if listed.split(separator: "\0").contains(where: { !$0.hasPrefix("H ") }) {
            try? FileManager.default.removeItem(atPath: admin + "/index")
        }
        // The branch is new (its absence is checked by the update: "" as the old value).
        try await GitRetry.run(git, ["update-ref", "-m", "muster: from the worktree pool", "refs/heads/\(branch)", base, ""])
        // HEAD names the branch: the admin folder's own HEAD file, written as `git symbolic-ref`
        // writes it (the name is muster's own, already a valid ref), one git process less per task.
        try await BlockingPool.shared.run { try WorktreeAdminFolder.replace(admin + "/HEAD", with: "ref: refs/heads/\(branch)") }
        // No `status` check follows: it would judge the files by the same index and the same stat
        // rules as this reset, so it could not see anything the reset missed; a file the reset
        // cannot write fails the reset.
        try await GitRetry.run(git, strictStat + ["reset", "--hard", "--quiet", base])
        // -ff: a nested repository a task made goes too; -x: ignored files too; -e: what setup made.
        try await git.run(["clean", "-ffdqx"] + keep.flatMap { ["-e", excludePattern($0)] })
    }

    /// A `git clean -e` pattern naming exactly `path` from the top (`dir/` for a folder).
    static func excludePattern(_ path: String) -> String {
        var escaped = ""
        for character in path {
            if "\\*?[!# ".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return "/" + escaped
    }

    /// Untracked paths in the worktree, ignored ones too (`dir/` for a whole untracked folder).
    static func untracked(_ git: Git) async throws -> Set<String> {
        let output = try await git.run(["ls-files", "--others", "--directory", "-z"]).stdout
        return Set(output.split(separator: "\0").map(String.init))
    }
}
