import Foundation

/// Moving a worktree (into the pool, and out of it to its next task's path) the way `git worktree
/// move` does, without git: rename the folder, then point the admin folder's `gitdir` at its new
/// `.git`. The `.git` link inside the worktree names the admin folder, which stays where it is.
///
/// `git worktree move` reads every other admin folder first, so moves took turns and cost grew
/// with the number of worktrees; this touches only the one worktree's folder and its own admin
/// folder, so any number run at once.
extension WorktreeAdminFolder {
    /// Moves the worktree at `source`, whose admin folder is `admin`, to `destination` (which must
    /// not exist). While it moves, the admin folder holds a `locked` mark ("moving"), so a
    /// concurrent `git worktree prune` keeps it though its `gitdir` names a folder that is briefly
    /// gone; a worktree locked by anyone else is refused, as git refuses. On failure the worktree
    /// is put back where it was when it can be; what cannot be trusted is for the caller to remove.
    static func move(worktree source: String, admin: String, to destination: String) throws {
        let mark = admin + "/locked"
        try file(mark, "moving")
        defer { unlink(mark) }
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var existing = stat()
        guard lstat(destination, &existing) != 0 else { throw SystemError.io("cannot move a worktree to \(destination)", EEXIST) }
        guard rename(source, destination) == 0 else { throw SystemError.io("cannot move the worktree \(source) to \(destination)", errno) }
        do {
            try replace(admin + "/gitdir", with: WorktreeLink.canonical(destination) + "/.git")
        } catch {
            _ = rename(destination, source)
            throw error
        }
    }

    /// Replaces `path` with `text` and a newline in one step (a new file renamed over it): a reader
    /// sees the old link or the new one, never half of either.
    static func replace(_ path: String, with text: String) throws {
        let fresh = path + ".muster-new"
        unlink(fresh)
        try file(fresh, text)
        guard rename(fresh, path) == 0 else {
            let code = errno
            unlink(fresh)
            throw SystemError.io("cannot replace \(path)", code)
        }
    }
}
