import Foundation

/// Where task worktrees' files land on disk. ext4 puts a new folder (and so its files) in the block
/// group of its parent: a run's hundreds of worktrees, thousands of files each, all crowd the groups
/// near `.muster/worktrees/<run>/`, and every file creation searches further for a free inode and
/// block (measured: checkouts 2–3× slower, more so after many create/remove cycles there). A folder
/// marked "top of a directory hierarchy" (`chattr +T`, `FS_TOPDIR_FL`) has its subfolders spread
/// over the disk like top-level folders, so each worktree starts in a roomy group of its own.
/// Elsewhere (tmpfs, other filesystems) the mark is refused and nothing changes.
enum WorktreeFolders {
    /// Makes `folder` (and its parents) if needed and marks it, best effort.
    static func make(_ folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        markTop(folder.path)
    }

    // <linux/fs.h>: _IOR('f', 1, long), _IOW('f', 2, long); the kernel reads and writes an int.
    static let getFlags: UInt = 0x8008_6601
    static let setFlags: UInt = 0x4008_6602
    static let topDirectory: Int32 = 0x0002_0000

    /// Sets `FS_TOPDIR_FL` on `path`; false when the filesystem does not have it (nothing changed).
    @discardableResult
    static func markTop(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var flags: Int32 = 0
        guard ioctl(fd, getFlags, &flags) == 0 else { return false }
        if flags & topDirectory != 0 { return true }
        flags |= topDirectory
        return ioctl(fd, setFlags, &flags) == 0
    }

    /// Whether `path` carries the mark (for tests).
    static func isMarkedTop(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var flags: Int32 = 0
        return ioctl(fd, getFlags, &flags) == 0 && flags & topDirectory != 0
    }
}
