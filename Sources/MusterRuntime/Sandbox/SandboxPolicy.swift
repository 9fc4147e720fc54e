import MusterCore

/// What one task may write, and the `bwrap` argv that enforces it. Pure: paths in, argv out; the
/// folders it names are created beforehand (`SandboxLaunch`).
///
/// Mount order matters (later mounts cover earlier ones): the whole filesystem read-only, a fresh
/// /dev, /proc and private /tmp; the places under /tmp the task must still see (the repository, $HOME),
/// read-only; the task's tree (writable, or read-only under `owned`); folders that stay read-only
/// inside it (`protected`); the writable paths; last the paths that must never change (`sealed`,
/// e.g. the worktree's `.git` file, so it cannot be removed or replaced).
public struct SandboxPolicy: Sendable, Equatable {
    /// The folder the task works in: its worktree, or the repository itself for an in-place task.
    public var tree: String
    /// False under `owned`: only `writable` paths inside the tree may change.
    public var treeWritable: Bool
    /// Read-only inside the tree (an in-place task's `.git` and `.muster`); bound only if they exist.
    public var protected: [String]
    /// Absolute paths bound writable, in this order (a parent before what is inside it).
    public var writable: [String]
    /// Bound read-only over themselves after everything else.
    public var sealed: [String]
    /// Paths under /tmp that must stay visible (read-only) over the private /tmp.
    public var visible: [String]
    /// Where the task starts.
    public var directory: String

    public init(tree: String, treeWritable: Bool, protected: [String] = [], writable: [String], sealed: [String] = [],
                visible: [String] = [], directory: String) {
        self.tree = tree
        self.treeWritable = treeWritable
        self.protected = protected
        self.writable = writable
        self.sealed = sealed
        self.visible = visible
        self.directory = directory
    }

    /// The argv that runs `executable` with `arguments` (argv[0] first, as posix_spawn takes them) inside it.
    public func arguments(bwrap: String, executable: String, arguments: [String]) -> [String] {
        var argv = [bwrap, "--die-with-parent", "--unshare-pid", "--new-session",
                    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in Self.outermost(visible.filter(Self.isUnderTmp)) { argv += ["--ro-bind", path, path] }
        argv += [treeWritable ? "--bind" : "--ro-bind", tree, tree]
        for path in protected { argv += ["--ro-bind-try", path, path] }
        for path in Self.ordered(writable) { argv += ["--bind", path, path] }
        for path in sealed { argv += ["--ro-bind", path, path] }
        argv += ["--chdir", directory, "--", executable]
        argv += arguments.dropFirst()
        return argv
    }

    static func isUnderTmp(_ path: String) -> Bool { path == "/tmp" || path.hasPrefix("/tmp/") }

    /// True when `path` is `folder` or inside it.
    public static func isInside(_ path: String, _ folder: String) -> Bool {
        folder == "/" || path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
    }

    /// Distinct paths, none inside another.
    static func outermost(_ paths: [String]) -> [String] {
        let unique = Array(Set(paths)).sorted()
        return unique.filter { path in !unique.contains { $0 != path && isInside(path, $0) } }
    }

    /// Distinct paths, parents first, so a folder bound later inside a writable one stays a mount of its own.
    static func ordered(_ paths: [String]) -> [String] {
        Array(Set(paths)).sorted { a, b in
            let da = a.split(separator: "/").count, db = b.split(separator: "/").count
            return da == db ? a < b : da < db
        }
    }

    // MARK: owned

    /// The part of an `owns` glob before its first wildcard segment, and whether the whole glob is literal.
    /// `src/a/**` → (`src/a`, false); `docs/a.md` → (`docs/a.md`, true); `**/*.swift` → (``, false).
    public static func literalPrefix(of glob: String) -> (path: String, literal: Bool) {
        let segments = glob.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }
        var prefix: [String] = []
        for segment in segments {
            if segment == "**" || segment.contains(where: { "*?[{\\".contains($0) }) {
                return (prefix.joined(separator: "/"), false)
            }
            prefix.append(segment)
        }
        return (prefix.joined(separator: "/"), true)
    }

    // MARK: checking extra writable paths

    /// Whether an extra writable path (a spec's or a profile's `writable:`, already absolute) may be
    /// bound: never the repository's shared `.git`, the checkout itself or anything holding it, nor
    /// anywhere in the checkout outside the task's own tree. Returns why not, or nil.
    public static func refusal(_ path: String, repository: String, tree: String) -> String? {
        let gitDir = repository + "/.git"
        if isInside(repository, path) { return "it holds the repository" }
        if isInside(path, gitDir) { return "it is inside the repository's .git" }
        if isInside(path, tree) { return isInside(path, tree + "/.git") ? "it is the task's .git" : nil }
        if isInside(path, repository) { return "it is in the checkout, outside the task's own tree" }
        return nil
    }
}
