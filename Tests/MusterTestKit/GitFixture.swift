import Foundation
import MusterRuntime

/// A real git repository in a temp folder, with task worktrees laid out as muster lays them out.
/// The folder goes when the fixture does.
public final class GitFixture {
    public let root: URL
    public let run = "r1"
    public var base = ""

    public init(root: URL) { self.root = root }
    deinit { TemporaryFolder.remove(root) }

    /// `shared.txt`: 30 numbered lines every test edits in places; `other.txt`: untouched by default.
    public static func make() async throws -> GitFixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-itest-git-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let fixture = GitFixture(root: root)
        try await fixture.git(["init", "-q", "-b", "main"])
        try await fixture.git(["config", "user.name", "t"])
        try await fixture.git(["config", "user.email", "t@t"])
        try fixture.write("shared.txt", GitFixture.lines())
        try fixture.write("other.txt", "other\n")
        try fixture.write(".git/info/exclude", ".muster/\n")
        try await fixture.git(["add", "-A"])
        try await fixture.git(["commit", "-q", "-m", "base"])
        fixture.base = try await fixture.git(["rev-parse", "HEAD"])
        return fixture
    }

    public static func lines(replacing changes: [Int: String] = [:]) -> String {
        (1...30).map { changes[$0] ?? "line \($0)" }.joined(separator: "\n") + "\n"
    }

    @discardableResult
    public func git(_ arguments: [String], in directory: String? = nil) async throws -> String {
        try await Git(directory ?? root.path).output(arguments)
    }

    public func write(_ path: String, _ text: String, in directory: String? = nil) throws {
        let url = URL(fileURLWithPath: directory ?? root.path).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    public func worktreePath(_ task: String) -> String { root.appendingPathComponent(".muster/worktrees/\(run)/\(task)").path }
    public func branch(_ task: String) -> String { "muster/\(run)/\(task)" }

    /// `git worktree add` on branch muster/<run>/<task> from `from` (default: the base).
    @discardableResult
    public func worktree(_ task: String, from: String? = nil) async throws -> String {
        let path = worktreePath(task)
        try await git(["worktree", "add", "-q", "-b", branch(task), path, from ?? base])
        return path
    }

    /// Commits everything in the task's worktree; returns the new head.
    @discardableResult
    public func commit(_ task: String, message: String? = nil) async throws -> String {
        let path = worktreePath(task)
        try await git(["add", "-A"], in: path)
        try await git(["commit", "-q", "-m", message ?? "task \(task)"], in: path)
        return try await git(["rev-parse", "HEAD"], in: path)
    }

    public func predictorWorktree(_ task: String, base: String? = nil) -> ConflictPredictor.Worktree {
        .init(task: task, path: worktreePath(task), baseCommit: base ?? self.base)
    }

    public func refs() async throws -> String { try await git(["for-each-ref", "--format=%(refname) %(objectname)"]) }
}
