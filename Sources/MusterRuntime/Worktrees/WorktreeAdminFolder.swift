import Foundation

/// A new task worktree's admin folder (`<common>/worktrees/<name>`) and its `.git` link, written
/// by muster itself with exactly the files `git worktree add --no-checkout` (git 2.39) writes:
/// `gitdir` (the worktree's `.git`, real path), `commondir` (`../..`), `HEAD` (a symbolic ref to the
/// task's branch) and `logs/HEAD`, and in the worktree `.git` (`gitdir: <real common>/worktrees/<name>`).
/// `git worktree list/prune/remove/move` and git inside the worktree see no difference.
///
/// `git worktree add` derives the name from the folder and takes the first free one, reading every
/// other admin folder as it goes: two at once see each other's half-made folder, so they had to
/// take turns. Here each name is the task's plus a random suffix, made by one `mkdir` (fails if
/// taken): nothing is shared, so any number are made at once. As git does, the folder holds a
/// `locked` file until both links exist, so a concurrent `git worktree prune` never removes it
/// half-made.
enum WorktreeAdminFolder {
    /// Settings of the repository that `git worktree add` honours and this writer does not
    /// (per-worktree config and a sparse checkout are copied into a new worktree; a shared
    /// repository's group permissions): with any on, the repository keeps `git worktree add`.
    static let unsupportedKeys = #"^(extensions\.worktreeconfig|core\.sparsecheckout|core\.sharedrepository)$"#

    /// Writes the admin folder for a new worktree at `worktree` (made here; it must not exist yet)
    /// whose HEAD is `refs/heads/<branch>` at `commit`. `ident` is `git var GIT_COMMITTER_IDENT`
    /// (its name and email start the HEAD reflog line; nil: no reflog, as with `core.logAllRefUpdates=false`).
    /// Returns the admin folder's path. On failure nothing is left behind.
    static func write(worktree: URL, commonDirectory: String, name: String, branch: String, commit: String,
                      ident: String?) throws -> String {
        let common = WorktreeLink.canonical(commonDirectory)
        let parent = common + "/worktrees"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let admin = try makeUnique(in: parent, base: folderName(name))
        var made = [admin]
        do {
            try file(admin + "/locked", "initializing")
            try FileManager.default.createDirectory(at: worktree.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard mkdir(worktree.path, 0o777) == 0 else { throw SystemError.io("cannot make \(worktree.path)", errno) }
            made.append(worktree.path)
            let link = WorktreeLink.canonical(worktree.path) + "/.git"
            try file(admin + "/gitdir", link)
            try file(link, "gitdir: " + admin)
            try file(admin + "/commondir", "../..")
            try file(admin + "/HEAD", "ref: refs/heads/" + branch)
            if let line = reflogLine(ident: ident, commit: commit) {
                try FileManager.default.createDirectory(atPath: admin + "/logs", withIntermediateDirectories: false)
                try file(admin + "/logs/HEAD", line)
            }
            // Both links exist: `git worktree prune` keeps it from here on, as it keeps any live worktree.
            unlink(admin + "/locked")
        } catch {
            for path in made.reversed() { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
        return admin
    }

    /// The admin folder of the worktree at `worktree` when its creation was cut short (a kill -9 of
    /// muster or git mid-way): the `.git` link names a folder under `<common>/worktrees/` that still
    /// holds its `locked` "initializing" mark or lacks HEAD or commondir. nil for anything else (a
    /// whole worktree, or damage that `WorktreeLink` reports).
    static func halfMade(worktree: String, commonDirectory: String) -> String? {
        // Read by hand, not by `WorktreeLink.gitDirectory`: that check rejects a folder without commondir.
        let link = WorktreeLink.canonical(worktree) + "/.git"
        var info = stat()
        guard lstat(link, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 4096,
              let text = try? String(contentsOfFile: link, encoding: .utf8), text.hasPrefix("gitdir: ") else { return nil }
        let target = text.dropFirst("gitdir: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
        guard target.hasPrefix("/") else { return nil }
        let gitDir = WorktreeLink.canonical(target)
        guard (gitDir as NSString).deletingLastPathComponent == WorktreeLink.canonical(commonDirectory) + "/worktrees" else { return nil }
        var folder = stat()
        guard lstat(gitDir, &folder) == 0, folder.st_mode & S_IFMT == S_IFDIR else { return nil }
        // It names this worktree back: never another worktree's folder.
        guard names(gitDir, link: link) else { return nil }
        let manager = FileManager.default
        let whole = manager.fileExists(atPath: gitDir + "/HEAD") && manager.fileExists(atPath: gitDir + "/commondir")
        return isInitializing(gitDir) || !whole ? gitDir : nil
    }

    /// Still marked "initializing" (by muster's writer or `git worktree add`): its creation never finished.
    static func isInitializing(_ admin: String) -> Bool {
        (try? String(contentsOfFile: admin + "/locked", encoding: .utf8))?.hasPrefix("initializing") == true
    }

    /// Whether the admin folder's `gitdir` names the worktree `.git` at `link`.
    static func names(_ admin: String, link: String) -> Bool {
        (try? String(contentsOfFile: admin + "/gitdir", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == link
    }

    /// Removes admin folders still marked "initializing" whose `gitdir` names `worktree` (muster's
    /// `<name>-<hex>` and git's `<folder>[N]` names are looked at), and `worktree` itself when it has no
    /// `.git` link: a creation cut short before the link was written.
    static func clearHalfMade(worktree: String, name: String, commonDirectory: String) {
        let manager = FileManager.default
        let parent = WorktreeLink.canonical(commonDirectory) + "/worktrees"
        let link = WorktreeLink.canonical(worktree) + "/.git"
        let prefixes = [folderName(name), (worktree as NSString).lastPathComponent]
        var cleared = false
        for entry in (try? manager.contentsOfDirectory(atPath: parent)) ?? [] where prefixes.contains(where: entry.hasPrefix) {
            let admin = parent + "/" + entry
            guard isInitializing(admin), names(admin, link: link) else { continue }
            try? manager.removeItem(atPath: admin)
            cleared = true
        }
        var info = stat()
        if cleared, lstat(worktree + "/.git", &info) != 0 { try? manager.removeItem(atPath: worktree) }
    }

    /// A name git itself could have made: `sanitize_refname_component`'s rules kept simple (letters,
    /// digits, `-`, `_`, `.` not leading), never empty.
    static func folderName(_ name: String) -> String {
        var cleaned = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") ? $0 : "-" })
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        while cleaned.hasSuffix(".") { cleaned.removeLast() }
        cleaned = cleaned.replacingOccurrences(of: "..", with: "-")
        if cleaned.hasSuffix(".lock") { cleaned += "-" }
        return String((cleaned.isEmpty ? "worktree" : cleaned).prefix(80))
    }

    /// `<parent>/<base>-<8 random hex>`, created by `mkdir` (another taker of the same name makes it fail: try another).
    static func makeUnique(in parent: String, base: String) throws -> String {
        var lastError: Int32 = 0
        for _ in 0..<16 {
            let path = parent + "/" + base + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
            if mkdir(path, 0o777) == 0 { return path }
            lastError = errno
            guard lastError == EEXIST else { break }
        }
        throw SystemError.io("cannot make a worktree admin folder in \(parent)", lastError)
    }

    /// The HEAD reflog line `git worktree add` leaves (its `symbolic-ref HEAD`): null to `commit`, no message.
    static func reflogLine(ident: String?, commit: String) -> String? {
        guard let ident else { return nil }
        // "Name <email> 1700000000 +0000": keep the name, email and zone; the time is now.
        let parts = ident.split(separator: " ")
        guard parts.count >= 3, let zone = parts.last, zone.count == 5, ident.contains(">") else { return nil }
        let who = parts.dropLast(2).joined(separator: " ")
        let zeros = String(repeating: "0", count: commit.count)
        return "\(zeros) \(commit) \(who) \(Int(Date().timeIntervalSince1970)) \(zone)"
    }

    /// Writes `text` and a newline (git's `write_file`), failing if the file already exists.
    static func file(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw SystemError.io("cannot write \(path)", errno) }
        defer { close(fd) }
        let bytes = Array((text + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.io("cannot write \(path)", errno)
            }
            written += n
        }
    }
}
