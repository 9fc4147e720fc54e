import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Finished worktrees reused for the next tasks: no `git worktree add`, nothing of the task before,
/// setup skipped while its commands and inputs are unchanged.
@Suite struct WorktreePoolTests {
    struct Setup {
        let f: GitFixture
        let counter: String
        let workspace: Workspace
    }

    func setup() async throws -> Setup {
        let f = try await GitFixture.make()
        try f.write(".gitignore", "cache/\n")
        try f.write("deps.lock", "v1\n")
        try await f.git(["add", "-A"])
        try await f.git(["commit", "-q", "-m", "lock file"])
        f.base = try await f.git(["rev-parse", "HEAD"])
        let counter = f.root.deletingLastPathComponent().appendingPathComponent("setup-count-\(UUID().uuidString)").path
        return Setup(f: f, counter: counter, workspace: Workspace(root: f.root, isGitRepository: true))
    }

    func manager(_ s: Setup, setup: [String]? = nil, inputs: [String]? = nil, pool: Int = 4) async throws -> WorktreeManager {
        let commands = setup ?? ["echo ran >> '\(s.counter)'; mkdir -p deps && echo built > deps/lib.txt"]
        return try await WorktreeManager.make(workspace: s.workspace, ready: WorktreeSpec(setup: commands, inputs: inputs),
                                              settings: WorktreeSettings(parallelism: 2, pool: pool))
    }

    func prepare(_ m: WorktreeManager, _ f: GitFixture, _ id: String, base: String? = nil) async throws -> TaskGitState {
        try WorktreeCreationTests.state(try await m.prepare(run: f.run, base: base ?? f.base, task: try WorktreeCreationTests.task(id), needed: []))
    }

    func setupRuns(_ s: Setup) -> Int {
        ((try? String(contentsOfFile: s.counter, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func aFinishedWorktreeIsReusedAndNothingOfItsTaskLeaks() async throws {
        let s = try await setup()
        let f = s.f
        let m = try await manager(s)
        let first = try await prepare(m, f, "a")
        let a = try #require(first.worktree)
        // What task a leaves: a changed tracked file, an untracked one, an ignored one, a nested repository.
        try f.write("shared.txt", "changed by a\n", in: a)
        try f.write("left.txt", "leak\n", in: a)
        try f.write("cache/ignored.txt", "leak\n", in: a)
        try await f.git(["init", "-q", "nested"], in: a)
        #expect(await m.release(first))
        #expect(!FileManager.default.fileExists(atPath: a))
        #expect(WorktreePool.entries(in: WorktreePool.folder(of: s.workspace)).count == 1)

        let second = try await prepare(m, f, "b")
        let b = try #require(second.worktree)
        #expect(await m.worktreesAdded == 1, "b reused a's worktree")
        #expect(WorktreeCreationTests.adminFolders(f).count == 1)
        #expect((try? String(contentsOfFile: b + "/shared.txt", encoding: .utf8)) == GitFixture.lines())
        for leak in ["left.txt", "cache/ignored.txt", "nested"] { #expect(!FileManager.default.fileExists(atPath: b + "/" + leak), "\(leak)") }
        #expect(try await f.git(["symbolic-ref", "HEAD"], in: b) == "refs/heads/\(f.branch("b"))")
        #expect(try await f.git(["rev-parse", f.branch("b")]) == f.base)
        #expect(try await f.git(["status", "--porcelain"], in: b) == "?? deps/")
        // Setup ran once: b came from the pool with the same commands and inputs.
        #expect(setupRuns(s) == 1)
        #expect(FileManager.default.fileExists(atPath: b + "/deps/lib.txt"))
        let log = try String(contentsOf: s.workspace.taskDirectory(run: f.run, task: "b").appendingPathComponent("setup.log"), encoding: .utf8)
        #expect(log.hasPrefix("setup skipped"), "\(log)")
        // a's branch is checked out nowhere now: it can be deleted.
        try await f.git(["branch", "-D", f.branch("a")])
    }

    @Test func setupRerunsWhenItsInputsOrCommandsChange() async throws {
        let s = try await setup()
        let f = s.f
        let m = try await manager(s, inputs: ["deps.lock"])
        #expect(await m.release(try await prepare(m, f, "a")))
        #expect(await m.release(try await prepare(m, f, "b")))
        #expect(setupRuns(s) == 1)
        // Another commit that leaves deps.lock alone: still skipped (inputs name what matters).
        try f.write("other.txt", "moved on\n")
        try await f.git(["commit", "-q", "-am", "other"])
        let moved = try await f.git(["rev-parse", "HEAD"])
        #expect(await m.release(try await prepare(m, f, "c", base: moved)))
        #expect(setupRuns(s) == 1)
        // deps.lock changes: setup runs again, on a worktree without the old results.
        try f.write("deps.lock", "v2\n")
        try await f.git(["commit", "-q", "-am", "deps"])
        let changed = try await f.git(["rev-parse", "HEAD"])
        let d = try await prepare(m, f, "d", base: changed)
        #expect(setupRuns(s) == 2)
        #expect(await m.release(d))
        // Other commands: setup runs again.
        let other = try await manager(s, setup: ["echo other >> '\(s.counter)'"], inputs: ["deps.lock"])
        let e = try await prepare(other, f, "e", base: changed)
        #expect(setupRuns(s) == 3)
        #expect(!FileManager.default.fileExists(atPath: try #require(e.worktree) + "/deps"), "the other setup's results are gone")
        #expect(await m.worktreesAdded + other.worktreesAdded == 1)
    }

    @Test func aDamagedPooledWorktreeIsNeverReused() async throws {
        let s = try await setup()
        let f = s.f
        let m = try await manager(s)
        let sibling = try await prepare(m, f, "sibling")
        #expect(await m.release(try await prepare(m, f, "a")))
        let entry = try #require(WorktreePool.entries(in: WorktreePool.folder(of: s.workspace)).first)
        let pooled = WorktreePool.folder(of: s.workspace).appendingPathComponent(entry.name).path
        // Its `.git` now names the sibling's admin folder.
        try "gitdir: \(try #require(sibling.gitDir))\n".write(toFile: pooled + "/.git", atomically: true, encoding: .utf8)
        let b = try await prepare(m, f, "b")
        #expect(await m.worktreesAdded == 3, "b got a new worktree")
        #expect(!FileManager.default.fileExists(atPath: pooled))
        #expect(WorktreePool.entries(in: WorktreePool.folder(of: s.workspace)).isEmpty)
        #expect(try await f.git(["symbolic-ref", "HEAD"], in: try #require(b.worktree)) == "refs/heads/\(f.branch("b"))")
        // The sibling is untouched.
        #expect(try await f.git(["symbolic-ref", "HEAD"], in: try #require(sibling.worktree)) == "refs/heads/\(f.branch("sibling"))")
    }

    @Test func thePoolKeepsNoMoreThanItsBound() async throws {
        let s = try await setup()
        let f = s.f
        let m = try await manager(s, pool: 1)
        let a = try await prepare(m, f, "a"), b = try await prepare(m, f, "b")
        #expect(await m.release(a))
        #expect(await !m.release(b), "the pool holds one")
        #expect(FileManager.default.fileExists(atPath: try #require(b.worktree)))
        let report = try await WorktreePoolCleaner.empty(workspace: s.workspace)
        #expect(report.removed.count == 1)
        // b's admin folder is the one left (its name is b's, with muster's random suffix).
        #expect(WorktreeCreationTests.adminFolders(f) == [(try #require(b.gitDir) as NSString).lastPathComponent])
    }
}
