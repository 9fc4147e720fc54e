import Foundation

/// A task's worktree can no longer be trusted to say where its git folder is: its `.git` was
/// removed, replaced or repointed. Its task fails; muster commits nothing for it anywhere.
public enum WorktreeError: Error, CustomStringConvertible, Sendable, Equatable {
    case damaged(worktree: String, reason: String)

    /// How every such task error begins.
    public static let prefix = "worktree damaged: "

    public var description: String {
        switch self {
        case .damaged(let worktree, let reason): "\(Self.prefix)\(worktree): \(reason); muster committed nothing from it"
        }
    }
}

/// The link between a task's worktree and its admin folder in the shared repository, read only
/// after checking it: git would follow a `.git` file anywhere (or, with none, walk up to the
/// user's checkout), so muster accepts only the link `git worktree add` made for this task.
public enum WorktreeLink {
    /// The admin folder `<commonDirectory>/worktrees/<name>` that `worktree`'s `.git` file names.
    ///
    /// Accepted only when: `.git` is a small regular file (not a symlink or folder) reading
    /// `gitdir: <path>`; the path is `expected` when muster recorded one, else a folder directly in
    /// `<commonDirectory>/worktrees/`; that folder's own `gitdir` points back at this worktree's
    /// `.git`; and its `commondir` leads to `commonDirectory`.
    public static func gitDirectory(of worktree: String, commonDirectory: String, expected: String? = nil) throws -> String {
        func damaged(_ reason: String) -> WorktreeError { .damaged(worktree: worktree, reason: reason) }
        var top = stat()
        guard lstat(worktree, &top) == 0, top.st_mode & S_IFMT == S_IFDIR else {
            throw damaged("the worktree folder is missing or was replaced by a link")
        }
        let worktreePath = canonical(worktree)
        let link = worktreePath + "/.git"
        var info = stat()
        guard lstat(link, &info) == 0 else { throw damaged("its .git file is missing") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: throw damaged("its .git is a symbolic link, not the file git made")
        case S_IFDIR: throw damaged("its .git is a folder, not the file git made")
        default: throw damaged("its .git is not a regular file")
        }
        guard info.st_size <= 4096, let data = FileManager.default.contents(atPath: link),
              let text = String(data: data, encoding: .utf8) else { throw damaged("its .git file is unreadable") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count == 1, lines[0].hasPrefix("gitdir: ") else { throw damaged("its .git file is not a `gitdir:` link") }
        var target = String(lines[0].dropFirst("gitdir: ".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        guard !target.isEmpty, !target.contains("\0") else { throw damaged("its .git file names no folder") }
        if !target.hasPrefix("/") { target = worktreePath + "/" + target }
        let gitDir = canonical(target)
        let common = canonical(commonDirectory)
        if let expected {
            guard gitDir == canonical(expected) else {
                throw damaged("its .git file points at \(gitDir), not at \(canonical(expected)) that muster made for it")
            }
        } else {
            let parent = (gitDir as NSString).deletingLastPathComponent
            let name = (gitDir as NSString).lastPathComponent
            guard parent == common + "/worktrees", !name.isEmpty, name != ".", name != ".." else {
                throw damaged("its .git file points at \(gitDir), outside \(common)/worktrees")
            }
        }
        var folder = stat()
        guard lstat(gitDir, &folder) == 0, folder.st_mode & S_IFMT == S_IFDIR else {
            throw damaged("its git folder \(gitDir) is missing")
        }
        // The admin folder names its worktree; a link to another task's folder fails here.
        let back = (try? String(contentsOfFile: gitDir + "/gitdir", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let back, canonical(back.hasPrefix("/") ? back : gitDir + "/" + back) == link else {
            throw damaged("its git folder \(gitDir) belongs to another worktree")
        }
        let commondir = (try? String(contentsOfFile: gitDir + "/commondir", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let commondir, canonical(commondir.hasPrefix("/") ? commondir : gitDir + "/" + commondir) == common else {
            throw damaged("its git folder \(gitDir) does not belong to the repository \(common)")
        }
        return gitDir
    }

    /// The link `git worktree add` just wrote (before any task ran in it), for muster to record.
    public static func created(_ worktree: String, commonDirectory: String) throws -> String {
        try gitDirectory(of: worktree, commonDirectory: commonDirectory, expected: nil)
    }

    /// Absolute, `.`/`..` resolved, symlinks in existing parts resolved: one spelling per folder.
    static func canonical(_ path: String) -> String {
        let standard = URL(fileURLWithPath: path).standardizedFileURL
        var existing = standard
        var rest: [String] = []
        while existing.path != "/", (try? FileManager.default.attributesOfItem(atPath: existing.path)) == nil {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent()
        }
        var resolved = existing.path
        if let real = realpath(existing.path, nil) {
            resolved = String(cString: real)
            free(real)
        }
        return rest.isEmpty ? resolved : (resolved == "/" ? "" : resolved) + "/" + rest.joined(separator: "/")
    }
}
